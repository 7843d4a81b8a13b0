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
