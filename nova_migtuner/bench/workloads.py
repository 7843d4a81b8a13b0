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

"""The bench's workload matrix, relative to the capped link."""

import dataclasses

from nova_migtuner.testbed import Workload

GUEST_MEMORY_MIB = 256
# Every run is capped at this migration bandwidth (VIR_MIGRATE_PARAM_
# BANDWIDTH): loopback under TCG is otherwise limited by CPU time, which
# varies with whatever else runs; a cap makes runs repeatable.
LINK_MIB_S = 32
BUFFER_MIB = 128


@dataclasses.dataclass(frozen=True)
class BenchWorkload:
    name: str
    workload: Workload
    description: str


# bursty-quiet: bursts too fast to migrate through, quiet periods longer
# than a migration (about 6 s for this guest on the capped link).
QUIET_BURST_ON_S = 12.0
QUIET_BURST_OFF_S = 12.0


def bursty_quiet():
    """The workload the timing runs migrate into quiet windows."""
    return BenchWorkload(
        'bursty-quiet', Workload('bursty', BUFFER_MIB, 3.0 * LINK_MIB_S,
                                 burst_on_s=QUIET_BURST_ON_S,
                                 burst_off_s=QUIET_BURST_OFF_S),
        'batch-like bursts: %g MiB/s for %g s, quiet %g s, over %d MiB'
        % (3.0 * LINK_MIB_S, QUIET_BURST_ON_S, QUIET_BURST_OFF_S,
           BUFFER_MIB))


def named(name):
    """The matrix workload called *name*."""
    for w in matrix():
        if w.name == name:
            return w
    raise ValueError('workload %r is invalid: expected one of %s'
                     % (name, ', '.join(w.name for w in matrix())))


def matrix(quick=False):
    idle = BenchWorkload('idle', Workload('idle', dirty_mib=64),
                         'idle guest, 64 MiB touched once')
    half = BenchWorkload(
        'dirty-0.5x', Workload('constant', BUFFER_MIB, 0.5 * LINK_MIB_S),
        '%g MiB/s over %d MiB (0.5x the %d MiB/s link)'
        % (0.5 * LINK_MIB_S, BUFFER_MIB, LINK_MIB_S))
    double = BenchWorkload(
        'dirty-2x', Workload('constant', BUFFER_MIB, 2.0 * LINK_MIB_S),
        '%g MiB/s over %d MiB (2x the link)'
        % (2.0 * LINK_MIB_S, BUFFER_MIB))
    bursty = BenchWorkload(
        'bursty-web', Workload('bursty', BUFFER_MIB, 3.0 * LINK_MIB_S,
                               burst_on_s=2.0, burst_off_s=3.0),
        'web-like bursts: %g MiB/s for 2 s, idle 3 s, over %d MiB'
        % (3.0 * LINK_MIB_S, BUFFER_MIB))
    stalling = BenchWorkload(
        'dirty-3x', Workload('constant', BUFFER_MIB, 100.0),
        'the test bed\'s stalled case: 100 MiB/s over %d MiB'
        % BUFFER_MIB)
    if quick:
        return (idle, double)
    return (idle, half, double, bursty, stalling, bursty_quiet())
