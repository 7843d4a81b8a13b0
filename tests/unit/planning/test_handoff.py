"""The destination's statistics handed to the source in system metadata."""

from nova_migtuner.planning import handoff
from nova_migtuner import units


GiB = units.GiB


def test_handoff_round_trip_and_limits():
    raw = {'type': 3, 'downtime': 42, 'time_elapsed': 12345,
           'data_processed': 5 * GiB, 'errmsg': 'x' * 1000,
           'memory_iteration': 7, 'bogus': 1}
    items = handoff.to_system_metadata(raw)
    assert all(len(v) <= 255 and len(k) <= 255 for k, v in items.items())
    assert 'migtuner_final_errmsg' not in items
    back, keys = handoff.from_system_metadata(
        dict(items, unrelated='1'))
    assert back == {'type': 3, 'downtime': 42, 'time_elapsed': 12345,
                    'data_processed': 5 * GiB, 'memory_iteration': 7}
    assert keys == sorted(items)


def test_handoff_nothing_for_numberless_stats():
    # What the destination reads after a post-copy migration.
    assert handoff.to_system_metadata({'type': 0}) == {}
    assert handoff.to_system_metadata(None) == {}
