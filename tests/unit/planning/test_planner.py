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

"""Choosing the strategy, its plugins and options, and the plan invariants."""

import dataclasses

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import pytest

from nova_migtuner.planning import context as ctx
from nova_migtuner.planning import plan as P
from nova_migtuner.planning import planner
from nova_migtuner import units

from tests.unit.planning.factories import ALL
from tests.unit.planning.factories import GiB
from tests.unit.planning.factories import make
from tests.unit.planning.factories import MiB


def test_all_four_strategies_are_registered_plugins():
    assert set(ALL) <= set(planner.available_strategies())
    intents = {planner.get_strategy(n).intent for n in ALL}
    assert len(intents) == 4


def test_unknown_strategy_lists_the_available_ones():
    with pytest.raises(planner.UnknownStrategyError) as exc:
        planner.get_strategy('yolo')
    assert "'yolo'" in str(exc.value)
    for name in ALL:
        assert name in str(exc.value)


def test_guest_wish_lowers_the_cap_but_cannot_raise_it():
    lower = make(max_downtime_ms=500,
                 policy=ctx.GuestPolicy(max_downtime_ms=200))
    higher = make(max_downtime_ms=500,
                  policy=ctx.GuestPolicy(max_downtime_ms=5000))
    assert planner.build_plan(lower).max_downtime_ms == 200
    assert planner.build_plan(higher).max_downtime_ms == 500


def test_flavor_can_forbid_post_copy_that_the_admin_permits():
    c = make(memory=16 * GiB, dirty=300 * MiB, permit_post_copy=True,
             policy=ctx.GuestPolicy(permit_post_copy=False))
    for name in ALL:
        plan = planner.build_plan(c, operator_strategy=name)
        assert P.POSTCOPY not in plan.flags


def test_invariant_check_rejects_a_plugin_that_breaks_limits():
    c = make(permit_post_copy=False, max_downtime_ms=300)
    good = planner.build_plan(c)
    too_long = dataclasses.replace(good, initial_downtime_ms=900)
    with pytest.raises(planner.PlanInvariantError, match='above the cap'):
        planner.check_invariants(too_long, c)
    post = dataclasses.replace(good, flags=good.flags + (P.POSTCOPY,))
    with pytest.raises(planner.PlanInvariantError, match='post-copy'):
        planner.check_invariants(post, c)
    paused = dataclasses.replace(good, flags=(P.AUTO_CONVERGE,))
    with pytest.raises(planner.PlanInvariantError, match='pauses'):
        planner.check_invariants(paused, c)


limits_st = st.builds(
    ctx.AdminLimits,
    max_downtime_ms=st.integers(10, 60000),
    permit_post_copy=st.booleans(),
    permit_auto_converge=st.booleans(),
    permit_pause=st.booleans(),
    max_pause_downtime_ms=st.integers(10, 600000),
    permit_compression=st.booleans(),
    max_parallel_connections=st.integers(1, 32),
    max_bandwidth_mib_s=st.integers(0, 100000),
    completion_budget_per_gib_s=st.integers(1, 10000),
    stall_window_s=st.integers(1, 600),
    max_deferral_s=st.integers(0, 86400),
    instance_spacing_s=st.integers(0, 86400),
    host_spacing_s=st.integers(0, 3600),
    busy_host_cpu_load=st.floats(0, 1))
policy_st = st.builds(
    ctx.GuestPolicy,
    max_downtime_ms=st.none() | st.integers(10, 60000),
    permit_post_copy=st.none() | st.booleans(),
    permit_auto_converge=st.none() | st.booleans())


@st.composite
def contexts(draw):
    memory = draw(st.integers(64 * MiB, 4 * units.TiB))
    touched = draw(st.none() | st.integers(0, memory))
    return ctx.MigrationInputs(
        memory_bytes=memory,
        link_bandwidth=draw(st.floats(1e5, 5e10)),
        touched_bytes=touched,
        dirty_rate=draw(st.none() | st.floats(0, 2e10)),
        working_set_bytes=draw(st.none() | st.integers(0, memory)),
        source_host_load=draw(st.none() | st.floats(0, 1)),
        seconds_since_instance_migration=draw(
            st.none() | st.floats(0, 1e6)),
        seconds_since_host_migration=draw(st.none() | st.floats(0, 1e6)),
        policy=draw(policy_st),
        limits=draw(limits_st))


@settings(max_examples=300, deadline=None)
@given(contexts(), st.sampled_from(ALL))
def test_random_contexts_never_crash_or_break_invariants(c, name):
    plan = planner.build_plan(c, operator_strategy=name)
    planner.check_invariants(plan, c)   # raises on any broken limit
    assert plan.initial_downtime_ms <= c.max_downtime_ms
    if not c.post_copy_permitted:
        assert P.POSTCOPY not in plan.flags
        assert plan.deadline_action != P.ACTION_POST_COPY
    if P.LIVE not in plan.flags:
        assert c.limits.permit_pause
    if name == 'conservative':
        assert P.POSTCOPY not in plan.flags
        assert plan.deadline_action == P.ACTION_ABORT
    assert plan.timing.action in (P.TIMING_START, P.TIMING_WAIT,
                                  P.TIMING_REFUSE)
    assert plan.timing.max_wait_seconds <= c.limits.max_deferral_s
    assert plan.explain()


def _manager(*extensions):
    import stevedore
    return stevedore.ExtensionManager.make_test_instance(list(extensions))


def _ext(name, plugin):
    import stevedore
    return stevedore.extension.Extension(name, None, plugin, None)


def test_entry_point_name_must_match_the_strategy_class():
    from nova_migtuner.planning.strategies import balanced
    from nova_migtuner.planning.strategies import fastest
    from oslo_config import cfg
    loaded = planner.strategies_from(
        _manager(_ext('balanced', balanced.BalancedStrategy),
                 _ext('speedy', fastest.FastestStrategy)),
        cfg.ConfigOpts())
    assert list(loaded) == ['balanced']


def test_strategy_tunables_are_options_of_its_own_group():
    from nova_migtuner.planning.strategies import fastest
    from oslo_config import cfg
    conf = cfg.ConfigOpts()
    loaded = planner.strategies_from(
        _manager(_ext('fastest', fastest.FastestStrategy)), conf)
    conf([], default_config_files=[])
    inputs = make(memory=8 * GiB, dirty=1 * MiB, permit_post_copy=True)
    assert loaded['fastest'].build(inputs).prediction.method == 'pre-copy'
    # A gain of 1.0 takes post-copy whenever it is faster at all.
    conf.set_override('post_copy_gain', 1.0, 'migtuner_strategy_fastest')
    assert conf.migtuner_strategy_fastest.post_copy_gain == 1.0
    groups = dict(planner.list_strategy_opts())
    assert [o.dest for o in groups['migtuner_strategy_fastest']] == [
        'post_copy_gain']
    assert [o.dest for o in groups['migtuner_strategy_balanced']] == [
        'max_comfortable_rounds', 'auto_converge_tolerance']


# 2 GiB at 40 MiB/s over 1 Gbit/s: post-copy is faster than pre-copy by
# more than the default post_copy_gain (1.1), not by 100.
GAIN_CASE = dict(memory=2 * GiB, dirty=40 * MiB, link=125e6,
                 permit_post_copy=True)


def test_nova_conf_tunes_the_strategies_inside_nova():
    # Inside nova the planner's strategies read nova's global CONF.
    from oslo_config import cfg
    inputs = make(**GAIN_CASE)
    planner.available_strategies()      # registers the strategies' groups
    assert planner.build_plan(
        inputs, operator_strategy='fastest').prediction.method == 'post-copy'
    cfg.CONF.set_override('post_copy_gain', 100, 'migtuner_strategy_fastest')
    try:
        assert planner.build_plan(
            inputs,
            operator_strategy='fastest').prediction.method == 'pre-copy'
    finally:
        cfg.CONF.clear_override('post_copy_gain', 'migtuner_strategy_fastest')


def test_strategies_for_a_conf_read_that_conf():
    from oslo_config import cfg
    conf = cfg.ConfigOpts()
    strategies = planner.strategies_for(conf)
    conf([], default_config_files=[])
    assert set(ALL) <= set(strategies)
    conf.set_override('post_copy_gain', 100, 'migtuner_strategy_fastest')
    inputs = make(**GAIN_CASE)
    assert planner.build_plan(
        inputs, operator_strategy='fastest',
        strategies=strategies).prediction.method == 'pre-copy'
    # nova's global CONF is left alone.
    assert planner.build_plan(
        inputs, operator_strategy='fastest').prediction.method == 'post-copy'
