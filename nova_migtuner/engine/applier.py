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

"""The one executor of a plan: apply, confirm, track, resume, name the end.

``PlanApplier(plan, actuator)`` is fed the job samples of one running
migration, by nova's monitor (``nova_migtuner.nova.session``) or by the
standalone poll loop (``engine.runner``). For each sample it asks the
``Escalator`` what to do, makes the call through the actuator and tells
the escalator whether libvirt took it, so that the escalator's state
follows libvirt's and not the plan's wishes. It tracks what is in force:
the max downtime, whether the plan paused the guest, switched to post-copy
or aborted the job. After the job it resumes a guest the plan paused
(where the guest now is) and names the outcome with the one vocabulary of
``engine.report.OUTCOMES``.

The max downtime: set before the job starts (``set_initial_downtime``;
libvirt 9.0/QEMU 7.2 keep a limit set on an idle domain for the following
job, read back with ``migrateGetMaxDowntime`` during the job on the test
bed), and checked on the first running sample: set again when it was not
set or an older libvirt reset it at the start of the job.

It never raises on a refused action: that is ``ActionRefused`` from the
actuator, recorded in ``applied`` and handed to the escalator. Anything
else (a bug) propagates to the caller, whose own safety net applies.
"""

import collections
import logging
import time

from nova_migtuner.engine import actuator as actuator_mod
from nova_migtuner.engine import escalation as escalation_mod
from nova_migtuner.engine import report as report_mod
from nova_migtuner.planning import plan as plan_mod

LOG = logging.getLogger(__name__)

# Resuming a guest the plan paused: try again this long, this often (s).
# libvirt refuses a resume while the failed job is still being cleaned up.
RESUME_RETRY_S = 10.0
RESUME_INTERVAL_S = 0.2

# A post-copy that failed (the link broke): restart it this long, this
# often (s), before declaring the guest split between the hosts.
POST_COPY_RECOVERY_S = 120.0
POST_COPY_RECOVERY_INTERVAL_S = 1.0
# Refusals in a row, each saying that the destination has no QEMU waiting
# for the resume, after which the recovery gives up before its bound: the
# destination's QEMU is gone and the guest with it. More than one, because
# a destination libvirtd reconnecting to its QEMU says the same for a
# moment.
DESTINATION_GONE_REFUSALS = 10
RECOVERY_RECOVERED = 'recovered'
RECOVERY_SPLIT = 'split'

AppliedAction = collections.namedtuple('AppliedAction',
                                       ('action', 'applied', 'error'))


class PlanApplier:
    """Executes one plan on one migration through *actuator*.

    :param plan: the frozen ``MigrationPlan``.
    :param actuator: a ``DomainActuator`` (or one with the same methods).
    :param stall_window_s: see ``escalation.Escalator``.
    :param started_at: see ``escalation.Escalator``.
    """

    def __init__(self, plan, actuator, stall_window_s=None,
                 started_at=None):
        self.plan = plan
        self.actuator = actuator
        self.escalator = escalation_mod.Escalator(
            plan, stall_window_s=stall_window_s, started_at=started_at)
        self.downtime_ms = None
        self.applied = []
        self._downtime_checked = False
        # Set before suspend() is called: a call that fails after pausing
        # must still lead to a resume. Only a guest that ran before the
        # plan paused it is resumed (a guest paused by somebody else stays
        # as they left it).
        self._may_have_paused = False
        self._paused_at = None
        self._last_sample_at = None
        self._watchdog_fired = False
        # The plan paused the guest and no resume made it run again.
        self.left_paused = False
        # A failed post-copy: None (none seen), RECOVERED or SPLIT, with
        # the attempts and seconds it took.
        self.post_copy_recovery = None
        self.recovery_attempts = 0
        self.recovery_s = None
        # The recovery gave up because the destination's QEMU is gone.
        self.destination_gone = False
        # The failed post-copy ended on the destination without a resume.
        self.completed_without_resume = False
        # Set before abortJob is called: the migration call may fail on
        # the abort before abortJob has returned here.
        self.abort_requested = False

    # -- what is in force ---------------------------------------------------

    @property
    def post_copy(self):
        return self.escalator.post_copy_started

    @property
    def aborted_by_plan(self):
        return self.escalator.aborted

    @property
    def paused_by_plan(self):
        return self._may_have_paused

    @property
    def taken(self):
        """The actions libvirt took, in order."""
        return self.escalator.taken

    # -- before and during the job -----------------------------------------

    def set_initial_downtime(self):
        """Set the plan's first max downtime; raises ``ActionRefused``."""
        self.actuator.set_max_downtime(self.plan.initial_downtime_ms)
        self.downtime_ms = self.plan.initial_downtime_ms

    def observe(self, sample):
        """Take one ``JobSample``; return the ``AppliedAction`` list."""
        if not sample.active:
            return []
        self._last_sample_at = sample.taken_at
        if not self._downtime_checked:
            self._check_downtime()
        return [self.apply(action)
                for action in self.escalator.observe(sample)]

    def _check_downtime(self):
        want = (self.plan.initial_downtime_ms if self.downtime_ms is None
                else self.downtime_ms)
        held = None if self.downtime_ms is None else \
            self.actuator.max_downtime()
        if self.downtime_ms is not None and held in (None, want):
            self._downtime_checked = True
            return
        if held is not None:
            LOG.info('Max downtime is %(held)s ms in the running job, not '
                     '%(want)d ms: setting it again',
                     {'held': held, 'want': want})
        try:
            self.actuator.set_max_downtime(want)
        except actuator_mod.ActionRefused as e:
            LOG.warning('Could not set the max downtime to %(want)d ms '
                        '(%(error)s); trying again at the next poll',
                        {'want': want, 'error': e})
            return
        self.downtime_ms = want
        self._downtime_checked = True

    def apply(self, action):
        """Make *action*'s call; tell the escalator whether it took."""
        try:
            self._call(action)
        except actuator_mod.ActionRefused as e:
            self.escalator.refuse(action, e)
            LOG.warning('Could not %(what)s: %(error)s',
                        {'what': action.describe(), 'error': e})
            done = AppliedAction(action, False, str(e))
        else:
            self.escalator.confirm(action)
            if action.kind == plan_mod.ACTION_RAISE_DOWNTIME:
                self.downtime_ms = action.downtime_ms
            LOG.info('Applied %s', action.describe())
            done = AppliedAction(action, True, None)
        self.applied.append(done)
        return done

    def _call(self, action):
        kind = action.kind
        if kind == plan_mod.ACTION_RAISE_DOWNTIME:
            self.actuator.set_max_downtime(action.downtime_ms)
        elif kind == plan_mod.ACTION_POST_COPY:
            self.actuator.start_post_copy()
        elif kind == plan_mod.ACTION_PAUSE:
            if self._already_paused():
                raise actuator_mod.ActionRefused(
                    'the guest is already paused, not by this plan')
            self._may_have_paused = True
            self._paused_at = self._last_sample_at
            self.actuator.suspend()
        elif kind == plan_mod.ACTION_ABORT:
            self.abort_requested = True
            try:
                self.actuator.abort_job()
            except actuator_mod.ActionRefused:
                self.abort_requested = self.aborted_by_plan
                raise

    def _already_paused(self):
        try:
            return bool(self.actuator.is_paused())
        except actuator_mod.ActionRefused:
            return False

    def watch_pause(self, sample):
        """The pause watchdog without the escalator, for a caller whose
        escalator can no longer be trusted (it raised): abort a job that
        still runs with the guest paused for longer than the plan allowed.

        :returns: the ``AppliedAction`` of the abort, or None.
        """
        if (not self._may_have_paused or self._paused_at is None or
                not sample.active or self.escalator.aborted):
            return None
        paused_s = sample.taken_at - self._paused_at
        allowed_s = escalation_mod.pause_allowed_s(self.plan)
        if paused_s <= allowed_s:
            return None
        action = escalation_mod.Action(
            kind=plan_mod.ACTION_ABORT, elapsed_s=paused_s,
            source=escalation_mod.SOURCE_WATCHDOG,
            reason='guest paused %.1f s, more than the %.1f s allowed'
                   % (paused_s, allowed_s))
        self.abort_requested = True
        try:
            self.actuator.abort_job()
        except actuator_mod.ActionRefused as e:
            self.abort_requested = False
            LOG.warning('Could not abort the job of the paused guest: '
                        '%(error)s; trying again at the next poll',
                        {'error': e})
            done = AppliedAction(action, False, str(e))
        else:
            self.escalator.aborted = True
            LOG.warning('Aborted the job: %s', action.reason)
            done = AppliedAction(action, True, None)
        self.applied.append(done)
        return done

    # -- after the job -------------------------------------------------------

    def resume_if_paused(self, where=None, name='source',
                         whoever_paused=False, retry_s=None):
        """Resume the guest on *where* (default: the source) if the plan
        paused it (or anybody, with *whoever_paused*) and it is still
        paused; True if it was resumed.

        A refused resume is tried again every ``RESUME_INTERVAL_S`` for
        *retry_s* (default ``RESUME_RETRY_S``; 0: once); if the guest
        still does not run, ``left_paused`` says so.
        """
        if not (self._may_have_paused or whoever_paused):
            return False
        if self.post_copy and (where is None or where is self.actuator):
            # The guest's state is on the destination now: running the
            # source's stale copy would split it.
            LOG.error('Not resuming the guest on the source: the migration '
                      'switched to post-copy')
            return False
        where = self.actuator if where is None else where
        retry_s = RESUME_RETRY_S if retry_s is None else retry_s
        give_up = time.monotonic() + retry_s
        while True:
            try:
                if not where.is_paused():
                    self._may_have_paused = False
                    self.left_paused = False
                    return False
                where.resume()
                if not where.is_paused():
                    break
                error = 'still paused after resume'
            except actuator_mod.ActionRefused as e:
                error = e
            if time.monotonic() >= give_up:
                self.left_paused = self._may_have_paused
                LOG.error('Could not resume the guest on the %(name)s '
                          'within %(s).1f s: %(error)s',
                          {'name': name, 's': retry_s, 'error': error})
                return False
            time.sleep(RESUME_INTERVAL_S)
        self._may_have_paused = False
        self.left_paused = False
        LOG.warning('Resumed the guest on the %s: it was still paused after '
                    'the migration', name)
        return True

    def post_copy_failed(self):
        """The plan switched to post-copy and libvirt says it failed."""
        return self.post_copy and self.actuator.postcopy_failed()

    def recover_post_copy(self, dest_uri, params, flags, via=None,
                          retry_s=None, interval_s=None):
        """Restart a failed post-copy until it completes or *retry_s* pass.

        :param dest_uri, params, flags: the migration call's.
        :param via: the actuator to make the (long) call through; default
            this applier's.
        :returns: ``RECOVERY_RECOVERED`` (the guest runs on the
            destination), ``RECOVERY_SPLIT`` (it did not within the bound:
            paused on the source, its state on the destination), or None
            when no failed post-copy was seen.
        """
        if not self.post_copy_failed():
            return None
        via = self.actuator if via is None else via
        retry_s = POST_COPY_RECOVERY_S if retry_s is None else retry_s
        interval_s = (POST_COPY_RECOVERY_INTERVAL_S if interval_s is None
                      else interval_s)
        started = time.monotonic()
        LOG.warning('Post-copy migration failed; resuming it for up to '
                    '%.0f s', retry_s)
        not_waiting = 0
        while True:
            self.recovery_attempts += 1
            resumed = False
            try:
                via.resume_post_copy(dest_uri, params, flags)
                resumed = True
            except actuator_mod.DestinationNotWaiting as e:
                error = e
                not_waiting += 1
            except actuator_mod.ActionRefused as e:
                error = e
                not_waiting = 0
            if not self.actuator.postcopy_failed():
                self.post_copy_recovery = RECOVERY_RECOVERED
                if resumed:
                    break
                # QEMU finished the post-copy while the source's libvirtd
                # saw the job fail (the destination's libvirtd died):
                # libvirt then undefined the source's domain. Retrying
                # would only hold the migration call, and nova's .end.
                self.completed_without_resume = True
                LOG.warning('The failed post-copy migration completed '
                            'without a resume (the source\'s domain is '
                            'gone or no longer failed); last resume '
                            'error: %s', error)
                break
            if resumed:
                error = 'still failed after the resume'
                not_waiting = 0
            if not_waiting >= DESTINATION_GONE_REFUSALS:
                self.post_copy_recovery = RECOVERY_SPLIT
                self.destination_gone = True
                LOG.error('Post-copy not recovered: the destination has no '
                          'QEMU to resume into (%(n)d refusals in a row); '
                          'the guest\'s state on the destination is lost, '
                          'and a stale copy is paused on the source; '
                          'last error: %(error)s',
                          {'n': not_waiting, 'error': error})
                break
            if time.monotonic() - started >= retry_s:
                self.post_copy_recovery = RECOVERY_SPLIT
                LOG.error('Post-copy not recovered within %(s).0f s '
                          '(%(n)d attempts): the guest is paused on the '
                          'source and its state is on the destination; '
                          'last error: %(error)s',
                          {'s': retry_s, 'n': self.recovery_attempts,
                           'error': error})
                break
            time.sleep(interval_s)
        self.recovery_s = time.monotonic() - started
        if self.post_copy_recovery == RECOVERY_RECOVERED:
            LOG.warning('Post-copy migration recovered after %(s).1f s '
                        '(%(n)d attempts)', {'s': self.recovery_s,
                                             'n': self.recovery_attempts})
        return self.post_copy_recovery

    def outcome(self, completed, cancelled):
        """How the migration ended; see the module function ``outcome``."""
        return outcome(completed, cancelled, self.aborted_by_plan)


def outcome(completed, cancelled, aborted_by_plan=False):
    """The outcome of a job that ran, in ``report.OUTCOMES``' words.

    :param completed: the job completed (the guest runs on the
        destination).
    :param cancelled: the job was cancelled (``abortJob``, by the plan or
        by somebody else); otherwise a job that did not complete failed.
    :param aborted_by_plan: libvirt took the plan's abort.
    """
    if completed:
        return report_mod.OUTCOME_COMPLETED
    if cancelled:
        return (report_mod.OUTCOME_ABORTED if aborted_by_plan
                else report_mod.OUTCOME_CANCELLED)
    return report_mod.OUTCOME_FAILED
