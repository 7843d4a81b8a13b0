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

"""Never post-copy, never pause."""

from nova_migtuner.planning import plan as P
from nova_migtuner.planning import planner

from tests.unit.planning.factories import GiB
from tests.unit.planning.factories import make
from tests.unit.planning.factories import MiB


def test_conservative_refuses_what_cannot_converge():
    plan = planner.build_plan(
        make(memory=16 * GiB, dirty=400 * MiB, permit_post_copy=True,
             permit_auto_converge=False),
        operator_strategy='conservative')
    assert plan.timing.action == P.TIMING_REFUSE
    assert P.POSTCOPY not in plan.flags
    assert plan.deadline_action == P.ACTION_ABORT
