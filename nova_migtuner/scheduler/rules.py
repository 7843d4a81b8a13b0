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

"""Pure decisions about live-migration destinations.

``admission`` says whether a destination may take one more incoming live
migration now; ``migration_cost`` ranks the ones that may. Both take plain
values, so they are tested without nova and explain themselves in the
scheduler's debug log.
"""

import dataclasses
from typing import Optional, Sequence, Tuple

from nova_migtuner.cpu import compat
from nova_migtuner import units


# Unknown destination load counts as half busy: neither preferred over a
# host known to be idle nor pushed behind one known to be busy.
UNKNOWN_CPU_LOAD = 0.5
# Above this a host is saturated; more load says nothing more.
MAX_CPU_LOAD = 2.0
# A destination left with less free memory than the guest needs after
# placement would overcommit real memory (guests were OOM-killed
# beyond about 1:1.2); it is ranked as if its link were this many times slower.
MEMORY_OVERCOMMIT_PENALTY = 4.0
# Same CPU model as the source: a tie-breaker, so equal hosts prefer the
# one that keeps host-model guests' features identical.
SAME_CPU_MODEL_FACTOR = 0.95


@dataclasses.dataclass(frozen=True)
class AdmissionLimits:
    """``[migtuner] max_incoming_migrations`` and ``destination_settle_s``."""
    max_incoming_migrations: int = 2     # 0: no limit
    settle_s: float = 30.0               # 0: no settle time


def admission(incoming_migrations, last_incoming_end, limits, now):
    """Whether a destination may take another incoming live migration now.

    :param incoming_migrations: live migrations in flight to the host, or
        None if it does not report them (passes).
    :param last_incoming_end: epoch seconds when its last incoming live
        migration ended, or None.
    :returns: ``compat.Verdict``.
    """
    if (limits.max_incoming_migrations and incoming_migrations is not None
            and incoming_migrations >= limits.max_incoming_migrations):
        return compat.Verdict(
            False, 'host already has %d incoming live migration(s) in '
                   'flight; limit is %d (max_incoming_migrations)'
            % (incoming_migrations, limits.max_incoming_migrations))
    if limits.settle_s and last_incoming_end is not None:
        elapsed = now - last_incoming_end
        if 0 <= elapsed < limits.settle_s:
            return compat.Verdict(
                False, 'last incoming live migration ended %.0f s ago; '
                       'the host settles for %.0f s '
                       '(destination_settle_s)'
                % (elapsed, limits.settle_s))
    return compat.PASS


@dataclasses.dataclass(frozen=True)
class CostInputs:
    """What ranks one destination for one live migration."""
    memory_bytes: int
    link_class: str
    link_bandwidth: float                 # bytes/s
    incoming_migrations: Optional[int]    # in flight to the destination
    cpu_load: Optional[float]             # destination, 1.0 = all CPUs busy
    free_memory_bytes: Optional[int]      # destination, before placement
    total_memory_bytes: Optional[int]
    same_cpu_model: Optional[bool]


@dataclasses.dataclass(frozen=True)
class MigrationCost:
    """Expected cost of migrating to one destination, in seconds.

    ``seconds`` is the time to copy the guest memory once over the share of
    the link this migration gets, stretched by the destination's load and
    memory pressure; lower is better. ``factors`` lists every term, for the
    log.
    """
    seconds: float
    factors: Tuple[Tuple[str, str], ...]

    def explain(self):
        return '%.1f s = %s' % (self.seconds, ' x '.join(
            '%s (%s)' % (value, name) for name, value in self.factors))


def migration_cost(inputs):
    """Rank a destination: ``MigrationCost`` (lower is better).

    * link: memory / (link bandwidth / (migrations in flight + 1)); the
      destination's NIC and the link are shared with the other incoming
      migrations;
    * CPU: x (1 + load): a busy destination receives pages slower and the
      guest runs slower after the switch-over;
    * memory: x (2 - headroom), headroom being the fraction of the
      destination's memory still free after the guest lands (1.0 empty ->
      x1, 0.0 full -> x2), and x MEMORY_OVERCOMMIT_PENALTY when the guest
      does not fit in the free memory at all;
    * same CPU model as the source: x SAME_CPU_MODEL_FACTOR.
    """
    in_flight = max(inputs.incoming_migrations or 0, 0)
    share = inputs.link_bandwidth / (in_flight + 1)
    seconds = inputs.memory_bytes / share
    factors = [('copy over %s link at %s, %d in flight'
                % (inputs.link_class, units.format_rate(inputs.link_bandwidth),
                   in_flight), '%.1f s' % seconds)]

    load = (UNKNOWN_CPU_LOAD if inputs.cpu_load is None
            else min(max(inputs.cpu_load, 0.0), MAX_CPU_LOAD))
    seconds *= 1.0 + load
    factors.append(('CPU load %s' % ('unknown' if inputs.cpu_load is None
                                     else '%.2f' % inputs.cpu_load),
                    '%.2f' % (1.0 + load)))

    if inputs.free_memory_bytes is not None and inputs.total_memory_bytes:
        left = inputs.free_memory_bytes - inputs.memory_bytes
        if left < 0:
            memory_factor = MEMORY_OVERCOMMIT_PENALTY
            what = 'guest does not fit in free memory'
        else:
            headroom = min(left / inputs.total_memory_bytes, 1.0)
            memory_factor = 2.0 - headroom
            what = 'memory headroom %.0f%% after placement' % (headroom * 100)
        seconds *= memory_factor
        factors.append((what, '%.2f' % memory_factor))

    if inputs.same_cpu_model:
        seconds *= SAME_CPU_MODEL_FACTOR
        factors.append(('same CPU model as source',
                        '%.2f' % SAME_CPU_MODEL_FACTOR))
    return MigrationCost(seconds, tuple(factors))


def destination_summary(rejections: Sequence[Tuple[str, str]]):
    """One line listing why each destination was rejected."""
    return '; '.join('%s: %s' % (host, reason) for host, reason in rejections)
