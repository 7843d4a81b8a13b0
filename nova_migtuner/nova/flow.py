"""The per-migration taskflow flow.

    measure -> plan -> timing -> migrate -> report -> notify

Every task but ``migrate`` catches its own errors: an error in measuring,
planning or waiting degrades the migration to nova's stock behaviour (the
log and a ``.error`` notification say why), and an error in reporting is
logged after a migration that already finished. Only ``migrate`` fails the
flow, and only with nova's own exception; its ``revert`` then leaves the
guest running on the source (it resumes a guest the plan paused) and
notifies ``.error``, and the engine re-raises nova's exception unchanged so
nova handles it exactly as it always does.

The tasks hold the session and the nova operations themselves: taskflow's
in-memory storage deep-copies what passes through it, and neither a
session (locks, nova objects) nor the driver may be copied.
"""

from oslo_log import log as logging
from taskflow import engines
from taskflow.patterns import linear_flow
from taskflow import task

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


class _Task(task.Task):
    def __init__(self, session, ops, **kwargs):
        super().__init__(name='migtuner-%s' % self.step, **kwargs)
        self.session = session
        self.ops = ops


class MeasureTask(_Task):
    step = 'measure'
    default_provides = 'measured'

    def execute(self):
        if not self.ops.enabled:
            return False
        try:
            self.session.measurement = self.ops.measure(self.session)
        except Exception as e:
            self.session.degrade('measure', e)
            return False
        return True


class PlanTask(_Task):
    step = 'plan'
    default_provides = 'planned'

    def execute(self, measured):
        if not measured:
            return False
        try:
            self.session.plan = self.ops.plan(self.session)
        except Exception as e:
            self.session.degrade('plan', e)
            return False
        LOG.info('nova_migtuner plan: %(plan)s',
                 {'plan': '; '.join(self.session.plan.explain())},
                 instance=self.session.instance)
        return True


class TimingTask(_Task):
    step = 'timing'
    default_provides = 'timing'

    def execute(self, planned):
        s = self.session
        if not s.enter(session_mod.PHASE_WAITING):
            return ABORTED
        if not planned or not s.tuned:
            return GO
        try:
            return self._decide()
        except Exception as e:
            s.degrade('timing', e)
            return ABORTED if s.abort_requested else GO

    def _decide(self):
        s = self.session
        limit = float(self.ops.max_deferral_s)
        notified = set()
        start = s.clock()
        while True:
            decision = s.plan.timing
            s.timing_reason = decision.reason
            if decision.action == plan_mod.TIMING_REFUSE:
                LOG.warning('nova_migtuner refuses to start this migration: '
                            '%(reason)s', {'reason': decision.reason},
                            instance=s.instance)
                return REFUSED
            if decision.action == plan_mod.TIMING_START:
                return GO
            left = limit - s.waited_s
            if left <= 0 or s.start_requested:
                LOG.info('nova_migtuner starts after waiting %(waited).0f s '
                         '(%(why)s)', {'waited': s.waited_s,
                                       'why': 'forced' if s.start_requested
                                       else 'max_deferral_s reached'},
                         instance=s.instance)
                return GO
            if decision.reason not in notified:
                notified.add(decision.reason)
                LOG.info('nova_migtuner defers the migration: %(reason)s',
                         {'reason': decision.reason}, instance=s.instance)
                s.notify(notif.DEFERRED, wait_for=decision.wait_for,
                         max_wait_s=round(min(decision.max_wait_seconds,
                                              left), 3),
                         reason=decision.reason)
            if decision.wait_for == plan_mod.WAIT_FOR_SPACING:
                pause = min(decision.max_wait_seconds, left)
            elif decision.wait_for == plan_mod.WAIT_FOR_QUIET_WINDOW:
                pause = 0.0   # measuring takes a dirty-rate sample's time
            else:
                pause = min(QUIET_RECHECK_S, left)
            s.wake.wait(max(0.0, pause))
            s.wake.clear()
            s.waited_s = s.clock() - start
            if s.abort_requested:
                LOG.info('nova_migtuner: migration aborted while waiting',
                         instance=s.instance)
                return ABORTED
            if s.start_requested:
                continue
            s.measurement = self.ops.measure(s)
            s.plan = self.ops.plan(s)


class MigrateTask(_Task):
    step = 'migrate'
    default_provides = 'outcome'

    def execute(self, timing):
        s = self.session
        if timing == GO and not s.enter(session_mod.PHASE_MIGRATING):
            timing = ABORTED
        if timing == ABORTED:
            s.outcome = notif.OUTCOME_CANCELLED
            self.ops.recover(s, 'cancelled')
            return s.outcome
        if timing == REFUSED:
            s.outcome = notif.OUTCOME_REFUSED
            self.ops.recover(s, 'failed')
            return s.outcome
        self.ops.note_start(s)
        s.notify(notif.START, **payloads.start_fields(
            s.plan if s.tuned else None, s.flag_names(s.planned_flags()),
            s.measurement, s.waited_s, s.fallback_reason))
        s.nova_called = True
        try:
            self.ops.run_nova(s)
        except Exception as e:
            s.nova_error = e
            raise
        finally:
            s.ended_at = s.clock()
            s.phase = session_mod.PHASE_DONE
        s.outcome = s.job_outcome()
        if s.outcome != notif.OUTCOME_COMPLETED:
            s.resume_if_paused()
        return s.outcome

    def revert(self, timing, result, flow_failures, **kwargs):
        s = self.session
        s.outcome = notif.OUTCOME_ERROR
        try:
            s.resume_if_paused()
        except Exception as e:
            LOG.warning('nova_migtuner could not check the source guest: '
                        '%(error)s', {'error': e}, instance=s.instance)
        error = s.nova_error
        s.notify(notif.ERROR, phase='migrate',
                 exception_class=type(error).__name__ if error else 'None',
                 error=str(error), fallback=False, outcome=s.outcome)


class ReportTask(_Task):
    step = 'report'
    default_provides = 'reported'

    def execute(self, outcome):
        s = self.session
        if outcome not in (notif.OUTCOME_COMPLETED, notif.OUTCOME_ABORTED,
                           notif.OUTCOME_CANCELLED, notif.OUTCOME_FAILED):
            return False
        if outcome == notif.OUTCOME_COMPLETED:
            try:
                s.destination_stats = self.ops.destination_stats(s)
            except Exception as e:
                LOG.warning('nova_migtuner could not read the destination\'s '
                            'statistics: %(error)s', {'error': e},
                            instance=s.instance)
        return True


class NotifyTask(_Task):
    step = 'notify'

    def execute(self, outcome):
        s = self.session
        if not s.tuned and not self.ops.report_untuned:
            return
        try:
            fields = self.end_fields(outcome)
        except Exception as e:
            LOG.warning('nova_migtuner could not build its report: '
                        '%(error)s', {'error': e}, instance=s.instance,
                        exc_info=True)
            return
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
            self.ops.note_end(s, payload)

    def end_fields(self, outcome):
        s = self.session
        wall = (s.ended_at - s.started_at
                if s.started_at is not None and s.ended_at is not None
                else None)
        return payloads.end_fields(
            plan=s.plan if s.tuned else None,
            flag_names=s.flag_names(),
            outcome=outcome, completed_stats=s.destination_stats,
            samples=s.samples, applied=s.applied,
            final_downtime_ms=s.downtime_ms if s.tuned else None,
            wall_seconds=wall, waited_s=s.waited_s,
            fallback_reason=s.fallback_reason, post_copy=s.post_copy,
            error=str(s.nova_error) if s.nova_error else None)


def build_flow(session, ops):
    flow = linear_flow.Flow('migtuner-live-migration')
    flow.add(MeasureTask(session, ops), PlanTask(session, ops),
             TimingTask(session, ops), MigrateTask(session, ops),
             ReportTask(session, ops), NotifyTask(session, ops))
    return flow


def run(session, ops):
    """Run the flow; nova's exception (and only nova's) propagates.

    If the flow itself breaks before nova's migration was started, the
    migration runs as stock nova would; if it breaks after nova finished,
    the error is logged and the migration's result stands.
    """
    try:
        engines.run(build_flow(session, ops), engine='serial')
    except Exception as e:
        if session.nova_error is not None:
            if e is session.nova_error:
                raise
            LOG.warning('nova_migtuner: errors while reverting: '
                        '%(error)s', {'error': e},
                        instance=session.instance)
            raise session.nova_error
        if not session.nova_called:
            session.degrade('flow', e)
            session.phase = session_mod.PHASE_MIGRATING
            session.nova_called = True
            ops.run_nova(session)
            return
        LOG.error('nova_migtuner: internal error after the migration '
                  'finished, its result stands: %(error)s', {'error': e},
                  instance=session.instance, exc_info=True)
