"""Every strategy, the plan invariants, and property-based checks."""

import dataclasses

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import pytest

from nova_migtuner.planning import context as ctx
from nova_migtuner.planning import plan as P
from nova_migtuner.planning import planner
from nova_migtuner.planning.strategies import base as base_mod
from nova_migtuner import units

GiB = units.GiB
MiB = units.MiB
ALL = ('balanced', 'min_downtime', 'fastest', 'conservative')


def make(memory=8 * GiB, dirty=20 * MiB, link=110e6, **limits):
    policy = limits.pop('policy', ctx.GuestPolicy())
    extra = {k: limits.pop(k) for k in list(limits)
             if k in ('source_host_load', 'seconds_since_instance_migration',
                      'touched_bytes', 'working_set_bytes')}
    return ctx.MigrationInputs(
        memory_bytes=memory, link_bandwidth=link, dirty_rate=dirty,
        policy=policy, limits=ctx.AdminLimits(**limits), **extra)


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


@pytest.mark.parametrize('name', ALL)
def test_idle_guest_gets_a_live_precopy_that_completes(name):
    plan = planner.build_plan(make(memory=2 * GiB, dirty=0.0),
                              operator_strategy=name)
    assert P.LIVE in plan.flags
    assert plan.prediction.converges
    assert plan.prediction.method in ('pre-copy', 'auto-converge')
    assert plan.prediction.total_seconds == pytest.approx(2 * GiB / 110e6)
    assert plan.timing.action == P.TIMING_START


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


def test_conservative_refuses_what_cannot_converge():
    plan = planner.build_plan(
        make(memory=16 * GiB, dirty=400 * MiB, permit_post_copy=True,
             permit_auto_converge=False),
        operator_strategy='conservative')
    assert plan.timing.action == P.TIMING_REFUSE
    assert P.POSTCOPY not in plan.flags
    assert plan.deadline_action == P.ACTION_ABORT


def test_min_downtime_prefers_post_copy_to_longer_pauses():
    plan = planner.build_plan(
        make(memory=8 * GiB, dirty=60 * MiB, permit_post_copy=True),
        operator_strategy='min_downtime')
    assert plan.initial_downtime_ms == 100
    assert plan.escalation[0].action == P.ACTION_POST_COPY


def test_min_downtime_compresses_only_with_spare_host_cpu():
    base = dict(memory=8 * GiB, dirty=60 * MiB, permit_compression=True)
    idle_host = planner.build_plan(make(source_host_load=0.2, **base),
                                   operator_strategy='min_downtime')
    busy_host = planner.build_plan(make(source_host_load=0.8, **base),
                                   operator_strategy='min_downtime')
    assert idle_host.compression == P.COMPRESSION_XBZRLE
    assert P.COMPRESSED in idle_host.flags
    assert busy_host.compression is None


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


def test_plan_dict_has_the_documented_fields():
    d = planner.build_plan(make()).to_dict()
    for key in ('strategy', 'flags', 'initial_downtime_ms',
                'bandwidth_mib_s', 'escalation', 'timing', 'prediction',
                'explain'):
        assert key in d
    for key in ('converges', 'total_seconds', 'bytes', 'downtime_ms',
                'rounds'):
        assert key in d['prediction']


# -- property-based: random contexts never crash or break an invariant ---

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


# -- plugin identity and per-strategy options --------------------------------

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


def test_plan_without_auto_converge_sets_no_throttle_steps():
    plan = planner.build_plan(make(dirty=0))
    assert P.AUTO_CONVERGE not in plan.flags
    assert plan.auto_converge_initial_pct is None
