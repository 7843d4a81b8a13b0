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

"""Per-migration state and the libvirt hooks that apply a plan inside nova.

nova's ``_live_migration`` hands the same ``Guest`` to the thread that
calls ``migrateToURI3`` and to the monitor that polls ``jobStats()`` every
0.5 s. The driver wraps that guest's domain in a ``TunedDomain``; three of
its calls are where the plan meets nova, and nothing else changes:

* ``migrateToURI3``: the plan's tuning flags and parameters replace the
  host-wide ones for this call only (``self._live_migration_flags`` is
  never touched);
* ``jobStats()``: every poll of nova's monitor is also a sample for the
  plan's ``PlanApplier`` (``engine.applier``, the same executor the
  standalone poll loop uses); its actions are applied right there through
  nova's ``Guest`` (``nova.actuator``: raise the downtime, switch to
  post-copy through nova's own helper so the Migration record says
  'running (post-copy)', pause, abort). nova then sees the job as it
  always does: COMPLETED calls ``post_method``, CANCELLED/FAILED call
  ``recover_method`` (so an abort leaves the guest running on the source);
* ``migrateSetMaxDowntime``: nova's time-based downtime steps are ignored
  while a plan owns the downtime.

nova's abort/force-complete queue, progress saving and completion timeout
(``[libvirt] live_migration_completion_timeout``, an outer bound by default
much longer than the plan's deadline) keep working untouched.

Any exception inside a hook degrades the session to nova's stock
behaviour: the hook passes nova's own flags and downtime steps through
from then on, and the reason is logged and notified.
"""

import collections
import threading
import time

from oslo_log import log as logging

from nova_migtuner.engine import actuator as actuator_mod
from nova_migtuner.engine import applier as applier_mod
from nova_migtuner.engine import flags as flags_mod
from nova_migtuner.engine import stats as stats_mod
from nova_migtuner.nova import actuator as nova_actuator
from nova_migtuner.nova import job_completed
from nova_migtuner.nova import notification_objects
from nova_migtuner.nova import notifications
from nova_migtuner.planning import notification_schema as notif
from nova_migtuner.planning import plan as plan_mod

LOG = logging.getLogger(__name__)

PHASE_PREPARING = 'preparing'
PHASE_WAITING = 'waiting'
PHASE_MIGRATING = 'migrating'
PHASE_DONE = 'done'

# Samples with progress data kept for the report (0.5 s polls: 2 min).
MAX_SAMPLES = 240
# nova's monitor sees a failed post-copy as still running while the
# migration call's hook resumes it; if the call has not come back to do so
# within the recovery bound plus this (s), nova sees the failure.
POST_COPY_CALL_GRACE_S = 60.0


# nova's arguments of ``_live_migration``, passed on unchanged.
NovaCall = collections.namedtuple('NovaCall', (
    'context', 'instance', 'dest', 'post_method', 'recover_method',
    'block_migration', 'migrate_data'))


class PostCopyNotRecovered(RuntimeError):
    """A failed post-copy was not resumed within the bound.

    Raised to nova's monitor instead of the job's state: nova's rollback of
    a failed job would destroy the destination's domain, which holds the
    guest's running state, and a job libvirt keeps open for a resume would
    keep the monitor polling for ever. Raised, nova sets the migration to
    ``error`` and the instance to ERROR without rolling back.
    """


class MigrationSession:
    """What the driver's hooks share about one migration.

    :param call: the ``NovaCall`` of nova's ``_live_migration``.
    :param base_flags: nova's flags for this migration.
    """

    def __init__(self, call, source_host, libvirt_module, base_flags=None,
                 clock=time.monotonic):
        self.call = call
        self.instance_uuid = call.instance.uuid
        self.source_host = source_host
        self.migration = getattr(call.migrate_data, 'migration', None)
        self.libvirt = libvirt_module
        self.base_flags = base_flags
        self.clock = clock
        # The source's own final statistics of the job (after post-copy
        # the only complete ones); the driver starts and stops it.
        self.job_completed = job_completed.JobCompletedWatch(libvirt_module)
        # Whether the flow handed the migration to nova (arm was called).
        self.armed = False
        # The driver's abort/force-complete while the flow waits.
        self.phase = PHASE_PREPARING
        self._lock = threading.Lock()
        self.wake = threading.Event()
        self.abort_requested = False
        self.start_requested = False
        # The plan the hooks apply (``arm``), why they stopped (``degrade``).
        self.plan = None
        self.fallback_reason = None
        # What the hooks saw and did.
        self.applier = None
        self.flags_used = None          # what migrateToURI3 received
        self.params_used = None
        self.started_at = None
        self.samples = collections.deque(maxlen=MAX_SAMPLES)
        self.last_type = None
        self._nova_steps_ignored = False
        # A failed post-copy being resumed by the migration call's hook;
        # when it was first seen; whether the hook gave up.
        self.recovering_post_copy = False
        self._post_copy_failed_at = None
        self._post_copy_given_up = False
        # nova's monitor polls the job every 0.5 s; a longer gap is time in
        # which no escalation, watchdog or abort could act.
        self._last_poll_at = None
        self.longest_poll_gap_s = None

    @property
    def context(self):
        return self.call.context

    @property
    def instance(self):
        return self.call.instance

    @property
    def dest(self):
        return self.call.dest

    @property
    def migrate_data(self):
        return self.call.migrate_data

    # -- state ------------------------------------------------------------

    @property
    def tuned(self):
        return self.plan is not None and self.fallback_reason is None

    @property
    def strategy(self):
        return self.plan.strategy if self.tuned else 'stock'

    @property
    def migration_uuid(self):
        return getattr(self.migration, 'uuid', None)

    def degrade(self, phase, error):
        """Fall back to nova's stock behaviour for the rest of the run."""
        if self.fallback_reason is not None:
            return
        self.fallback_reason = '%s: %s: %s' % (phase, type(error).__name__,
                                               error)
        LOG.error('nova_migtuner falls back to stock nova behaviour for '
                  'this migration after an internal error in %(phase)s: '
                  '%(error)s', {'phase': phase, 'error': error},
                  instance=self.instance, exc_info=True)
        self.notify(notif.ERROR, phase=phase,
                    exception_class=type(error).__name__,
                    error=str(error), fallback=True, outcome=None)

    def request_abort(self):
        """Abort requested by a user; True if handled (still waiting)."""
        with self._lock:
            if self.phase not in (PHASE_PREPARING, PHASE_WAITING):
                return False
            self.abort_requested = True
        self.wake.set()
        return True

    def request_start(self):
        """Force-complete while waiting: stop waiting and start now."""
        with self._lock:
            if self.phase not in (PHASE_PREPARING, PHASE_WAITING):
                return False
            self.start_requested = True
        self.wake.set()
        return True

    def enter(self, phase):
        """Move to *phase*; False if an abort arrived first."""
        with self._lock:
            if self.abort_requested:
                return False
            self.phase = phase
            return True

    def arm(self, plan):
        """Hand the hooks the plan to apply (None: stock nova).

        Called once, just before nova's ``_live_migration`` starts.
        """
        self.plan = plan
        self.armed = True

    def finish(self):
        """nova's ``_live_migration`` returned or raised."""
        with self._lock:
            self.phase = PHASE_DONE

    @staticmethod
    def plan_fields(plan):
        """``tuned`` and ``strategy`` of a notification about *plan*.

        For notifications sent before the hooks were armed with it.
        """
        return dict(tuned=plan is not None,
                    strategy=plan.strategy if plan is not None else 'stock')

    # -- notifications ----------------------------------------------------

    def common_fields(self):
        return dict(instance_uuid=self.instance_uuid,
                    migration_uuid=self.migration_uuid,
                    source_host=self.source_host,
                    destination_host=self.dest,
                    tuned=self.tuned, strategy=self.strategy,
                    flavor_name=self.flavor_name)

    @property
    def flavor_name(self):
        # A missing or lazy-load-failing flavor must not stop the payload.
        try:
            return self.instance.flavor.name
        except Exception:
            return None

    def notify(self, event, **fields):
        try:
            payload = notif.build(event, **dict(self.common_fields(),
                                                **fields))
            message = notification_objects.envelope(event, payload)
        except Exception as e:
            LOG.warning('nova_migtuner could not build the %(event)s '
                        'payload: %(error)s', {'event': event, 'error': e},
                        instance=self.instance)
            return None
        notifications.emit(self.context, self.source_host, event, message)
        return payload

    # -- hooks ------------------------------------------------------------

    def tune_call(self, flags, params):
        """Flags and params for ``migrateToURI3``; never raises."""
        self.started_at = self.clock()
        self.flags_used, self.params_used = flags, params
        if not self.tuned:
            return flags, params
        try:
            tuned = flags_mod.libvirt_flags(self.plan, flags, self.libvirt)
            postcopy = getattr(self.libvirt, plan_mod.POSTCOPY, 0)
            if (postcopy and self.base_flags is not None and
                    self.base_flags & postcopy and not flags & postcopy):
                # nova removed post-copy for this call (paused guest).
                tuned &= ~postcopy
            tuned_params = flags_mod.migration_params(self.plan, params,
                                                      self.libvirt)
        except Exception as e:
            self.degrade('tune', e)
            return flags, params
        self.flags_used, self.params_used = tuned, tuned_params
        LOG.info('nova_migtuner starts the migration with strategy '
                 '%(strategy)s: flags %(flags)s, params %(params)s',
                 {'strategy': self.plan.strategy,
                  'flags': self.flag_names(tuned),
                  'params': sorted(k for k in tuned_params
                                   if 'xml' not in k)},
                 instance=self.instance)
        return tuned, tuned_params

    def planned_flags(self):
        """The flags this migration is to start with (for ``.start``)."""
        if not self.tuned or self.base_flags is None:
            return self.base_flags
        try:
            return flags_mod.libvirt_flags(self.plan, self.base_flags,
                                           self.libvirt)
        except Exception:
            return self.base_flags

    def flag_names(self, flags=None):
        flags = self.flags_used if flags is None else flags
        if flags is None:
            return []
        return list(flags_mod.flag_names(flags, self.libvirt))

    def own_downtime(self, downtime_ms):
        """nova's downtime step: True if the plan owns it (ignore it)."""
        if not self.tuned:
            return False
        if not self._nova_steps_ignored:
            self._nova_steps_ignored = True
            LOG.info('nova_migtuner: the plan sets the max downtime, '
                     'nova\'s [libvirt] live_migration_downtime steps '
                     '(%(ms)d ms now) are not applied',
                     {'ms': downtime_ms}, instance=self.instance)
        return True

    @property
    def applied(self):
        """``AppliedAction`` of every action the plan emitted, in order."""
        return self.applier.applied if self.applier is not None else []

    @property
    def post_copy(self):
        """The plan switched to post-copy, or nova did (force-complete)."""
        return (getattr(self.migration, 'status', None) ==
                nova_actuator.POST_COPY_STATUS or
                (self.applier is not None and self.applier.post_copy))

    @property
    def aborted_by_plan(self):
        """The plan aborted the job (or is calling abortJob right now)."""
        return self.applier is not None and self.applier.abort_requested

    @property
    def downtime_ms(self):
        """The max downtime the plan has in force (None: not yet)."""
        return self.applier.downtime_ms if self.applier is not None \
            else None

    def _applier_for(self, domain):
        if self.applier is None:
            self.applier = applier_mod.PlanApplier(
                self.plan, nova_actuator.NovaGuestActuator(
                    domain, self.libvirt, self.instance, self.migration))
        return self.applier

    def set_initial_downtime(self, domain):
        """Set the plan's first max downtime before the job starts.

        libvirt keeps it for the job (verified on the test bed), and a call
        made during the job can wait for the job on a busy connection;
        the first poll sets it when this did not work.
        """
        if not self.tuned:
            return
        try:
            self._applier_for(domain).set_initial_downtime()
        except actuator_mod.ActionRefused as e:
            LOG.debug('Max downtime not set before the job (%(error)s); '
                      'the first poll sets it', {'error': e},
                      instance=self.instance)

    def masked_job_stats(self, raw):
        """What nova's monitor should see of this poll.

        While a failed post-copy is (or is about to be) resumed by the
        migration call's hook, nova must not see the job as failed: its
        rollback would leave the guest's record on the source while its
        state is on the destination. It sees a job that still runs. Once
        the hook gave up, the monitor gets ``PostCopyNotRecovered``
        unless the job completed after all.
        """
        applier = self.applier
        if applier is None or not applier.post_copy:
            return raw
        if self._post_copy_given_up:
            if raw.get('type') == stats_mod.JOB_COMPLETED:
                return raw
            if applier.destination_gone:
                raise PostCopyNotRecovered(
                    'the post-copy migration to %s failed and cannot be '
                    'resumed: %s has no QEMU left to resume into, so the '
                    'guest\'s newest state is lost. A stale copy is paused '
                    'on %s. Neither host was cleaned up'
                    % (self.call.dest, self.call.dest, self.source_host))
            raise PostCopyNotRecovered(
                'the post-copy migration to %s failed and was not resumed '
                'within %.0f s: the guest is paused on %s and the rest of '
                'its state is in the QEMU on %s (lost if that QEMU is '
                'gone). Neither host was cleaned up. If it runs, resume '
                'the migration once the link is back (virsh migrate --live '
                '--p2p --postcopy --postcopy-resume), then reset the '
                'instance state' % (self.call.dest,
                                    applier_mod.POST_COPY_RECOVERY_S,
                                    self.source_host, self.call.dest))
        if not self.recovering_post_copy:
            try:
                if not applier.post_copy_failed():
                    return raw
            except Exception:
                return raw
            now = self.clock()
            if self._post_copy_failed_at is None:
                self._post_copy_failed_at = now
            if (now - self._post_copy_failed_at >
                    applier_mod.POST_COPY_RECOVERY_S + POST_COPY_CALL_GRACE_S):
                # The migration call never returned to resume it.
                return raw
        return dict(raw, type=stats_mod.JOB_UNBOUNDED)

    def recover_post_copy(self, dconnuri, params, flags):
        """Resume a failed post-copy (bounded); True if it completed."""
        applier = self.applier
        self.recovering_post_copy = True
        try:
            if applier is None or not applier.post_copy_failed():
                return False
            result = applier.recover_post_copy(dconnuri, params, flags)
        except Exception as e:
            LOG.error('nova_migtuner could not resume the failed post-copy '
                      'migration: %(error)s', {'error': e},
                      instance=self.instance, exc_info=True)
            return False
        finally:
            self.recovering_post_copy = False
        # None: the post-copy was no longer failed when the applier looked
        # again; only a real give-up ends nova's monitor.
        self._post_copy_given_up = result == applier_mod.RECOVERY_SPLIT
        if result == applier_mod.RECOVERY_RECOVERED and \
                applier.completed_without_resume:
            LOG.warning('nova_migtuner: the post-copy migration that libvirt '
                        'reported failed completed on the destination '
                        'without a resume (%(s).1f s, %(n)d attempts)',
                        {'s': applier.recovery_s,
                         'n': applier.recovery_attempts},
                        instance=self.instance)
            return True
        if result == applier_mod.RECOVERY_RECOVERED:
            LOG.warning('nova_migtuner resumed the failed post-copy '
                        'migration after %(s).1f s (%(n)d attempts)',
                        {'s': applier.recovery_s,
                         'n': applier.recovery_attempts},
                        instance=self.instance)
            return True
        if result is None:
            return False
        if applier.destination_gone:
            LOG.error('nova_migtuner could not resume the failed post-copy '
                      'migration: the destination %(dest)s has no QEMU left '
                      'to resume into, so the guest\'s newest state is lost',
                      {'dest': self.call.dest}, instance=self.instance)
            return False
        LOG.error('nova_migtuner could not resume the failed post-copy '
                  'migration within %(s).0f s: the guest is paused on the '
                  'source and its state is on the destination; an '
                  'operator must resume it (virsh migrate --postcopy '
                  '--postcopy-resume)',
                  {'s': applier_mod.POST_COPY_RECOVERY_S},
                  instance=self.instance)
        return False

    def observe(self, domain, raw):
        """One poll of nova's monitor; applies the plan; never raises."""
        sample = None
        try:
            self._note_poll()
            sample = stats_mod.JobSample.from_job_stats(
                raw, taken_at=self.clock())
            self.last_type = sample.type
            if sample.has_progress_data:
                self.samples.append(sample)
            if not self.tuned:
                self._guard_pause(sample)
                return
            applier = self._applier_for(domain)
            if (sample.type in (stats_mod.JOB_FAILED,
                                stats_mod.JOB_CANCELLED)):
                self.resume_if_paused(retry_s=0)
                return
            for done in applier.observe(sample):
                self._notify_applied(done)
        except Exception as e:
            self.degrade('monitor', e)
            self._guard_pause(sample)

    def _note_poll(self):
        now = self.clock()
        if self._last_poll_at is not None:
            self.longest_poll_gap_s = max(self.longest_poll_gap_s or 0.0,
                                          now - self._last_poll_at)
        self._last_poll_at = now

    def _guard_pause(self, sample):
        """Keep the pause watchdog and the resume after a degrade.

        Stock nova knows nothing of the plan's pause: a guest the plan
        paused must not be left paused because the session degraded.
        """
        applier = self.applier
        if applier is None or not applier.paused_by_plan or sample is None:
            return
        try:
            if sample.type in (stats_mod.JOB_FAILED,
                               stats_mod.JOB_CANCELLED):
                self.resume_if_paused(retry_s=0)
                return
            done = applier.watch_pause(sample)
            if done is not None:
                self._notify_applied(done)
        except Exception as e:
            LOG.error('nova_migtuner could not watch the guest it paused: '
                      '%(error)s', {'error': e}, instance=self.instance,
                      exc_info=True)

    def _notify_applied(self, done):
        action = done.action
        self.notify(notif.ESCALATED, action=action.kind,
                    downtime_ms=action.downtime_ms, source=action.source,
                    step=action.step, elapsed_s=round(action.elapsed_s, 3),
                    iteration=action.iteration,
                    remaining_bytes=action.remaining_bytes,
                    reason=action.reason, applied=done.applied,
                    error=done.error)

    def resume_if_paused(self, retry_s=None):
        """Leave the guest running on the source after a failed run.

        :param retry_s: how long to retry a refused resume (default the
            applier's ``RESUME_RETRY_S``; 0 inside nova's monitor, whose
            poll must not wait).
        """
        if self.applier is None:
            return
        try:
            if self.applier.resume_if_paused(retry_s=retry_s):
                LOG.info('nova_migtuner resumed the guest it paused, the '
                         'migration did not complete',
                         instance=self.instance)
        except Exception as e:
            LOG.error('nova_migtuner could not resume the guest: '
                      '%(error)s', {'error': e}, instance=self.instance,
                      exc_info=True)

    @property
    def guest_left_paused(self):
        """The plan paused the guest and it could not be resumed."""
        return self.applier is not None and self.applier.left_paused

    @property
    def post_copy_recovery(self):
        """``recovered`` or ``split`` after a failed post-copy, else None."""
        return (self.applier.post_copy_recovery
                if self.applier is not None else None)

    @property
    def post_copy_recovery_attempts(self):
        return (self.applier.recovery_attempts
                if self.applier is not None else 0)

    def job_outcome(self):
        """How nova's migration ended, from its Migration record."""
        status = getattr(self.migration, 'status', None)
        completed = status == 'completed' or (
            status not in ('cancelled', 'failed', 'error') and
            self.last_type == stats_mod.JOB_COMPLETED)
        aborted_by_plan = (self.applier is not None and
                           self.applier.aborted_by_plan)
        # After the plan's abortJob, libvirt 9.0 may end the job as failed
        # rather than cancelled, and nova then records the migration as
        # failed: the job still ended because the plan aborted it.
        cancelled = status == 'cancelled' or (
            aborted_by_plan and not completed)
        return applier_mod.outcome(completed, cancelled, aborted_by_plan)


class DomainWrapper:
    """A libvirt domain with some calls hooked; the rest pass through.

    ``_mt_`` names keep the wrapper's own attributes clear of libvirt's.
    """

    def __init__(self, domain, session):
        self._mt_domain = domain
        self._mt_session = session

    def __getattr__(self, name):
        return getattr(self._mt_domain, name)


class TunedDomain(DomainWrapper):
    """A libvirt domain whose migration calls go through the session."""

    def migrateToURI3(self, dconnuri, params=None, flags=0):
        session = self._mt_session
        flags, params = session.tune_call(flags, params or {})
        session.set_initial_downtime(self._mt_domain)
        try:
            return self._mt_domain.migrateToURI3(dconnuri, params=params,
                                                 flags=flags)
        except session.libvirt.libvirtError as e:
            if session.recover_post_copy(dconnuri, params, flags):
                return 0
            if not session.aborted_by_plan:
                raise
            # The plan aborted the job: libvirt fails the call as it
            # should, and nova's monitor rolls back on the CANCELLED job.
            # nova 34 would also re-raise this error from the operation
            # thread (``future.result()``) and set the instance to ERROR
            # although the guest runs on the source.
            LOG.info('nova_migtuner: migration aborted by the plan, as '
                     'expected libvirt reports: %(error)s', {'error': e},
                     instance=session.instance)
            return 0

    def jobStats(self, flags=0):
        raw = self._mt_domain.jobStats(flags)
        if not flags:
            self._mt_session.observe(self._mt_domain, raw)
            return self._mt_session.masked_job_stats(raw)
        return raw

    def migrateSetMaxDowntime(self, downtime, flags=0):
        if self._mt_session.own_downtime(downtime):
            return 0
        return self._mt_domain.migrateSetMaxDowntime(downtime)
