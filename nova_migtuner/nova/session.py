"""Per-migration state and the libvirt hooks that apply a plan inside nova.

nova's ``_live_migration`` hands the same ``Guest`` to the thread that
calls ``migrateToURI3`` and to the monitor that polls ``jobStats()`` every
0.5 s. The driver wraps that guest's domain in a ``TunedDomain``; three of
its calls are where the plan meets nova, and nothing else changes:

* ``migrateToURI3``: the plan's tuning flags and parameters replace the
  host-wide ones for this call only (``self._live_migration_flags`` is
  never touched);
* ``jobStats()``: every poll of nova's monitor is also a sample for the
  plan's ``Escalator``; its actions are applied right there (raise the
  downtime, switch to post-copy through nova's own helper so the Migration
  record says 'running (post-copy)', pause, abort). nova then sees the job
  as it always does: COMPLETED calls ``post_method``, CANCELLED/FAILED call
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

from nova_migtuner.engine import escalation as escalation_mod
from nova_migtuner.engine import flags as flags_mod
from nova_migtuner.engine import stats as stats_mod
from nova_migtuner import plan as plan_mod
from nova_migtuner.nova import notifications as notif

LOG = logging.getLogger(__name__)

PHASE_PREPARING = 'preparing'
PHASE_WAITING = 'waiting'
PHASE_MIGRATING = 'migrating'
PHASE_DONE = 'done'

# Samples with progress data kept for the report (0.5 s polls: 2 min).
MAX_SAMPLES = 240
POST_COPY_STATUS = 'running (post-copy)'


class MigrationSession:
    """Everything one migration shares between the flow and the hooks."""

    def __init__(self, context, instance, dest, source_host, migrate_data,
                 libvirt_module, clock=time.monotonic):
        self.context = context
        self.instance = instance
        self.instance_uuid = instance.uuid
        self.dest = dest
        self.source_host = source_host
        self.migrate_data = migrate_data
        self.migration = getattr(migrate_data, 'migration', None)
        self.libvirt = libvirt_module
        self.clock = clock
        self.phase = PHASE_PREPARING
        self._lock = threading.Lock()
        self.wake = threading.Event()
        self.abort_requested = False
        self.start_requested = False
        # Decisions.
        self.measurement = None
        # The operator's one-off strategy (signed marker), read once.
        self.operator_strategy = None
        self.marker_taken = False
        self.plan = None
        self.escalator = None
        self.fallback_reason = None
        self.waited_s = 0.0
        self.timing_reason = None
        # Execution.
        self.base_flags = None          # nova's flags for this migration
        self.flags_used = None          # what migrateToURI3 received
        self.params_used = None
        self.started_at = None
        self.ended_at = None
        self.downtime_ms = None         # max downtime currently in force
        self.paused_by_plan = False
        self.aborted_by_plan = False
        self.samples = collections.deque(maxlen=MAX_SAMPLES)
        self.last_type = None
        self.applied = []               # (Action, applied, error)
        self.destination_stats = None
        self.nova_called = False
        self.nova_error = None
        self.outcome = None
        self._nova_steps_ignored = False

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
        except Exception as e:
            LOG.warning('nova_migtuner could not build the %(event)s '
                        'payload: %(error)s', {'event': event, 'error': e},
                        instance=self.instance)
            return None
        notif.emit(self.context, self.source_host, event, payload)
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

    def set_initial_downtime(self, domain):
        """Set the plan's first max downtime before the job starts.

        libvirt keeps it for the job (verified on the test bed), and a call
        made during the job can wait for the job on a busy connection;
        ``observe`` sets it on the first poll when this did not work.
        """
        if not self.tuned or self.downtime_ms is not None:
            return
        try:
            domain.migrateSetMaxDowntime(self.plan.initial_downtime_ms)
        except self.libvirt.libvirtError as e:
            LOG.debug('Max downtime not set before the job (%(error)s); '
                      'the first poll sets it', {'error': e},
                      instance=self.instance)
            return
        self.downtime_ms = self.plan.initial_downtime_ms

    def observe(self, domain, raw):
        """One poll of nova's monitor; applies the plan; never raises."""
        try:
            sample = stats_mod.JobSample.from_job_stats(
                raw, taken_at=self.clock())
            self.last_type = sample.type
            if sample.has_progress_data:
                self.samples.append(sample)
            if not self.tuned:
                return
            if (sample.type in (stats_mod.JOB_FAILED,
                                stats_mod.JOB_CANCELLED)):
                self.resume_if_paused(domain)
                return
            if not sample.active:
                return
            if self.downtime_ms is None:
                self.downtime_ms = self.plan.initial_downtime_ms
                domain.migrateSetMaxDowntime(self.downtime_ms)
            for action in self.escalator.observe(sample):
                self.apply(domain, action)
        except Exception as e:
            self.degrade('monitor', e)

    def apply(self, domain, action):
        applied, error = True, None
        try:
            if action.kind == plan_mod.ACTION_RAISE_DOWNTIME:
                domain.migrateSetMaxDowntime(action.downtime_ms)
                self.downtime_ms = action.downtime_ms
            elif action.kind == plan_mod.ACTION_POST_COPY:
                from nova.virt.libvirt import guest as guest_mod
                from nova.virt.libvirt import migration as migration_mod
                migration_mod.trigger_postcopy_switch(
                    guest_mod.Guest(domain), self.instance, self.migration)
                if getattr(self.migration, 'status', None) != \
                        POST_COPY_STATUS:
                    applied, error = False, 'libvirt refused the switch'
            elif action.kind == plan_mod.ACTION_PAUSE:
                domain.suspend()
                self.paused_by_plan = True
            elif action.kind == plan_mod.ACTION_ABORT:
                self.aborted_by_plan = True
                domain.abortJob()
        except self.libvirt.libvirtError as e:
            applied, error = False, str(e)
            if action.kind == plan_mod.ACTION_ABORT:
                self.aborted_by_plan = False
            LOG.warning('nova_migtuner could not %(what)s: %(error)s',
                        {'what': action.kind, 'error': e},
                        instance=self.instance)
        if applied:
            self.escalator.confirm(action)
        else:
            self.escalator.refuse(action, error)
        self.applied.append((action, applied, error))
        self.notify(notif.ESCALATED, action=action.kind,
                    downtime_ms=action.downtime_ms, source=action.source,
                    step=action.step, elapsed_s=round(action.elapsed_s, 3),
                    iteration=action.iteration,
                    remaining_bytes=action.remaining_bytes,
                    reason=action.reason, applied=applied, error=error)

    def resume_if_paused(self, domain):
        """Leave the guest running on the source after a failed run."""
        if not self.paused_by_plan:
            return
        self.paused_by_plan = False
        try:
            paused = getattr(self.libvirt, 'VIR_DOMAIN_PAUSED', 3)
            if domain.info()[0] == paused:
                domain.resume()
                LOG.info('nova_migtuner resumed the guest it paused, the '
                         'migration did not complete',
                         instance=self.instance)
        except Exception as e:
            LOG.warning('nova_migtuner could not resume the guest: '
                        '%(error)s', {'error': e}, instance=self.instance)

    def new_escalator(self):
        self.escalator = escalation_mod.Escalator(self.plan)
        return self.escalator


class TunedDomain:
    """A libvirt domain whose migration calls go through the session."""

    def __init__(self, domain, session):
        self._mt_domain = domain
        self._mt_session = session

    def __getattr__(self, name):
        return getattr(self._mt_domain, name)

    def migrateToURI3(self, dconnuri, params=None, flags=0):
        session = self._mt_session
        flags, params = session.tune_call(flags, params or {})
        session.set_initial_downtime(self._mt_domain)
        try:
            return self._mt_domain.migrateToURI3(dconnuri, params=params,
                                                 flags=flags)
        except session.libvirt.libvirtError as e:
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
        return raw

    def migrateSetMaxDowntime(self, downtime, flags=0):
        if self._mt_session.own_downtime(downtime):
            return 0
        return self._mt_domain.migrateSetMaxDowntime(downtime)
