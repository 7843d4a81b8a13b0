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

"""Whether a migration starts now, waits or is refused."""

import pytest

from nova_migtuner.planning import plan as P
from nova_migtuner.planning import planner

from tests.unit.planning.factories import make


def test_spacing_waits_or_refuses():
    wait = planner.build_plan(make(instance_spacing_s=60, max_deferral_s=300,
                                   seconds_since_instance_migration=20))
    assert wait.timing.action == P.TIMING_WAIT
    assert wait.timing.wait_for == P.WAIT_FOR_SPACING
    assert wait.timing.max_wait_seconds == pytest.approx(40)
    refuse = planner.build_plan(make(instance_spacing_s=600,
                                     max_deferral_s=60,
                                     seconds_since_instance_migration=20))
    assert refuse.timing.action == P.TIMING_REFUSE
    assert 'instance_spacing_s 600 s' in refuse.timing.reason


def test_busy_host_waits_for_a_quieter_moment():
    plan = planner.build_plan(make(source_host_load=0.95, max_deferral_s=120,
                                   busy_host_cpu_load=0.85))
    assert plan.timing.action == P.TIMING_WAIT
    assert plan.timing.wait_for == P.WAIT_FOR_QUIET
    assert '95 %' in plan.timing.reason
