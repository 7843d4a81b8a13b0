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

"""The plan applier against a recording actuator."""

from nova_migtuner.engine import actuator as actuator_mod
from nova_migtuner.engine import applier as applier_mod
from nova_migtuner.engine import report
from nova_migtuner.engine import stats
from nova_migtuner.planning import plan as P
from tests.engine.plans import make_plan

MiB = 1024 ** 2


class RecordingActuator:
    def __init__(self, refuse=(), held_downtime=None):
        self.refuse = set(refuse)
        self.held_downtime = held_downtime
        self.calls = []
        self.paused = False

    def _do(self, name, *args):
        self.calls.append((name,) + args)
        if name in self.refuse:
            raise actuator_mod.ActionRefused('%s refused' % name)

    def set_max_downtime(self, ms):
        self._do('downtime', ms)
        self.held_downtime = ms

    def max_downtime(self):
        return self.held_downtime

    def start_post_copy(self):
        self._do('post-copy')

    def suspend(self):
        self._do('suspend')
        self.paused = True

    def resume(self):
        self._do('resume')
        self.paused = False

    def abort_job(self):
        self._do('abort')

    def is_paused(self):
        return self.paused


def sample(t, remaining=100 * MiB):
    return stats.JobSample.from_job_stats(
        {'type': 2, 'memory_iteration': 1, 'memory_remaining': remaining,
         'memory_bps': 32 * MiB, 'data_processed': int(t * 10 * MiB)},
        taken_at=t)


def test_downtime_set_again_when_the_job_reset_it():
    act = RecordingActuator()
    applier = applier_mod.PlanApplier(make_plan(initial_downtime_ms=123),
                                      act, started_at=0.0)
    applier.set_initial_downtime()
    act.held_downtime = 300       # an older libvirt reset it
    applier.observe(sample(0.5))
    assert act.calls == [('downtime', 123), ('downtime', 123)]
    applier.observe(sample(1.0))
    assert len(act.calls) == 2


def test_downtime_set_at_the_first_poll_when_not_set_before():
    act = RecordingActuator(refuse={'downtime'})
    applier = applier_mod.PlanApplier(make_plan(initial_downtime_ms=123),
                                      act, started_at=0.0)
    applier.observe(sample(0.5))
    assert applier.downtime_ms is None
    act.refuse.clear()
    applier.observe(sample(1.0))
    assert applier.downtime_ms == 123


def test_pause_is_tracked_and_undone_after_a_failed_migration():
    plan = make_plan(max_pause_ms=60000, escalation=(
        P.EscalationStep(P.TRIGGER_ELAPSED, 1, P.ACTION_PAUSE),))
    act = RecordingActuator()
    applier = applier_mod.PlanApplier(plan, act, started_at=0.0)
    [done] = applier.observe(sample(1, remaining=1 * MiB))
    assert done.applied and applier.paused_by_plan and act.paused
    assert applier.resume_if_paused()
    assert not act.paused and act.calls[-1] == ('resume',)
    assert not applier.resume_if_paused()


def test_refused_action_is_recorded_not_raised():
    plan = make_plan(flags=(P.LIVE, P.POSTCOPY), escalation=(
        P.EscalationStep(P.TRIGGER_ELAPSED, 1, P.ACTION_POST_COPY),))
    applier = applier_mod.PlanApplier(
        plan, RecordingActuator(refuse={'post-copy'}), started_at=0.0)
    [done] = applier.observe(sample(1))
    assert (done.applied, done.error) == (False, 'post-copy refused')
    assert not applier.post_copy and applier.applied == [done]


def test_outcome_names_who_stopped_the_job():
    plan = make_plan(deadline_s=1)
    applier = applier_mod.PlanApplier(plan, RecordingActuator(),
                                      started_at=0.0)
    assert applier.outcome(True, False) == report.OUTCOME_COMPLETED
    assert applier.outcome(False, True) == report.OUTCOME_CANCELLED
    assert applier.outcome(False, False) == report.OUTCOME_FAILED
    [abort] = applier.observe(sample(1))
    assert abort.applied and applier.abort_requested
    assert applier.outcome(False, True) == report.OUTCOME_ABORTED


def test_refused_abort_is_not_counted_as_requested():
    applier = applier_mod.PlanApplier(make_plan(deadline_s=1),
                                      RecordingActuator(refuse={'abort'}),
                                      started_at=0.0)
    applier.observe(sample(1))
    assert not applier.abort_requested and not applier.aborted_by_plan


PAUSE_AT_1S = make_plan(max_pause_ms=60000, escalation=(
    P.EscalationStep(P.TRIGGER_ELAPSED, 1, P.ACTION_PAUSE),))


class FlakyResumeActuator(RecordingActuator):
    """Refuses ``resume`` *refusals* times (always with None)."""

    def __init__(self, refusals=None, **kwargs):
        super().__init__(**kwargs)
        self.refusals = refusals

    def resume(self):
        self.calls.append(('resume',))
        if self.refusals is None or self.refusals > 0:
            if self.refusals is not None:
                self.refusals -= 1
            raise actuator_mod.ActionRefused('resume refused')
        self.paused = False


def test_resume_is_retried_until_the_guest_runs():
    act = FlakyResumeActuator(refusals=2)
    applier = applier_mod.PlanApplier(PAUSE_AT_1S, act, started_at=0.0)
    [done] = applier.observe(sample(1, remaining=1 * MiB))
    assert done.applied and act.paused
    assert applier.resume_if_paused()
    assert not act.paused
    assert act.calls.count(('resume',)) == 3
    assert not applier.left_paused


def test_guest_left_paused_when_resume_keeps_failing(monkeypatch):
    monkeypatch.setattr(applier_mod, 'RESUME_RETRY_S', 0.3, raising=False)
    act = FlakyResumeActuator(refusals=None)
    applier = applier_mod.PlanApplier(PAUSE_AT_1S, act, started_at=0.0)
    applier.observe(sample(1, remaining=1 * MiB))
    assert not applier.resume_if_paused()
    assert act.paused and act.calls.count(('resume',)) > 1
    assert applier.left_paused


def test_guest_paused_before_the_plan_paused_it_is_not_resumed():
    act = RecordingActuator()
    act.paused = True        # paused by somebody else before the step
    applier = applier_mod.PlanApplier(PAUSE_AT_1S, act, started_at=0.0)
    applier.observe(sample(1, remaining=1 * MiB))
    assert not applier.resume_if_paused()
    assert act.paused and ('resume',) not in act.calls
    assert not applier.left_paused


class PostCopyActuator(RecordingActuator):
    """A post-copy that failed.

    ``resume_post_copy`` fails *failures* times (the link still down),
    then completes the migration.
    """

    def __init__(self, failures):
        super().__init__()
        self.failures = failures
        self.failed = True

    def postcopy_failed(self):
        return self.failed

    def resume_post_copy(self, dest_uri, params, flags):
        self.calls.append(('resume-post-copy', dest_uri, flags))
        if self.failures is None or self.failures > 0:
            if self.failures is not None:
                self.failures -= 1
            raise actuator_mod.ActionRefused('Connection refused')
        self.failed = False


POST_COPY_AT_1S = make_plan(flags=(P.LIVE, P.POSTCOPY), escalation=(
    P.EscalationStep(P.TRIGGER_ELAPSED, 1, P.ACTION_POST_COPY),))


def switched_to_post_copy(act):
    applier = applier_mod.PlanApplier(POST_COPY_AT_1S, act, started_at=0.0)
    [done] = applier.observe(sample(1))
    assert done.applied and applier.post_copy
    return applier


def test_failed_post_copy_is_resumed_until_it_completes():
    act = PostCopyActuator(failures=2)
    applier = switched_to_post_copy(act)
    assert applier.post_copy_failed()
    result = applier.recover_post_copy('qemu+tcp://b/system', {}, 7,
                                       retry_s=5, interval_s=0.01)
    assert result == applier_mod.RECOVERY_RECOVERED
    assert applier.recovery_attempts == 3
    assert act.calls[-1] == ('resume-post-copy', 'qemu+tcp://b/system', 7)


def test_failed_post_copy_not_recovered_within_the_bound_is_split():
    act = PostCopyActuator(failures=None)
    applier = switched_to_post_copy(act)
    result = applier.recover_post_copy('qemu+tcp://b/system', {}, 7,
                                       retry_s=0.1, interval_s=0.02)
    assert result == applier_mod.RECOVERY_SPLIT
    assert applier.recovery_attempts > 1
    # The source's copy is stale: never resumed after post-copy.
    act.paused = True
    assert not applier.resume_if_paused(whoever_paused=True)
    assert ('resume',) not in act.calls


class DestinationGoneActuator(PostCopyActuator):
    """Resumes refused: *answers* in order, then "not waiting" for ever."""

    def __init__(self, answers):
        super().__init__(failures=None)
        self.answers = list(answers)

    def resume_post_copy(self, dest_uri, params, flags):
        self.calls.append(('resume-post-copy', dest_uri, flags))
        error = self.answers.pop(0) if self.answers else 'gone'
        if error == 'gone':
            raise actuator_mod.DestinationNotWaiting(
                "domain 'g' is not processing incoming migration")
        raise actuator_mod.ActionRefused('Connection refused')


def test_destination_without_its_qemu_ends_the_recovery_before_its_bound():
    # Refusals that say "not waiting" count only in a row: a connection
    # refused in between starts the count again.
    answers = ['gone'] * 3 + ['refused']
    act = DestinationGoneActuator(answers)
    applier = switched_to_post_copy(act)
    result = applier.recover_post_copy('qemu+tcp://b/system', {}, 7,
                                       retry_s=600, interval_s=0)
    assert result == applier_mod.RECOVERY_SPLIT
    assert applier.destination_gone
    assert applier.recovery_attempts == (
        len(answers) + applier_mod.DESTINATION_GONE_REFUSALS)


class FinishedByQemuActuator(PostCopyActuator):
    """The source's libvirtd saw the post-copy fail, but QEMU finished it:
    after *failures* refused resumes the source's domain is gone.
    """

    def __init__(self, failures):
        super().__init__(failures=None)
        self.left = failures

    def resume_post_copy(self, dest_uri, params, flags):
        self.calls.append(('resume-post-copy', dest_uri, flags))
        self.left -= 1
        if self.left <= 0:
            self.failed = False     # libvirt undefined the source domain
        raise actuator_mod.ActionRefused('Domain not found')


def test_post_copy_finished_by_qemu_ends_the_recovery_at_once():
    # Measured through nova with the destination's libvirtd killed after
    # the switch: the guest ran on the destination, but the resumes went
    # on for 120 s and held nova's .end back until the server was gone.
    act = FinishedByQemuActuator(failures=2)
    applier = switched_to_post_copy(act)
    result = applier.recover_post_copy('qemu+tcp://b/system', {}, 7,
                                       retry_s=600, interval_s=0)
    assert result == applier_mod.RECOVERY_RECOVERED
    assert applier.completed_without_resume
    assert applier.recovery_attempts == 2


def test_link_still_down_is_not_taken_for_a_gone_destination():
    failures = applier_mod.DESTINATION_GONE_REFUSALS + 5
    act = PostCopyActuator(failures=failures)
    applier = switched_to_post_copy(act)
    result = applier.recover_post_copy('qemu+tcp://b/system', {}, 7,
                                       retry_s=600, interval_s=0)
    assert result == applier_mod.RECOVERY_RECOVERED
    assert applier.recovery_attempts == failures + 1
    assert not applier.destination_gone


def test_no_recovery_without_a_failed_post_copy():
    act = PostCopyActuator(failures=0)
    act.failed = False
    applier = switched_to_post_copy(act)
    assert applier.recover_post_copy('u', {}, 0) is None
    assert applier.recovery_attempts == 0


class FakeStateDomain:
    def __init__(self, state):
        self._state = state
        self.migrations = []

    def state(self, flags=0):
        return list(self._state)

    def migrateToURI3(self, uri, params, flags):
        self.migrations.append((uri, flags))


class FakeLibvirt:
    VIR_MIGRATE_POSTCOPY = 1 << 15
    VIR_MIGRATE_POSTCOPY_RESUME = 1 << 19

    class libvirtError(Exception):
        pass


def test_domain_actuator_reads_libvirts_post_copy_failed_states():
    def failed(state):
        return actuator_mod.DomainActuator(FakeStateDomain(state),
                                           FakeLibvirt).postcopy_failed()

    assert failed((3, 13))        # paused, post-copy failed (source)
    assert failed((1, 11))        # running, post-copy failed (dest)
    assert not failed((3, 12))    # paused in a post-copy that works
    assert not failed((1, 1))


def test_domain_actuator_resumes_post_copy_with_libvirts_flag():
    domain = FakeStateDomain((3, 13))
    actuator_mod.DomainActuator(domain, FakeLibvirt).resume_post_copy(
        'qemu+tcp://b/system', {}, 1)
    assert domain.migrations == [
        ('qemu+tcp://b/system',
         1 | FakeLibvirt.VIR_MIGRATE_POSTCOPY |
         FakeLibvirt.VIR_MIGRATE_POSTCOPY_RESUME)]
