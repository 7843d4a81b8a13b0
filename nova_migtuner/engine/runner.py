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

"""The standalone poll loop: one live migration from a plan on libvirt.

``LibvirtMigration(domain, plan, dest_uri, ...).run()`` returns a
``MigrationReport``. It works with a plain ``libvirt.virDomain`` (the test
bed, the bench) and never imports nova; inside nova, nova's own monitor
polls instead and ``nova_migtuner.nova.session`` feeds the same
``PlanApplier``.

What it does, in order:

1. computes flags (``engine.flags.libvirt_flags``) and typed params
   (``engine.flags.migration_params``) from the plan;
2. has the ``PlanApplier`` set the plan's first max downtime before the
   job;
3. calls ``migrateToURI3(dest_uri, params, flags)`` in a worker thread;
4. polls the raw ``jobStats()`` every ``monitor_interval_s``, turns each
   poll into a ``JobSample`` and feeds the applier, which escalates
   through a ``DomainActuator``;
5. reads the completed stats on the destination
   (``jobStats(VIR_DOMAIN_JOB_STATS_COMPLETED)`` via a connection to
   *dest_uri*) and on the source (works while the source domain is still
   defined, i.e. without ``VIR_MIGRATE_UNDEFINE_SOURCE``) and builds the
   report; after post-copy only the source has them.

Safety: on any error of the engine itself (a failing libvirt call made by
the engine, a bug, a callback raising, repeated failures to read job stats)
the job is aborted with ``abortJob`` - unless post-copy has started, which
cannot be aborted without losing the guest, so the engine then waits for it
to finish - and the guest is left running on the source: a guest that was
running before the migration and is paused on the source afterwards is
resumed (whoever paused it). Errors never escape ``run()``: they are in the
report (outcome 'failed', ``error``). ``KeyboardInterrupt``/``SystemExit``
abort the job the same way and are then re-raised.
"""

import logging
import threading
import time

from nova_migtuner.engine import actuator as actuator_mod
from nova_migtuner.engine import applier as applier_mod
from nova_migtuner.engine import flags as flags_mod
from nova_migtuner.engine import report as report_mod
from nova_migtuner.engine import stats as stats_mod
from nova_migtuner.planning import plan as plan_mod

LOG = logging.getLogger(__name__)

# Consecutive jobStats() failures, while the migration call still runs and
# post-copy has not started, after which the engine gives up and aborts.
MAX_POLL_FAILURES = 5
# How long to wait for migrateToURI3 to return after abortJob.
DEFAULT_ABORT_TIMEOUT_S = 120.0
# How long to wait for migrateToURI3 to return once post-copy runs and the
# monitor has stopped.
DEFAULT_POST_COPY_TIMEOUT_S = 1800.0
# libvirt virDomainState values (stable enum).
_STATE_RUNNING = 1


class EngineError(RuntimeError):
    """The engine itself failed (not libvirt's migration)."""


def _default_base_flags(libvirt):
    # PEER2PEER: the source libvirtd drives the migration, as in nova.
    # PERSIST_DEST: the guest stays defined on the destination. No
    # UNDEFINE_SOURCE: the source definition survives (shut off), which is
    # where the completed stats of a post-copy migration can be read.
    return libvirt.VIR_MIGRATE_PEER2PEER | libvirt.VIR_MIGRATE_PERSIST_DEST


class LibvirtMigration:
    """One live migration of *domain* to *dest_uri*, executing *plan*.

    :param domain: the source ``virDomain``.
    :param plan: the frozen ``MigrationPlan``.
    :param dest_uri: libvirt URI of the destination host (peer-to-peer),
        e.g. ``qemu+tcp://dest/system``.
    :param migrate_uri: ``VIR_MIGRATE_PARAM_URI`` (where QEMU sends the
        data, e.g. ``tcp://10.0.0.2``); None leaves it to libvirt (or to
        *base_params*).
    :param base_flags: flags the plan does not own (see
        ``engine.flags``); None means ``PEER2PEER | PERSIST_DEST``.
    :param base_params: extra typed params (``DEST_XML``,
        ``MIGRATE_DISKS``, ...); not modified.
    :param monitor_interval_s: job stats poll period (nova uses 0.5 s).
    :param on_sample: called with every ``JobSample``; must not raise (an
        exception is an engine error: the migration is aborted).
    :param on_escalation: called with every ``escalation.Action`` after it
        was applied; same rule.
    :param stall_window_s: override of the plan's stall windows, see
        ``escalation.Escalator``.
    :param dest_connection: an open ``virConnect`` to the destination for
        reading its completed stats; None opens (and closes) one on
        *dest_uri* after the migration.
    :param libvirt_module: the libvirt module; None imports ``libvirt``.
    :param migration_connection: a ``virConnect`` to the *source* used only
        for the long ``migrateToURI3`` call. None opens (and closes) one on
        the source domain's URI; ``False`` uses the domain's own
        connection. Why: with libvirt 9.0's client and no event loop
        registered, a ``migrateSetMaxDowntime`` issued from another thread
        on the connection that carries ``migrateToURI3`` never got its reply
        on the test bed (the monitor hung, the migration ran unbounded).
        Polls and actions stay on the domain's own connection, from one
        thread.
    :param abort_timeout_s: how long to wait for the migration call to
        return after ``abortJob`` (or after the job ended).
    :param post_copy_timeout_s: how long to wait for the migration call to
        return after the monitor stopped during post-copy.
    """

    def __init__(self, domain, plan, dest_uri, migrate_uri=None,
                 base_flags=None, base_params=None, monitor_interval_s=0.5,
                 on_sample=None, on_escalation=None, stall_window_s=None,
                 dest_connection=None, libvirt_module=None,
                 abort_timeout_s=DEFAULT_ABORT_TIMEOUT_S,
                 migration_connection=None,
                 post_copy_timeout_s=DEFAULT_POST_COPY_TIMEOUT_S):
        if libvirt_module is None:
            import libvirt as libvirt_module
        self.libvirt = libvirt_module
        self.domain = domain
        self.plan = plan
        self.dest_uri = dest_uri
        self.migrate_uri = migrate_uri
        self.base_flags = (_default_base_flags(libvirt_module)
                           if base_flags is None else int(base_flags))
        self.base_params = dict(base_params or {})
        self.monitor_interval_s = float(monitor_interval_s)
        self.on_sample = on_sample
        self.on_escalation = on_escalation
        self.dest_connection = dest_connection
        self._own_dest_connection = False
        self.migration_connection = migration_connection
        self._own_migration_connection = False
        self._migrating_domain = domain
        self.abort_timeout_s = abort_timeout_s
        self.post_copy_timeout_s = post_copy_timeout_s
        self.actuator = actuator_mod.DomainActuator(domain, libvirt_module)
        self.applier = applier_mod.PlanApplier(
            plan, self.actuator, stall_window_s=stall_window_s)
        self.escalator = self.applier.escalator
        self.samples = []
        self.flags = None
        self.params = None
        self._started_at = None
        self._finished_at = None
        self._call_error = None
        self._call_done = threading.Event()
        self._engine_error = None
        self._poll_failures = 0

    # -- the migration -----------------------------------------------------

    def run(self):
        """Migrate, escalate, measure; return the ``MigrationReport``."""
        name = self._domain_name()
        was_running = self._state() == _STATE_RUNNING
        try:
            self._prepare()
        except Exception as exc:
            LOG.error('Migration of %(name)s not started: %(err)s',
                      {'name': name, 'err': exc})
            return self._report(report_mod.OUTCOME_FAILED,
                                'not started: %s' % exc, None, None)
        LOG.info('Migrating %(name)s to %(dest)s with strategy %(strategy)s:'
                 ' flags %(flags)s, params %(params)s, max downtime '
                 '%(down)d ms', {'name': name, 'dest': self.dest_uri,
                                 'strategy': self.plan.strategy,
                                 'flags': '|'.join(self._flag_names()),
                                 'params': self._loggable_params(),
                                 'down': self.plan.initial_downtime_ms})
        try:
            self._migrating_domain = self._domain_for_migration_call()
        except Exception as exc:
            LOG.error('Migration of %(name)s not started: %(err)s',
                      {'name': name, 'err': exc})
            return self._report(report_mod.OUTCOME_FAILED,
                                'not started: %s' % exc, None, None)
        worker = threading.Thread(target=self._migrate, daemon=True,
                                  name='migrate-%s' % name)
        self._started_at = time.monotonic()
        self.escalator.started_at = self._started_at
        worker.start()
        interrupt = None
        try:
            self._monitor()
        except (KeyboardInterrupt, SystemExit) as exc:
            interrupt = exc
            self._engine_error = exc
        except Exception as exc:
            LOG.exception('Migration engine error for %s', name)
            self._engine_error = exc
        if self._engine_error is not None:
            self._stop_after_engine_error()
        self._wait_for_call(worker)
        outcome, error = self._outcome()
        self._keep_guest_running(outcome, was_running)
        dest_stats, source_stats = self._completed_stats(outcome)
        result = self._report(outcome, error, dest_stats, source_stats)
        LOG.info('Migration of %(name)s: %(summary)s',
                 {'name': name, 'summary': result.summary()})
        if interrupt is not None:
            raise interrupt
        return result

    def _prepare(self):
        self.flags = flags_mod.libvirt_flags(self.plan, self.base_flags,
                                             self.libvirt)
        params = dict(self.base_params)
        if self.migrate_uri:
            params[self.libvirt.VIR_MIGRATE_PARAM_URI] = self.migrate_uri
        self.params = flags_mod.migration_params(self.plan, params,
                                                 self.libvirt)
        self.applier.set_initial_downtime()

    def _domain_for_migration_call(self):
        if self.migration_connection is False:
            return self.domain
        if self.migration_connection is None:
            self.migration_connection = self.libvirt.open(
                self.domain.connect().getURI())
            self._own_migration_connection = True
        return self.migration_connection.lookupByUUIDString(
            self.domain.UUIDString())

    def _migrate(self):
        try:
            self._migrating_domain.migrateToURI3(self.dest_uri, self.params,
                                                 self.flags)
        except BaseException as exc:  # reported, never lost in the thread
            self._call_error = exc
        finally:
            self._finished_at = time.monotonic()
            self._call_done.set()

    def _monitor(self):
        while not self._call_done.wait(self.monitor_interval_s):
            sample = self._poll()
            if sample is None:
                continue
            self.samples.append(sample)
            if self.on_sample is not None:
                self.on_sample(sample)
            for done in self.applier.observe(sample):
                if not done.applied and self._job_ended(done.error):
                    return
                if done.applied and self.on_escalation is not None:
                    self.on_escalation(done.action)

    def _job_ended(self, exc):
        if self._call_done.is_set() or not self._is_active():
            # The job ended between the poll and the call: the guest has
            # moved (or the migration failed on its own).
            LOG.info('Job ended before the engine could act: %s', exc)
            return True
        return False

    def _poll(self):
        try:
            raw = self.domain.jobStats()
        except self.libvirt.libvirtError as exc:
            if (self._call_done.is_set() or
                    self.escalator.post_copy_started or
                    not self._is_active()):
                # The job is ending (the source domain stops when the guest
                # has moved), or the paused post-copy source no longer
                # answers ("domain is not running"): not an error.
                LOG.debug('jobStats failed at the end of the job: %s', exc)
                return None
            self._poll_failures += 1
            LOG.warning('jobStats failed (%(n)d/%(max)d): %(err)s',
                        {'n': self._poll_failures, 'max': MAX_POLL_FAILURES,
                         'err': exc})
            if self._poll_failures >= MAX_POLL_FAILURES:
                raise EngineError('job stats unreadable %d times in a row: '
                                  '%s' % (self._poll_failures, exc))
            return None
        self._poll_failures = 0
        return stats_mod.JobSample.from_job_stats(raw,
                                                  taken_at=time.monotonic())

    def _abort_job(self):
        try:
            self.domain.abortJob()
        except self.libvirt.libvirtError as exc:
            # The job may have finished (or failed) just before.
            LOG.warning('abortJob failed: %s', exc)

    def _stop_after_engine_error(self):
        if self._call_done.is_set():
            return
        if self.applier.post_copy:
            LOG.error('Engine error during post-copy: the job cannot be '
                      'aborted without losing the guest; waiting for it')
            return
        LOG.error('Aborting the migration job after an engine error: %s',
                  self._engine_error)
        self._abort_job()

    def _wait_for_call(self, worker):
        # The monitor only stops early when the job ended, was aborted or
        # the engine failed: the call returns soon, or it hangs (a dead
        # peer). Post-copy is given longer (aborting it would lose the
        # guest) but not forever.
        timeout = (self.post_copy_timeout_s
                   if self.applier.post_copy
                   else self.abort_timeout_s)
        worker.join(timeout)
        if worker.is_alive():
            LOG.error('migrateToURI3 has not returned %.0f s after the '
                      'monitor stopped', timeout)

    def _outcome(self):
        call_error = self._call_error
        if not self._call_done.is_set():
            call_error = EngineError('the migration call did not return '
                                     'after the monitor stopped')
        engine = self._engine_error
        completed = call_error is None
        if engine is not None and not completed:
            return report_mod.OUTCOME_FAILED, (
                'engine error: %s; migration aborted (libvirt: %s)'
                % (_text(engine), _text(call_error)))
        outcome = self.applier.outcome(
            completed=completed, cancelled=self.applier.aborted_by_plan)
        if outcome == report_mod.OUTCOME_COMPLETED:
            error = None if engine is None else (
                'engine error after the migration had completed: %s'
                % _text(engine))
        elif outcome == report_mod.OUTCOME_ABORTED:
            abort = [a for a in self.applier.taken
                     if a.kind == plan_mod.ACTION_ABORT][-1]
            error = 'aborted by the plan: %s (libvirt: %s)' % (
                abort.reason, _text(call_error))
        else:
            error = _text(call_error)
        return outcome, error

    def _keep_guest_running(self, outcome, was_running):
        """Leave the guest running where it is, as it was before."""
        if not was_running:
            return
        if outcome != report_mod.OUTCOME_COMPLETED:
            # Whoever paused it: a guest that ran before the migration
            # runs on the source after one that failed.
            self.applier.resume_if_paused(whoever_paused=True)
            return
        dest = self._dest_domain()
        if dest is not None:
            self.applier.resume_if_paused(
                actuator_mod.DomainActuator(dest, self.libvirt),
                'destination')

    # -- completed statistics ---------------------------------------------

    def _completed_flags(self):
        return (self.libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED |
                # Others (nova) may want to read them too.
                getattr(self.libvirt, 'VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED',
                        0))

    def _completed_stats(self, outcome):
        source_stats = None
        try:
            source_stats = self.domain.jobStats(self._completed_flags())
        except self.libvirt.libvirtError as exc:
            # An undefined source (UNDEFINE_SOURCE) has none.
            LOG.debug('No completed stats on the source: %s', exc)
        dest_stats = None
        if outcome == report_mod.OUTCOME_COMPLETED:
            dest = self._dest_domain()
            if dest is not None:
                try:
                    dest_stats = dest.jobStats(self._completed_flags())
                except self.libvirt.libvirtError as exc:
                    LOG.warning('No completed stats on the destination: %s',
                                exc)
        return dest_stats, source_stats

    def _dest_domain(self):
        conn = self.dest_connection
        try:
            if conn is None:
                conn = self.dest_connection = self.libvirt.open(
                    self.dest_uri)
                self._own_dest_connection = True
            return conn.lookupByUUIDString(self.domain.UUIDString())
        except self.libvirt.libvirtError as exc:
            LOG.warning('Guest not found on the destination %s: %s',
                        self.dest_uri, exc)
            return None

    def close(self):
        """Close the connections the runner opened."""
        if self._own_migration_connection and self._call_done.is_set():
            try:
                self.migration_connection.close()
            except self.libvirt.libvirtError:
                pass
            self.migration_connection = None
            self._own_migration_connection = False
        if self._own_dest_connection:
            try:
                self.dest_connection.close()
            except self.libvirt.libvirtError:
                pass
            self.dest_connection = None
            self._own_dest_connection = False

    def _report(self, outcome, error, dest_stats, source_stats):
        wall = None
        if self._started_at is not None and self._finished_at is not None:
            wall = self._finished_at - self._started_at
        try:
            return report_mod.report_from_stats(
                dest_stats, self.samples, self.plan, self.escalator.taken,
                outcome, error, fallback_stats=source_stats,
                wall_seconds=wall,
                final_downtime_ms=self.applier.downtime_ms,
                flags=self._flag_names(),
                skipped_steps=self.escalator.skipped,
                post_copy=self.applier.post_copy)
        finally:
            self.close()

    # -- small helpers -----------------------------------------------------

    def _flag_names(self):
        if self.flags is None:
            return tuple(self.plan.flags)
        return flags_mod.flag_names(self.flags, self.libvirt)

    def _loggable_params(self):
        # DEST_XML is long and not interesting in a log line.
        return {k: (v if len(str(v)) < 80 else '<%d chars>' % len(str(v)))
                for k, v in (self.params or {}).items()}

    def _domain_name(self):
        try:
            return self.domain.name()
        except Exception:
            return '<unknown domain>'

    def _is_active(self):
        try:
            return bool(self.domain.isActive())
        except Exception:
            return False

    def _state(self):
        try:
            return self.domain.state()[0]
        except Exception as exc:
            LOG.debug('Could not read the domain state: %s', exc)
            return None


def _text(exc):
    return '%s: %s' % (type(exc).__name__, exc) if not isinstance(
        exc, Exception) or not str(exc) else str(exc)
