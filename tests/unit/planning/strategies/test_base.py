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

"""What every strategy shares: predictions, connections, the deadline."""

import pytest

from nova_migtuner.planning import plan as P
from nova_migtuner.planning import planner

from tests.unit.planning.factories import ALL
from tests.unit.planning.factories import GiB
from tests.unit.planning.factories import make
from tests.unit.planning.factories import MiB


@pytest.mark.parametrize('name', ALL)
def test_idle_guest_gets_a_live_precopy_that_completes(name):
    plan = planner.build_plan(make(memory=2 * GiB, dirty=0.0),
                              operator_strategy=name)
    assert P.LIVE in plan.flags
    assert plan.prediction.converges
    assert plan.prediction.method in ('pre-copy', 'auto-converge')
    assert plan.prediction.total_seconds == pytest.approx(2 * GiB / 110e6)
    assert plan.timing.action == P.TIMING_START


def test_fast_links_get_parallel_connections_without_post_copy():
    c = make(memory=64 * GiB, dirty=10 * MiB, link=25e9 / 8,
             max_parallel_connections=4)
    plan = planner.build_plan(c)
    assert plan.parallel_connections == 3
    assert P.PARALLEL in plan.flags


def test_pause_at_deadline_only_when_permitted_and_short():
    stuck = dict(memory=4 * GiB, dirty=200 * MiB, permit_auto_converge=False,
                 working_set_bytes=100 * MiB)
    short = planner.build_plan(make(permit_pause=True,
                                    max_pause_downtime_ms=2000, **stuck))
    assert short.deadline_action == P.ACTION_PAUSE
    assert short.max_pause_ms == 2000
    never = planner.build_plan(make(permit_pause=False, **stuck))
    assert never.deadline_action == P.ACTION_ABORT
    assert never.max_pause_ms == 0


def test_plan_without_auto_converge_sets_no_throttle_steps():
    plan = planner.build_plan(make(dirty=0))
    assert P.AUTO_CONVERGE not in plan.flags
    assert plan.auto_converge_initial_pct is None
