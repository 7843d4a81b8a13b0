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

from nova_migtuner.engine import actuator as actuator_mod
from nova_migtuner.engine import escalation as escalation_mod
from nova_migtuner.engine import report as report_mod
from nova_migtuner.planning import plan as plan_mod

LOG = logging.getLogger(__name__)

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
        # must still lead to a resume.
        self._may_have_paused = False
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
            self._may_have_paused = True
            self.actuator.suspend()
        elif kind == plan_mod.ACTION_ABORT:
            self.abort_requested = True
            try:
                self.actuator.abort_job()
            except actuator_mod.ActionRefused:
                self.abort_requested = self.aborted_by_plan
                raise

    # -- after the job -------------------------------------------------------

    def resume_if_paused(self, where=None, name='source',
                         whoever_paused=False):
        """Resume the guest on *where* (default: the source) if the plan
        paused it (or anybody, with *whoever_paused*) and it is still
        paused; True if it was resumed.
        """
        if not (self._may_have_paused or whoever_paused):
            return False
        where = self.actuator if where is None else where
        try:
            if not where.is_paused():
                return False
            where.resume()
        except actuator_mod.ActionRefused as e:
            LOG.error('Could not resume the guest on the %(name)s: '
                      '%(error)s', {'name': name, 'error': e})
            return False
        self._may_have_paused = False
        LOG.warning('Resumed the guest on the %s: it was still paused after '
                    'the migration', name)
        return True

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
