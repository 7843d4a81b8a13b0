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
