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

"""Shortest total time: post-copy after the first pass where faster."""

from nova_migtuner.planning import plan as P
from nova_migtuner.planning import planner

from tests.unit.planning.factories import GiB
from tests.unit.planning.factories import make
from tests.unit.planning.factories import MiB


def test_fastest_switches_to_post_copy_after_the_first_pass():
    plan = planner.build_plan(
        make(memory=8 * GiB, dirty=200 * MiB, permit_post_copy=True),
        operator_strategy='fastest')
    assert plan.escalation[0].trigger == P.TRIGGER_ITERATION
    assert plan.escalation[0].action == P.ACTION_POST_COPY
    assert plan.initial_downtime_ms == plan.max_downtime_ms


def test_fastest_keeps_pre_copy_when_post_copy_is_not_faster():
    plan = planner.build_plan(make(memory=8 * GiB, dirty=1 * MiB,
                                   permit_post_copy=True),
                              operator_strategy='fastest')
    assert plan.prediction.method == 'pre-copy'
