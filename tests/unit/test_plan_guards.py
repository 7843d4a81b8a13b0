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

"""The plan invariants every strategy must keep."""

import dataclasses

import pytest

from nova_migtuner.planning import context as ctx
from nova_migtuner.planning import plan as P
from nova_migtuner.planning import planner
from nova_migtuner import units

GiB = units.GiB
MiB = units.MiB


def make(memory=4 * GiB, link=110e6, **limits):
    return ctx.MigrationInputs(memory_bytes=memory, link_bandwidth=link,
                               dirty_rate=20 * MiB,
                               limits=ctx.AdminLimits(**limits))


@pytest.fixture
def good():
    c = make(permit_pause=True, max_pause_downtime_ms=2000,
             completion_budget_per_gib_s=100)
    return c, planner.build_plan(c)


def broken(plan, c, **changes):
    with pytest.raises(planner.PlanInvariantError) as exc:
        planner.check_invariants(dataclasses.replace(plan, **changes), c)
    return str(exc.value)


def test_a_pause_longer_than_the_admin_bound_is_refused(good):
    c, plan = good
    assert 'max_pause_downtime_ms' in broken(
        plan, c, deadline_action=P.ACTION_PAUSE, max_pause_ms=2001)
    planner.check_invariants(dataclasses.replace(
        plan, deadline_action=P.ACTION_PAUSE, max_pause_ms=2000), c)


@pytest.mark.parametrize('deadline', [0, -1, 401, float('inf'),
                                      float('nan')])
def test_a_deadline_outside_the_budget_is_refused(good, deadline):
    c, plan = good     # 4 GiB x 100 s/GiB = 400 s
    assert 'deadline' in broken(plan, c, completion_deadline_s=deadline)


def test_an_elapsed_escalation_after_the_deadline_is_refused(good):
    c, plan = good
    late = P.EscalationStep(P.TRIGGER_ELAPSED, plan.completion_deadline_s +
                            1, P.ACTION_ABORT)
    assert 'outside the deadline' in broken(
        plan, c, escalation=plan.escalation + (late,))


def test_a_negative_bandwidth_is_refused_without_a_cap(good):
    c, plan = good
    assert c.limits.max_bandwidth_mib_s == 0
    assert 'negative' in broken(plan, c, bandwidth_mib_s=-5)


def test_compression_with_parallel_connections_is_refused():
    c = make(permit_compression=True, max_parallel_connections=4)
    plan = planner.build_plan(c)
    assert 'libvirt refuses' in broken(
        plan, c, flags=plan.flags + (P.COMPRESSED, P.PARALLEL),
        compression=P.COMPRESSION_XBZRLE, parallel_connections=4)


def test_strategies_never_plan_compression_with_parallel_connections():
    # A fast link wants parallel connections, an idle host compression.
    c = ctx.MigrationInputs(
        memory_bytes=16 * GiB, link_bandwidth=100e9 / 8,
        dirty_rate=4 * GiB, source_host_load=0.05,
        limits=ctx.AdminLimits(permit_compression=True,
                               max_parallel_connections=8))
    for name in planner.available_strategies():
        plan = planner.build_plan(c, operator_strategy=name)
        assert not (P.COMPRESSED in plan.flags and
                    plan.parallel_connections > 1), name
