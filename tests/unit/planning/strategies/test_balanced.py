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

"""The default strategy: live pre-copy, escalated step by step."""

from nova_migtuner.planning import context as ctx
from nova_migtuner.planning import plan as P
from nova_migtuner.planning import planner
from nova_migtuner.planning.strategies import base as base_mod

from tests.unit.planning.factories import GiB
from tests.unit.planning.factories import make
from tests.unit.planning.factories import MiB


def test_balanced_on_a_fast_dirtier_uses_post_copy_only_when_permitted():
    busy = dict(memory=32 * GiB, dirty=190 * MiB, link=110e6)
    allowed = planner.build_plan(make(permit_post_copy=True, **busy))
    assert P.POSTCOPY in allowed.flags
    assert allowed.prediction.method == 'post-copy'
    assert any(s.action == P.ACTION_POST_COPY for s in allowed.escalation)
    text = ' '.join(allowed.explain())
    assert '190 MiB/s' in text and 'post-copy permitted' in text

    refused = planner.build_plan(make(permit_post_copy=False, **busy))
    assert P.POSTCOPY not in refused.flags
    assert P.AUTO_CONVERGE in refused.flags
    assert refused.deadline_action == P.ACTION_ABORT
    assert 'post-copy not permitted' in ' '.join(refused.explain())


def test_balanced_starts_low_and_raises_downtime_step_by_step():
    plan = planner.build_plan(make(memory=4 * GiB, dirty=30 * MiB,
                                   max_downtime_ms=500))
    assert plan.initial_downtime_ms == 50
    raises = [s.downtime_ms for s in plan.escalation
              if s.action == P.ACTION_RAISE_DOWNTIME]
    assert raises == sorted(raises) and raises[-1] == 500


def test_balanced_chooses_throttle_steps_and_predicts_with_them():
    # 3x the link over a small working set: auto-converge, no post-copy.
    busy = make(memory=256 * MiB, dirty=96 * MiB, link=32 * MiB,
                touched_bytes=200 * MiB, working_set_bytes=128 * MiB)
    plan = planner.build_plan(busy)
    assert P.AUTO_CONVERGE in plan.flags
    steps = (plan.auto_converge_initial_pct,
             plan.auto_converge_increment_pct)
    assert steps in base_mod.THROTTLE_STEPS
    assert steps != (20, 10)
    assert plan.prediction.method == 'auto-converge'
    text = ' '.join(plan.explain())
    assert 'throttle steps %d %% then +%d %%' % steps in text
    assert 'assumed: CPU load not measured' in text
    assert plan.to_dict()['auto_converge_initial_pct'] == steps[0]


def test_paced_guest_plans_with_its_cpu_share():
    kwargs = dict(memory_bytes=256 * MiB, link_bandwidth=32 * MiB,
                  dirty_rate=96 * MiB, touched_bytes=200 * MiB,
                  working_set_bytes=128 * MiB)
    paced = planner.build_plan(ctx.MigrationInputs(guest_cpu_load=0.3,
                                                   **kwargs))
    assert '30 % of its vCPUs (measured guest CPU load)' in ' '.join(
        paced.explain())
