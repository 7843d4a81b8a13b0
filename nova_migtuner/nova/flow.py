# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""The per-migration taskflow flow.

    measure -> plan -> timing -> migrate -> report -> notify

The tasks hand their results to each other through taskflow's storage
(``provides``/``requires``): ``measurement``, ``plan`` and the operator's
one-off ``operator_strategy``; ``timing`` (a ``Timing``: start, refused
or aborted, with the plan and measurement it was decided on and the time
waited); ``outcome``, ``wall_seconds`` and ``final_timing`` (the ``Timing``
the migrate task acted on: the timing task's, with what host spacing made
of it, a wait or a refusal, so that ``.end`` and the instance action event
count that wait and say why); ``destination_stats``. The
``MigrationSession`` is not a place to pass them: it holds what nova's
monitor hooks need, and the only things the flow hands it are the plan to
apply (``session.arm``, just before nova starts) and the end of nova's
call (``session.finish``). The session and the nova operations are given
to the tasks themselves: they hold locks, nova objects and the driver,
which are no results of a task.

Every task but ``migrate`` catches its own errors: an error in measuring,
planning or waiting degrades the migration to nova's stock behaviour (the
log and a ``.error`` notification say why), and an error in reporting is
logged after a migration that already finished. Only ``migrate`` fails the
flow: with nova's own exception, or with the error of a rollback it
attempted. Its ``revert`` then leaves the guest running on the source (it
resumes a guest the plan paused) and notifies ``.error`` and ``.end``
(outcome ``error``), so that every migration that started ends with a
``.end``; the engine re-raises the exception unchanged so nova handles it
exactly as it always does.

The migration is handed to nova at most once. If the flow breaks before
``migrate`` began and nobody asked to abort, the migration runs as stock
nova would. Once ``migrate`` began (nova was called, or the migration was
rolled back because it was aborted or refused) or an abort was requested,
an error is re-raised and never turned into a second start.
"""

import dataclasses
import typing

from oslo_log import log as logging
from taskflow import engines
from taskflow.patterns import linear_flow
from taskflow import task
from taskflow.types import failure as failure_mod

from nova_migtuner.nova import session as session_mod
from nova_migtuner.planning import notification_schema as notif
from nova_migtuner.planning import payloads
from nova_migtuner.planning import plan as plan_mod

LOG = logging.getLogger(__name__)

GO = 'start'
ABORTED = 'aborted'
REFUSED = 'refused'
# While waiting for a quieter moment, look again this often (s).
QUIET_RECHECK_S = 10.0


@dataclasses.dataclass(frozen=True)
class Timing:
    """What the timing task decided, and on what.

    :ivar action: ``GO``, ``REFUSED`` or ``ABORTED``.
    :ivar plan: the plan to apply (None: stock nova).
    :ivar measurement: the measurement it was planned on (or None).
    :ivar waited_s: seconds waited before the decision.
    :ivar reason: why it starts (or not) now.
    """
    action: str
    plan: typing.Any = None
    measurement: typing.Any = None
    waited_s: float = 0.0
    reason: typing.Optional[str] = None


@dataclasses.dataclass(frozen=True)
class Ending:
    """How the migration ended, for nova's instance action event."""
    outcome: str
    reason: typing.Optional[str] = None


class _Task(task.Task):
    def __init__(self, session, ops, **kwargs):
        super().__init__(name='migtuner-%s' % self.step, **kwargs)
        self.session = session
        self.ops = ops


class MeasureTask(_Task):
    step = 'measure'
    default_provides = 'measurement'

    def execute(self):
        """The measurement; None when disabled or measuring failed."""
        if not self.ops.enabled:
            return None
        try:
            return self.ops.measure(self.session)
        except Exception as e:
            self.session.degrade('measure', e)
            return None


class PlanTask(_Task):
    step = 'plan'
    default_provides = ('plan', 'operator_strategy')

    def execute(self, measurement):
        """``(plan, operator_strategy)``; no plan when untuned."""
        if measurement is None:
            return None, None
        s = self.session
        try:
            operator_strategy = self.ops.take_operator_strategy(s)
            plan = self.ops.plan(s, measurement, operator_strategy)
        except Exception as e:
            s.degrade('plan', e)
            return None, None
        LOG.info('nova_migtuner plan: %(plan)s',
                 {'plan': '; '.join(plan.explain())}, instance=s.instance)
        return plan, operator_strategy


class TimingTask(_Task):
    step = 'timing'
    default_provides = 'timing'

    def execute(self, measurement, plan, operator_strategy):
        s = self.session
        if not s.enter(session_mod.PHASE_WAITING):
            return Timing(ABORTED, plan, measurement)
        if plan is None or s.fallback_reason is not None:
            return Timing(GO, plan, measurement)
        waiting = _Waiting(plan, measurement)
        try:
            return self._decide(waiting, operator_strategy)
        except Exception as e:
            s.degrade('timing', e)
            return waiting.decided(ABORTED if s.abort_requested else GO)

    def _decide(self, waiting, operator_strategy):
        s = self.session
        limit = float(self.ops.max_deferral_s)
        notified = set()
        start = s.clock()
        while True:
            decision = waiting.plan.timing
            waiting.reason = decision.reason
            if decision.action == plan_mod.TIMING_REFUSE:
                LOG.warning('nova_migtuner refuses to start this migration: '
                            '%(reason)s', {'reason': decision.reason},
                            instance=s.instance)
                return waiting.decided(REFUSED)
            if decision.action == plan_mod.TIMING_START:
                return waiting.decided(GO)
            left = limit - waiting.waited_s
            if left <= 0 or s.start_requested:
                LOG.info('nova_migtuner starts after waiting %(waited).0f s '
                         '(%(why)s)', {'waited': waiting.waited_s,
                                       'why': 'forced' if s.start_requested
                                       else 'max_deferral_s reached'},
                         instance=s.instance)
                return waiting.decided(GO)
            if decision.reason not in notified:
                notified.add(decision.reason)
                LOG.info('nova_migtuner defers the migration: %(reason)s',
                         {'reason': decision.reason}, instance=s.instance)
                s.notify(notif.DEFERRED,
                         **dict(s.plan_fields(waiting.plan),
                                wait_for=decision.wait_for,
                                max_wait_s=round(min(
                                    decision.max_wait_seconds, left), 3),
                                reason=decision.reason))
            if decision.wait_for == plan_mod.WAIT_FOR_SPACING:
                pause = min(decision.max_wait_seconds, left)
            elif decision.wait_for == plan_mod.WAIT_FOR_QUIET_WINDOW:
                pause = 0.0   # measuring takes a dirty-rate sample's time
            else:
                pause = min(QUIET_RECHECK_S, left)
            s.wake.wait(max(0.0, pause))
            s.wake.clear()
            waiting.waited_s = s.clock() - start
            if s.abort_requested:
                LOG.info('nova_migtuner: migration aborted while waiting',
                         instance=s.instance)
                return waiting.decided(ABORTED)
            if s.start_requested:
                continue
            waiting.measurement = self.ops.measure(s, waiting.measurement)
            waiting.plan = self.ops.plan(s, waiting.measurement,
                                         operator_strategy)


class _Waiting:
    """The timing task's own state while it waits (not shared)."""

    def __init__(self, plan, measurement):
        self.plan = plan
        self.measurement = measurement
        self.waited_s = 0.0
        self.reason = None

    def decided(self, action):
        return Timing(action, self.plan, self.measurement, self.waited_s,
                      self.reason)


class MigrateTask(_Task):
    """Hands the migration to nova, or rolls back an aborted or refused one.

    ``entered`` (the point after which the flow never starts nova itself),
    ``finished`` and ``nova_error`` are this task's own record for
    ``run``, which decides what a failure of the flow means.
    """

    step = 'migrate'
    default_provides = ('outcome', 'wall_seconds', 'final_timing')

    def __init__(self, session, ops, **kwargs):
        super().__init__(session, ops, **kwargs)
        self.entered = False
        self.finished = False
        self.nova_error = None
        # The timing acted on (host spacing's wait or refusal), for revert.
        self.final_timing = None

    def execute(self, timing):
        self.entered = True
        s = self.session
        if timing.action == GO:
            # host_spacing_s: checked and reserved in one step, now.
            timing = self.ops.reserve_start(s, timing)
        self.final_timing = timing
        action = timing.action
        if action == GO and not s.enter(session_mod.PHASE_MIGRATING):
            action = ABORTED
        if action == ABORTED:
            self.ops.recover(s, 'cancelled')
            self.finished = True
            return notif.OUTCOME_CANCELLED, None, timing
        if action == REFUSED:
            self.ops.recover(s, 'failed')
            self.finished = True
            return notif.OUTCOME_REFUSED, None, timing
        s.arm(timing.plan)
        s.notify(notif.START, **payloads.start_fields(
            s.plan if s.tuned else None, s.flag_names(s.planned_flags()),
            timing.measurement, timing.waited_s, s.fallback_reason))
        try:
            self.ops.run_nova(s)
        except Exception as e:
            self.nova_error = e
            raise
        finally:
            s.finish()
        wall = _wall_seconds(s)
        outcome = s.job_outcome()
        if outcome != notif.OUTCOME_COMPLETED:
            s.resume_if_paused()
        self.finished = True
        return outcome, wall, timing

    def revert(self, timing, result, flow_failures, **kwargs):
        if not isinstance(result, failure_mod.Failure):
            # A later task failed: the migration's result stands.
            return
        s = self.session
        try:
            s.resume_if_paused()
        except Exception as e:
            LOG.warning('nova_migtuner could not check the source guest: '
                        '%(error)s', {'error': e}, instance=s.instance)
        error = self.nova_error or result.exception
        s.notify(notif.ERROR, phase='migrate',
                 exception_class=type(error).__name__ if error else 'None',
                 error=str(error), fallback=False,
                 outcome=notif.OUTCOME_ERROR)
        notify_end(s, self.ops, notif.OUTCOME_ERROR,
                   self.final_timing or timing,
                   wall_seconds=_wall_seconds(s), error=error)


class ReportTask(_Task):
    step = 'report'
    default_provides = 'destination_stats'

    def execute(self, outcome):
        """The destination's numbers of a completed migration, or None."""
        if outcome != notif.OUTCOME_COMPLETED:
            return None
        s = self.session
        try:
            return self.ops.destination_stats(s)
        except Exception as e:
            LOG.warning('nova_migtuner could not read the destination\'s '
                        'statistics: %(error)s', {'error': e},
                        instance=s.instance)
            return None


class NotifyTask(_Task):
    step = 'notify'

    def execute(self, final_timing, outcome, wall_seconds,
                destination_stats):
        notify_end(self.session, self.ops, outcome, final_timing,
                   destination_stats=destination_stats,
                   wall_seconds=wall_seconds)


def _wall_seconds(s):
    if s.started_at is None:
        return None
    return s.clock() - s.started_at


def notify_end(s, ops, outcome, timing, destination_stats=None,
               wall_seconds=None, error=None):
    """Send ``.end`` (if this migration is reported); never raises."""
    if not s.tuned and not ops.report_untuned:
        return None
    try:
        fields = payloads.end_fields(
            plan=s.plan if s.tuned else None,
            flag_names=s.flag_names(),
            outcome=outcome, completed_stats=destination_stats,
            source_completed_stats=s.job_completed.stats,
            samples=s.samples, applied=s.applied,
            final_downtime_ms=s.downtime_ms if s.tuned else None,
            wall_seconds=wall_seconds,
            waited_s=timing.waited_s if timing is not None else 0.0,
            fallback_reason=(s.fallback_reason or
                             _refusal_reason(outcome, timing)),
            post_copy=s.post_copy,
            error=str(error) if error is not None else None,
            guest_left_paused=s.guest_left_paused,
            post_copy_recovery=s.post_copy_recovery,
            post_copy_recovery_attempts=s.post_copy_recovery_attempts,
            longest_poll_gap_s=s.longest_poll_gap_s)
    except Exception as e:
        LOG.warning('nova_migtuner could not build its report: '
                    '%(error)s', {'error': e}, instance=s.instance,
                    exc_info=True)
        return None
    payload = s.notify(notif.END, **fields)
    if payload:
        LOG.info('nova_migtuner: migration %(outcome)s, downtime '
                 '%(down)s ms, %(bytes)s bytes, %(secs)s s, '
                 '%(esc)d escalation(s)',
                 {'outcome': outcome, 'down': payload['downtime_ms'],
                  'bytes': payload['data_bytes_transferred'],
                  'secs': payload['total_time_s'],
                  'esc': payload['escalations_taken']},
                 instance=s.instance)
        try:
            ops.note_end(s, payload)
        except Exception as e:
            LOG.warning('nova_migtuner could not note the end: %(error)s',
                        {'error': e}, instance=s.instance)
    return payload


def build_flow(session, ops, migrate=None):
    flow = linear_flow.Flow('migtuner-live-migration')
    flow.add(MeasureTask(session, ops), PlanTask(session, ops),
             TimingTask(session, ops),
             migrate or MigrateTask(session, ops),
             ReportTask(session, ops), NotifyTask(session, ops))
    return flow


def _refusal_reason(outcome, timing):
    """Why a refused migration was refused (the plan's timing or host
    spacing), else None.
    """
    if outcome == notif.OUTCOME_REFUSED and timing is not None:
        return timing.reason
    return None


def _ending(session, outcome, timing, error):
    if session.fallback_reason:
        reason = session.fallback_reason
    elif error is not None:
        reason = str(error)
    else:
        reason = _refusal_reason(outcome, timing)
    return Ending(outcome, reason)


def run(session, ops, on_end=None):
    """Run the flow; nova's exception (or a rollback's) propagates.

    If the flow itself breaks before the migration was handed to nova or
    rolled back, and no abort was requested, the migration runs as stock
    nova would; if it breaks after nova finished, the error is logged and
    the migration's result stands.

    :param on_end: called with the ``Ending`` once the migration ended,
        whether or not it raised.
    """
    migrate = MigrateTask(session, ops)
    engine = engines.load(build_flow(session, ops, migrate),
                          engine='serial')
    ending = Ending(notif.OUTCOME_ERROR)
    try:
        try:
            engine.run()
        except Exception as e:
            ending = _ending(session, notif.OUTCOME_ERROR, None,
                             migrate.nova_error or e)
            _after_failure(session, ops, migrate, e)
            try:
                outcome = engine.storage.fetch('outcome')
            except Exception:   # the flow never got there: stock nova ran
                outcome = session.job_outcome()
            ending = _ending(session, outcome, migrate.final_timing, None)
        else:
            ending = _ending(session, engine.storage.fetch('outcome'),
                             engine.storage.fetch('final_timing'), None)
    finally:
        if on_end is not None:
            try:
                on_end(ending)
            except Exception as e:
                LOG.warning('nova_migtuner could not record the end: '
                            '%(error)s', {'error': e},
                            instance=session.instance)


def _after_failure(session, ops, migrate, error):
    """Re-raise, log, or (only before anything started) run stock nova."""
    nova_error = migrate.nova_error
    if nova_error is not None:
        if error is nova_error:
            raise error
        LOG.warning('nova_migtuner: errors while reverting: %(error)s',
                    {'error': error}, instance=session.instance)
        raise nova_error
    if migrate.finished:
        LOG.error('nova_migtuner: internal error after the migration '
                  'finished, its result stands: %(error)s',
                  {'error': error}, instance=session.instance,
                  exc_info=True)
        return
    if migrate.entered or session.abort_requested:
        # A rollback was attempted (abort or refusal), nova may hold the
        # migration, or a user asked to abort: never start it now.
        LOG.error('nova_migtuner: the migration is not started after '
                  'this error: %(error)s', {'error': error},
                  instance=session.instance, exc_info=True)
        raise error
    session.degrade('flow', error)
    session.enter(session_mod.PHASE_MIGRATING)
    try:
        ops.run_nova(session)
    finally:
        session.finish()
    notify_end(session, ops, session.job_outcome(), None,
               wall_seconds=_wall_seconds(session))
