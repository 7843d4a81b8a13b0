"""The plan as a dict (the CLI's JSON, the notifications)."""

from nova_migtuner.planning import planner

from tests.unit.planning.factories import make


def test_plan_dict_has_the_documented_fields():
    d = planner.build_plan(make()).to_dict()
    for key in ('strategy', 'flags', 'initial_downtime_ms',
                'bandwidth_mib_s', 'escalation', 'timing', 'prediction',
                'explain'):
        assert key in d
    for key in ('converges', 'total_seconds', 'bytes', 'downtime_ms',
                'rounds'):
        assert key in d['prediction']
