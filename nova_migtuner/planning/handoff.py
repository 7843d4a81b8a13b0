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

"""Hand the destination's completed job statistics to the source.

Only the destination can read a migration's final numbers: after the
source domain is undefined, libvirt on the source has nothing left
(it synthesises an all-zero COMPLETED job). The destination reads
``jobStats(VIR_DOMAIN_JOB_STATS_COMPLETED)`` in
``post_live_migration_at_destination`` and stores the few
numbers the report needs in the instance's system metadata (nova saves the
instance right after that call); the source, whose ``post_method`` waits
for that RPC call, reads them back, removes them and reports.

One key per number keeps every value far below the 255 characters a system
metadata value may hold. Pure functions over dicts.
"""

PREFIX = 'migtuner_final_'
# libvirt jobStats keys carried over (integers).
KEYS = ('type', 'time_elapsed', 'time_elapsed_net', 'downtime',
        'downtime_net', 'setup_time', 'data_total', 'data_processed',
        'memory_total', 'memory_processed', 'memory_iteration',
        'memory_postcopy_requests', 'memory_bps', 'memory_dirty_rate',
        'memory_page_size', 'auto_converge_throttle', 'disk_total',
        'disk_processed')


def to_system_metadata(raw_stats):
    """System metadata items for *raw_stats*; {} when it has no numbers."""
    items = {}
    for key in KEYS:
        value = (raw_stats or {}).get(key)
        if isinstance(value, bool) or value is None:
            continue
        try:
            items[PREFIX + key] = str(int(value))
        except (TypeError, ValueError):
            continue
    if set(items) - {PREFIX + 'type'}:
        return items
    return {}


def from_system_metadata(system_metadata):
    """``(raw_stats, keys)``: the stats dict and the keys to remove."""
    raw = {}
    keys = []
    for key, value in (system_metadata or {}).items():
        if not key.startswith(PREFIX):
            continue
        keys.append(key)
        name = key[len(PREFIX):]
        if name in KEYS:
            try:
                raw[name] = int(value)
            except (TypeError, ValueError):
                continue
    return raw, sorted(keys)
