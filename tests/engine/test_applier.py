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
