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

"""``nova-migtuner bench --flavors``: the operators' flavor experiment.

Idle guests of increasing size, each migrated by stock nova and by
nova_migtuner, in the table operators draw: flavor, total time, downtime
(the heartbeat's, as an outside observer sees it: the operators pinged the
guest every millisecond), MB sent (libvirt's ``data_processed`` on the
source) and MB received (the bytes of the IP packets to the destination's
migration ports, counted by an iptables rule, see ``bench.traffic``; '-'
without iptables). MB are 10**6 bytes.

Every guest runs the same idle workload (``BUFFER_MIB`` touched once, the
request loop of the application measurements): what grows with the flavor
is the memory QEMU has to walk, not what the guest wrote.

The link is capped at ``LINK_MIB_S`` so that the smallest guest takes
about 20 s, as the operators' smallest flavor took on their gigabit link.

Through nova (the default) every size is a flavor of its own
(``migtuner.m<MiB>``); with ``--engine`` on the bare test bed, where
"stock nova" is nova 34's own flag, downtime-step and timeout functions
replayed by the engine (``bench.methods``).
"""

from nova_migtuner.bench import methods
from nova_migtuner.bench import workloads as wl_mod
from nova_migtuner.testbed import Workload

SIZES_MIB = (256, 512, 1024, 2048)
LINK_MIB_S = 6
BUFFER_MIB = 64
METHODS = (methods.STOCK, methods.MIGTUNER)
MB = 1e6
COLUMNS = ('flavor', 'method', 'outcome', 'total s', 'downtime ms',
           'libvirt downtime ms', 'MB sent', 'MB received', 'work lost s')


def workload(memory_mib):
    """The idle guest of one flavor size, as a bench workload."""
    return wl_mod.BenchWorkload(
        'flavor-%d' % memory_mib, Workload('idle', dirty_mib=BUFFER_MIB),
        'idle %d MiB guest, %d MiB touched once' % (memory_mib, BUFFER_MIB))


def method_label(method, via):
    """The method as the table names it; on the engine path stock nova is
    nova's functions replayed, and says so.
    """
    if method == methods.STOCK and via != 'nova':
        return 'stock-nova (replayed)'
    return method


def numbers(case):
    """(outcome, total s, libvirt downtime ms, heartbeat downtime ms,
    bytes sent, bytes received) of a flavor case from either path.
    """
    if case.get('via') == 'nova':
        o = case.get('observed') or {}
        return (o.get('outcome'), o.get('total_time_s'),
                o.get('downtime_ms'), o.get('heartbeat_switch_gap_ms'),
                o.get('data_bytes'), _received(o))
    r = case['report']
    return (r['outcome'], r['total_seconds'], r['downtime_ms'],
            case['heartbeat']['switch_gap_ms'], r['data_bytes'],
            _received(case.get('traffic') or {}))


def _received(moved):
    """What the destination received: its migration ports' count on the
    wire, else its QEMU's reads (see ``bench.traffic``); None if neither.
    """
    return (moved.get('dest_port_received_bytes') or
            moved.get('qemu_dest_read_bytes') or None)


def _fmt(value, pattern):
    return '-' if value is None else pattern % value


def row(case):
    outcome, total, downtime, beat, sent, received = numbers(case)
    if case.get('error'):
        outcome = 'failed: %s' % case['error'][:50]
    lost = (case.get('impact') or {}).get('work_lost_s')
    return ('%d MiB' % case['guest_memory_mib'],
            method_label(case['method'], case.get('via')), outcome,
            _fmt(total, '%.1f'), _fmt(beat, '%.0f'), _fmt(downtime, '%d'),
            _fmt(sent and sent / MB, '%.0f'),
            _fmt(received and received / MB, '%.0f'), _fmt(lost, '%.2f'))


def table(cases, link_mib_s):
    rows = [COLUMNS] + [row(c) for c in cases]
    widths = [max(len(str(r[n])) for r in rows) for n in range(len(COLUMNS))]
    lines = ['flavor experiment: idle guests, link capped at %d MiB/s; '
             'downtime ms = heartbeat switch-over gap; MB = 10^6 bytes'
             % link_mib_s]
    for n, r in enumerate(rows):
        lines.append('  '.join(str(v).ljust(w) for v, w in zip(r, widths)))
        if n == 0:
            lines.append('  '.join('-' * w for w in widths))
    return '\n'.join(lines)


def cases_to_run(sizes=SIZES_MIB, chosen=METHODS):
    """(memory MiB, bench workload, method) in the order they run."""
    return [(size, workload(size), method)
            for size in sizes for method in chosen]
