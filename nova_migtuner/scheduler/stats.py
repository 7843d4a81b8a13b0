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

"""Host facts a compute publishes in its resource stats, and reading them.

The driver adds these strings to ``get_available_resource()['stats']``; the
resource tracker stores them in ``compute_nodes.stats`` on nova's periodic
update and the scheduler sees them in ``HostState.stats``. Stats are a flat
string-to-string map shared with nova's own keys, hence the prefix. Reading
is tolerant: a host running an older or newer migtuner, or none, yields
``None`` for what it does not report, never an exception in the scheduler.
"""

import dataclasses
from typing import FrozenSet, Optional, Tuple

PREFIX = 'migtuner_'
VERSION = PREFIX + 'stats_version'
UPDATED_AT = PREFIX + 'updated_at'
VIRT_TYPE = PREFIX + 'virt_type'
CPU_MODE = PREFIX + 'cpu_mode'
CPU_MODELS = PREFIX + 'cpu_models'
CPU_FINGERPRINT = PREFIX + 'cpu_fingerprint'
CPU_FEATURES_EXPANDED = PREFIX + 'cpu_features_expanded'
CPU_LOAD = PREFIX + 'cpu_load'
INCOMING_MIGRATIONS = PREFIX + 'incoming_migrations'
LAST_INCOMING_END = PREFIX + 'last_incoming_end'
NUMA_NODES = PREFIX + 'numa_nodes'

STATS_VERSION = '1'
_LIST_SEPARATOR = ','


@dataclasses.dataclass(frozen=True)
class HostFacts:
    """What one compute host reported about itself (None: not reported)."""
    updated_at: Optional[float] = None          # epoch seconds
    virt_type: Optional[str] = None
    cpu_mode: Optional[str] = None              # [libvirt] cpu_mode; '' unset
    cpu_models: Optional[Tuple[str, ...]] = None  # [libvirt] cpu_models
    cpu_fingerprint: Optional[str] = None
    cpu_features_expanded: Optional[FrozenSet[str]] = None
    cpu_load: Optional[float] = None   # run queue per CPU; 1.0 = all busy
    incoming_migrations: Optional[int] = None   # live, in flight to it
    last_incoming_end: Optional[float] = None   # epoch seconds
    numa_nodes: Optional[int] = None


def encode(facts):
    """The stats entries (all strings) for *facts*; unknowns are left out."""
    out = {VERSION: STATS_VERSION}

    def put(key, value, fmt=str):
        if value is not None:
            out[key] = fmt(value)

    put(UPDATED_AT, facts.updated_at, lambda v: '%.3f' % v)
    put(VIRT_TYPE, facts.virt_type)
    put(CPU_MODE, facts.cpu_mode)
    put(CPU_MODELS, facts.cpu_models, _LIST_SEPARATOR.join)
    put(CPU_FINGERPRINT, facts.cpu_fingerprint)
    put(CPU_FEATURES_EXPANDED, facts.cpu_features_expanded,
        lambda v: _LIST_SEPARATOR.join(sorted(v)))
    put(CPU_LOAD, facts.cpu_load, lambda v: '%.3f' % v)
    put(INCOMING_MIGRATIONS, facts.incoming_migrations, lambda v: '%d' % v)
    put(LAST_INCOMING_END, facts.last_incoming_end, lambda v: '%.3f' % v)
    put(NUMA_NODES, facts.numa_nodes, lambda v: '%d' % v)
    return out


def _number(stats, key, cast, minimum=None, maximum=None):
    raw = stats.get(key)
    if raw is None:
        return None
    try:
        value = cast(raw)
    except (TypeError, ValueError):
        return None
    if minimum is not None and value < minimum:
        return None
    if maximum is not None and value > maximum:
        return None
    return value


def _list(stats, key):
    raw = stats.get(key)
    if raw is None:
        return None
    return tuple(item for item in str(raw).split(_LIST_SEPARATOR) if item)


def decode(stats):
    """``HostFacts`` from a host's stats dict, or None without migtuner data.
    """
    if not stats or VERSION not in stats:
        return None
    expanded = _list(stats, CPU_FEATURES_EXPANDED)
    return HostFacts(
        updated_at=_number(stats, UPDATED_AT, float, minimum=0),
        virt_type=stats.get(VIRT_TYPE),
        cpu_mode=stats.get(CPU_MODE),
        cpu_models=_list(stats, CPU_MODELS),
        cpu_fingerprint=stats.get(CPU_FINGERPRINT),
        cpu_features_expanded=(frozenset(expanded)
                               if expanded is not None else None),
        cpu_load=_number(stats, CPU_LOAD, float, minimum=0.0),
        incoming_migrations=_number(stats, INCOMING_MIGRATIONS, int,
                                    minimum=0),
        last_incoming_end=_number(stats, LAST_INCOMING_END, float,
                                  minimum=0),
        numa_nodes=_number(stats, NUMA_NODES, int, minimum=1))
