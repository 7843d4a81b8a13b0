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

"""The inputs of a migration decision, as plain frozen values.

A ``MigrationInputs`` is everything a strategy may look at: the guest, what
was measured of it and of the hosts, the link, the guest's own policy (from
flavor extra specs and image properties) and the admin's limits (from
``[migtuner]`` and ``[libvirt]``). Admin limits always win over guest wishes.
"""

import dataclasses
from typing import FrozenSet, Optional, Tuple

from nova_migtuner.planning import dirty_pattern
from nova_migtuner import units

# Names of the measurable inputs, as listed in MigrationInputs.measured.
DIRTY_RATE = 'dirty_rate'
TOUCHED = 'touched'
WORKING_SET = 'working_set'
# The fraction of its vCPUs the guest uses: how much an auto-converge
# throttle slows it (a guest at 30 % slows only past a 70 % throttle).
GUEST_CPU_LOAD = 'guest_cpu_load'
SOURCE_HOST_LOAD = 'source_host_load'
LINK_BANDWIDTH = 'link_bandwidth'
MEASURABLE = (DIRTY_RATE, TOUCHED, WORKING_SET, GUEST_CPU_LOAD,
              SOURCE_HOST_LOAD, LINK_BANDWIDTH)


class InputsError(ValueError):
    """A migration context value is out of range; the message names it."""


@dataclasses.dataclass(frozen=True)
class AdminLimits:
    """What the cloud admin allows; built from config by ``conf.limits``."""
    max_downtime_ms: int = 500
    permit_post_copy: bool = False
    permit_auto_converge: bool = True
    permit_pause: bool = False
    max_pause_downtime_ms: int = 2000
    permit_compression: bool = False
    max_parallel_connections: int = 4
    max_bandwidth_mib_s: int = 0          # 0: no cap
    completion_budget_per_gib_s: int = 120
    stall_window_s: int = 10
    max_deferral_s: int = 0
    instance_spacing_s: int = 0
    host_spacing_s: int = 0
    busy_host_cpu_load: float = 0.85

    def __post_init__(self):
        for name in ('max_downtime_ms', 'max_pause_downtime_ms',
                     'max_parallel_connections',
                     'completion_budget_per_gib_s', 'stall_window_s'):
            if getattr(self, name) < 1:
                raise InputsError('%s must be >= 1, got %r'
                                  % (name, getattr(self, name)))
        for name in ('max_bandwidth_mib_s', 'max_deferral_s',
                     'instance_spacing_s', 'host_spacing_s'):
            if getattr(self, name) < 0:
                raise InputsError('%s must be >= 0, got %r'
                                  % (name, getattr(self, name)))
        if not 0.0 <= self.busy_host_cpu_load <= 1.0:
            raise InputsError('busy_host_cpu_load must be within 0..1, got '
                              '%r' % self.busy_host_cpu_load)


@dataclasses.dataclass(frozen=True)
class GuestPolicy:
    """What the guest asks for; see ``policy.guest_policy_from``.

    ``None`` means "no wish". A guest can only restrict: it may lower the
    downtime it accepts or forbid post-copy/auto-converge for itself, never
    allow what the admin does not.
    """
    strategy: Optional[str] = None
    strategy_source: Optional[str] = None   # e.g. 'flavor', 'image'
    max_downtime_ms: Optional[int] = None
    permit_post_copy: Optional[bool] = None
    permit_auto_converge: Optional[bool] = None
    # Image wishes that were ignored or changed, and why (for the plan).
    notes: Tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class MigrationInputs:
    """Everything known about one migration before it starts.

    Rates are bytes per second, sizes bytes, loads fractions 0..1. ``None``
    for a measurement means unknown; strategies then assume and say so.
    Build it with ``inputs.build_inputs``, which records for every input
    whether it was measured, given or assumed (``source_of``).
    ``link_bandwidth`` is the link to the chosen destination.
    """
    memory_bytes: int
    link_bandwidth: float
    touched_bytes: Optional[int] = None
    dirty_rate: Optional[float] = None
    working_set_bytes: Optional[int] = None
    source_host_load: Optional[float] = None
    guest_cpu_load: Optional[float] = None
    seconds_since_instance_migration: Optional[float] = None
    seconds_since_host_migration: Optional[float] = None
    policy: GuestPolicy = GuestPolicy()
    limits: AdminLimits = AdminLimits()
    measured: FrozenSet[str] = frozenset()
    given: FrozenSet[str] = frozenset()
    instance_uuid: Optional[str] = None
    # Consecutive dirty-rate samples before the migration, oldest first
    # (``dirty_pattern.DirtySample``); timing looks for quiet periods in
    # them. Empty: not sampled.
    dirty_rate_samples: Tuple[dirty_pattern.DirtySample, ...] = ()

    def __post_init__(self):
        if self.memory_bytes <= 0:
            raise InputsError('memory must be > 0 bytes, got %r'
                              % self.memory_bytes)
        if self.link_bandwidth <= 0:
            raise InputsError('link bandwidth must be > 0 bytes/s, got %r'
                              % self.link_bandwidth)
        if self.touched_bytes is not None and not (
                0 <= self.touched_bytes <= self.memory_bytes):
            raise InputsError(
                'touched memory %s must be between 0 and the guest memory %s'
                % (units.format_size(self.touched_bytes),
                   units.format_size(self.memory_bytes)))
        if self.dirty_rate is not None and self.dirty_rate < 0:
            raise InputsError('dirty rate must be >= 0, got %r'
                              % self.dirty_rate)
        if self.working_set_bytes is not None and self.working_set_bytes < 0:
            raise InputsError('working set must be >= 0 bytes, got %r'
                              % self.working_set_bytes)
        for name in ('source_host_load', 'guest_cpu_load'):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise InputsError('%s must be within 0..1, got %r'
                                  % (name, value))
        try:
            samples = dirty_pattern.samples_from(self.dirty_rate_samples)
        except (TypeError, dirty_pattern.PatternInputError) as e:
            raise InputsError('dirty_rate_samples: %s' % e)
        object.__setattr__(self, 'dirty_rate_samples', samples)
        unknown = (set(self.measured) | set(self.given)) - set(MEASURABLE)
        if unknown:
            raise InputsError('unknown measured inputs %s; known: %s'
                              % (sorted(unknown), ', '.join(MEASURABLE)))

    # Effective values: guest wishes narrowed by admin limits.
    @property
    def touched(self) -> int:
        return (self.memory_bytes if self.touched_bytes is None
                else self.touched_bytes)

    @property
    def working_set(self) -> int:
        if self.working_set_bytes is None:
            return self.touched
        return min(self.working_set_bytes, self.touched)

    @property
    def max_downtime_ms(self) -> int:
        wish = self.policy.max_downtime_ms
        cap = self.limits.max_downtime_ms
        return cap if wish is None else min(cap, wish)

    @property
    def post_copy_permitted(self) -> bool:
        return (self.limits.permit_post_copy and
                self.policy.permit_post_copy is not False)

    @property
    def auto_converge_permitted(self) -> bool:
        return (self.limits.permit_auto_converge and
                self.policy.permit_auto_converge is not False)

    @property
    def effective_bandwidth(self) -> float:
        """Bytes/s the migration can use: the link, or the admin's cap."""
        cap = self.limits.max_bandwidth_mib_s
        if cap:
            return min(self.link_bandwidth, cap * units.MiB)
        return self.link_bandwidth

    def source_of(self, name) -> str:
        """'measured', 'given' (by a person) or 'assumed' for an input."""
        if name in self.measured:
            return 'measured'
        return 'given' if name in self.given else 'assumed'

    def inputs_summary(self) -> Tuple[str, ...]:
        """One line per input, saying whether it was measured or assumed."""
        lines = [
            'memory %s' % units.format_size(self.memory_bytes),
            'touched %s (%s)' % (units.format_size(self.touched),
                                 self.source_of(TOUCHED)),
            'dirty rate %s (%s)' % (
                'unknown' if self.dirty_rate is None
                else units.format_rate(self.dirty_rate),
                self.source_of(DIRTY_RATE)),
            'link %s (%s)' % (units.format_rate(self.link_bandwidth),
                              self.source_of(LINK_BANDWIDTH)),
        ]
        if self.source_host_load is not None:
            lines.append('source host CPU load %.0f %% (%s)' % (
                self.source_host_load * 100,
                self.source_of(SOURCE_HOST_LOAD)))
        return tuple(lines)
