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
