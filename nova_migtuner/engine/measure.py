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

"""Measure a guest and its host just before a live migration.

The arithmetic (``*_from`` functions) is pure and unit-tested with plain
values. ``measure_guest`` does the I/O through whatever libvirt domain and
connection it is given (the real binding, or nova's fake in functional
tests, which lacks most of these calls). A measurement that fails is not an
error: the value becomes unknown, the reason is kept in ``notes``, and the
strategy assumes and says so in the plan.
"""

import dataclasses
import logging
import os
import time
from typing import FrozenSet, Optional, Tuple

from nova_migtuner.engine import dirtyrate
from nova_migtuner.planning import context as ctx_mod
from nova_migtuner import units

LOG = logging.getLogger(__name__)

# libvirt constants used when the module in hand does not define them
# (stable values from libvirt-domain.h / libvirt-host.h).
VIR_NODE_CPU_STATS_ALL_CPUS = -1
VIR_DOMAIN_DIRTYRATE_MEASURED = 2
# Shortest time over which CPU loads are sampled.
CPU_SAMPLE_S = 0.5
# libvirt's PID file of a running domain's QEMU (the system daemon's).
QEMU_PID_FILE = '/run/libvirt/qemu/%s.pid'


@dataclasses.dataclass(frozen=True)
class Measurement:
    """What was measured; ``None`` is unknown (see ``notes`` for why)."""
    memory_bytes: int
    touched_bytes: Optional[int] = None
    dirty_rate: Optional[float] = None          # bytes/s
    guest_cpu_load: Optional[float] = None      # 0..1 of its vCPUs
    host_cpu_load: Optional[float] = None       # 0..1 of the host
    window_s: float = 0.0
    notes: Tuple[str, ...] = ()
    # Consecutive dirty-rate samples (``dirty_pattern.DirtySample``), when
    # sampled for timing into quiet windows.
    dirty_rate_samples: Tuple = ()

    @property
    def measured(self) -> FrozenSet[str]:
        names = set()
        if self.touched_bytes is not None:
            names.add(ctx_mod.TOUCHED)
        if self.dirty_rate is not None:
            names.add(ctx_mod.DIRTY_RATE)
        if self.guest_cpu_load is not None:
            names.add(ctx_mod.GUEST_CPU_LOAD)
        if self.host_cpu_load is not None:
            names.add(ctx_mod.SOURCE_HOST_LOAD)
        return frozenset(names)

    def to_dict(self):
        return dataclasses.asdict(self)


def _clamp01(value):
    return max(0.0, min(1.0, float(value)))


def touched_from(memory_stats, memory_bytes):
    """Touched memory (bytes) from ``virDomainMemoryStats`` (KiB values).

    QEMU sends every page the guest has ever written; the QEMU process's
    resident set is the closest host-side figure (it also counts a little
    of QEMU's own memory, hence the cap at the guest size).
    """
    rss_kib = (memory_stats or {}).get('rss')
    if rss_kib is None:
        return None
    return int(min(memory_bytes, max(0, int(rss_kib) * units.KiB)))


def guest_ram_resident(smaps_text, memory_bytes):
    """Resident bytes of the guest's RAM in a QEMU's ``/proc/PID/smaps``.

    QEMU maps the guest's RAM block in one piece of exactly the guest's
    size; its resident pages are the pages the guest touched, without the
    QEMU process's own memory that ``rss`` also counts (under TCG the
    translation buffer, firmware and binary: 360 MiB of RSS for a 256 MiB
    guest whose RAM held 212 MiB). None when no mapping has that size (a
    guest whose RAM is split over several backends).
    """
    size_kib = int(memory_bytes) // units.KiB
    size, best = None, None
    for line in smaps_text.splitlines():
        if line.startswith('Size:'):
            size = int(line.split()[1])
        elif line.startswith('Rss:') and size == size_kib:
            rss = int(line.split()[1]) * units.KiB
            best = rss if best is None else max(best, rss)
    return best


def read_guest_ram_resident(domain_name, memory_bytes,
                            pid_file=QEMU_PID_FILE, proc='/proc'):
    """``guest_ram_resident`` of the domain's QEMU on this host, or None
    where it cannot be read: libvirt's PID file and the QEMU's smaps need
    root (or the QEMU's user) on the compute.
    """
    try:
        with open(pid_file % domain_name) as f:
            pid = int(f.read().strip())
        with open(os.path.join(proc, str(pid), 'smaps')) as f:
            text = f.read()
    except (OSError, ValueError):
        return None
    return guest_ram_resident(text, memory_bytes)


def guest_cpu_load_from(cpu_time_ns_0, cpu_time_ns_1, seconds, vcpus):
    """Fraction of its vCPUs a guest used between two ``info()[4]`` reads."""
    if seconds <= 0 or vcpus <= 0:
        return None
    used = (int(cpu_time_ns_1) - int(cpu_time_ns_0)) / 1e9
    return _clamp01(used / (seconds * vcpus))


def host_cpu_load_from(stats_0, stats_1):
    """Host CPU load from two ``getCPUStats(ALL_CPUS)`` dicts (ns)."""
    keys = ('kernel', 'user', 'idle', 'iowait')
    if 'idle' not in stats_0 or 'idle' not in stats_1:
        return None
    total = sum(int(stats_1.get(k, 0)) - int(stats_0.get(k, 0))
                for k in keys)
    if total <= 0:
        return None
    idle = (int(stats_1['idle']) - int(stats_0['idle']) +
            int(stats_1.get('iowait', 0)) - int(stats_0.get('iowait', 0)))
    return _clamp01(1.0 - idle / float(total))


def dirty_rate_from(domain_stats):
    """Dirty rate (bytes/s) from a ``VIR_DOMAIN_STATS_DIRTYRATE`` record."""
    if not domain_stats:
        return None
    status = domain_stats.get('dirtyrate.calc_status')
    rate = domain_stats.get('dirtyrate.megabytes_per_second')
    if status != VIR_DOMAIN_DIRTYRATE_MEASURED or rate is None:
        return None
    # QEMU's "MB/s" is MiB/s (it divides a byte count by 1 << 20).
    return float(rate) * units.MiB


def _const(libvirt_module, name, default):
    return getattr(libvirt_module, name, default)


def measure_guest(domain, connection, libvirt_module, memory_bytes, vcpus,
                  dirty_rate_window_s, sleep=time.sleep,
                  clock=time.monotonic):
    """Measure one guest and the host it runs on; never raises.

    The dirty rate comes from the engine's ``measure_dirty_rate``
    (``virDomainStartDirtyRateCalc``, QEMU >= 5.2), which blocks for its
    period; the guest's and the host's CPU times are sampled around it (or
    around ``CPU_SAMPLE_S`` when the dirty rate is not measured).
    """
    notes = []

    def attempt(what, func):
        try:
            return func()
        except Exception as e:   # fake libvirt, old QEMU, guest going away
            notes.append('%s unavailable: %s' % (what, e))
            return None

    touched = attempt('touched memory',
                      lambda: read_guest_ram_resident(domain.name(),
                                                      memory_bytes))
    if touched is not None:
        notes.append('touched memory from the guest RAM\'s resident pages '
                     '(QEMU smaps)')
    else:
        touched = attempt('touched memory',
                          lambda: touched_from(domain.memoryStats(),
                                               memory_bytes))
    all_cpus = _const(libvirt_module, 'VIR_NODE_CPU_STATS_ALL_CPUS',
                      VIR_NODE_CPU_STATS_ALL_CPUS)
    host_0 = attempt('host CPU stats',
                     lambda: connection.getCPUStats(all_cpus, 0))
    guest_0 = attempt('guest CPU time', lambda: domain.info()[4])
    t0 = clock()
    dirty = None
    if dirty_rate_window_s and dirty_rate_window_s > 0:
        result = attempt('dirty rate', lambda: dirtyrate.measure_dirty_rate(
            domain, dirty_rate_window_s, libvirt_module=libvirt_module,
            _sleep=sleep))
        if result is not None:
            dirty = result.bytes_per_second
            if dirty is None:
                notes.append('dirty rate not measured: %s' % result.reason)
    if clock() - t0 < CPU_SAMPLE_S:
        sleep(CPU_SAMPLE_S - (clock() - t0))
    elapsed = max(1e-6, clock() - t0)
    host_1 = attempt('host CPU stats',
                     lambda: connection.getCPUStats(all_cpus, 0))
    guest_1 = attempt('guest CPU time', lambda: domain.info()[4])
    guest_load = None
    if guest_0 is not None and guest_1 is not None:
        guest_load = guest_cpu_load_from(guest_0, guest_1, elapsed, vcpus)
    host_load = None
    if host_0 and host_1:
        host_load = host_cpu_load_from(host_0, host_1)
    if touched is None and not any(n.startswith('touched') for n in notes):
        notes.append('touched memory unavailable: no rss in memoryStats')
    return Measurement(memory_bytes=int(memory_bytes),
                       touched_bytes=touched, dirty_rate=dirty,
                       guest_cpu_load=guest_load, host_cpu_load=host_load,
                       window_s=round(elapsed, 3), notes=tuple(notes))
