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

"""Flavor extra specs for a guest's CPU topology, NUMA layout and CPU mode.

An observed case: a 32-vCPU guest seen as 32 sockets x 1 core in one NUMA node
on a 4-node host, with ``host-model`` hiding the L3 cache, used 70 %+ CPU;
``host-passthrough`` and 4 sockets x 8 cores over 4 NUMA nodes brought it
to 10-20 %. This advisor derives such a layout from the guest and host
shapes and says what each spec costs in live-migration freedom.

Assumption, stated in the advice: a host NUMA node is one socket
(``--host-cores-per-socket`` cores). Hosts with sub-NUMA clustering have
fewer cores per node; describe them with the cores of one node.
"""

import dataclasses
import math
from typing import Optional, Tuple

from nova_migtuner.cpu import model as cpu_model
from nova_migtuner import units

LATENCY = 'latency'
THROUGHPUT = 'throughput'
WORKLOADS = (LATENCY, THROUGHPUT)

NUMA_NODES = 'hw:numa_nodes'
CPU_SOCKETS = 'hw:cpu_sockets'
CPU_CORES = 'hw:cpu_cores'
CPU_THREADS = 'hw:cpu_threads'
CPU_POLICY = 'hw:cpu_policy'
CPU_THREAD_POLICY = 'hw:cpu_thread_policy'
CPU_MODE = 'migtuner:cpu_mode'

NO_MIGRATION_EFFECT = 'none: the guest topology moves with the guest'


class AdviceError(ValueError):
    """The guest cannot be laid out on the host; the message says why."""


@dataclasses.dataclass(frozen=True)
class GuestShape:
    vcpus: int
    memory_bytes: int
    workload: str = THROUGHPUT

    def __post_init__(self):
        if self.vcpus < 1:
            raise AdviceError('vcpus %r must be at least 1' % self.vcpus)
        if self.memory_bytes < units.MiB:
            raise AdviceError('memory %r is below 1 MiB' % self.memory_bytes)
        if self.workload not in WORKLOADS:
            raise AdviceError('workload %r is not one of: %s'
                              % (self.workload, ', '.join(WORKLOADS)))


@dataclasses.dataclass(frozen=True)
class HostShape:
    numa_nodes: int
    cores_per_socket: int
    threads_per_core: int = 1
    cpu_model: Optional[str] = None

    def __post_init__(self):
        for name in ('numa_nodes', 'cores_per_socket', 'threads_per_core'):
            if getattr(self, name) < 1:
                raise AdviceError('%s %r must be at least 1'
                                  % (name, getattr(self, name)))


@dataclasses.dataclass(frozen=True)
class SpecAdvice:
    key: str
    value: str
    reason: str
    migration: str


@dataclasses.dataclass(frozen=True)
class FlavorAdvice:
    specs: Tuple[SpecAdvice, ...]
    notes: Tuple[str, ...]

    def extra_specs(self):
        return {s.key: s.value for s in self.specs}

    def to_dict(self):
        return {'extra_specs': self.extra_specs(),
                'advice': [dataclasses.asdict(s) for s in self.specs],
                'notes': list(self.notes)}


def _vcpus_per_node(guest, host):
    # Latency guests get whole cores (one vCPU per core); throughput guests
    # may float over every hardware thread of the node.
    if guest.workload == LATENCY:
        return host.cores_per_socket
    return host.cores_per_socket * host.threads_per_core


def _guest_threads(guest, host):
    if (guest.workload == THROUGHPUT and host.threads_per_core > 1 and
            guest.vcpus % host.threads_per_core == 0):
        return host.threads_per_core
    return 1


def _numa_nodes(guest, host, memory_mb, threads):
    per_node = _vcpus_per_node(guest, host)
    needed = math.ceil(guest.vcpus / per_node)
    if needed > host.numa_nodes:
        raise AdviceError(
            '%d vCPUs need %d NUMA nodes of %d %s, the host has %d; use a '
            'smaller flavor or a bigger host'
            % (guest.vcpus, needed, per_node,
               'cores' if guest.workload == LATENCY else 'vCPUs',
               host.numa_nodes))
    # nova splits vCPUs and memory evenly over the nodes
    # (hardware._get_numa_topology_auto) and refuses uneven splits.
    for nodes in range(needed, host.numa_nodes + 1):
        if (guest.vcpus % nodes == 0 and memory_mb % nodes == 0 and
                (guest.vcpus // nodes) % threads == 0):
            return nodes
    raise AdviceError(
        '%d vCPUs and %d MiB cannot be split evenly over %d..%d NUMA nodes '
        '(nova requires equal nodes); choose a vCPU count and memory '
        'divisible by the node count' % (guest.vcpus, memory_mb, needed,
                                         host.numa_nodes))


def advise(guest, host):
    """Extra specs for *guest* (``GuestShape``) on hosts like *host*.

    :raises AdviceError: the guest cannot be laid out on such a host.
    """
    if guest.memory_bytes % units.MiB:
        raise AdviceError('memory %d bytes is not a whole number of MiB, '
                          'as flavors are' % guest.memory_bytes)
    memory_mb = guest.memory_bytes // units.MiB
    threads = _guest_threads(guest, host)
    nodes = _numa_nodes(guest, host, memory_mb, threads)
    cores = guest.vcpus // nodes // threads
    node_vcpus = guest.vcpus // nodes
    node_memory = units.format_size(guest.memory_bytes // nodes)
    per_node = _vcpus_per_node(guest, host)
    specs = []

    if nodes > 1:
        numa_reason = (
            '%d vCPUs do not fit one host NUMA node (%d %s); %d guest nodes '
            'of %d vCPUs and %s each keep every vCPU next to its memory '
            '(32 vCPUs in one guest node on a 4-node host were seen '
            'running with numa_miss > numa_hit)'
            % (guest.vcpus, per_node,
               'cores' if guest.workload == LATENCY else 'vCPUs', nodes,
               node_vcpus, node_memory))
    else:
        numa_reason = ('the guest fits one host NUMA node (%d %s): pinning '
                       'it to one node avoids remote memory access'
                       % (per_node, 'cores' if guest.workload == LATENCY
                          else 'vCPUs'))
    specs.append(SpecAdvice(
        NUMA_NODES, str(nodes), numa_reason,
        'a destination needs %d NUMA node(s) each with %d free vCPUs and %s '
        'free memory (NUMATopologyFilter); fewer hosts qualify'
        % (nodes, node_vcpus, node_memory)))
    specs.append(SpecAdvice(
        CPU_SOCKETS, str(nodes),
        'one guest socket per guest NUMA node, as on the host, so the guest '
        'kernel sees which vCPUs share a cache and memory',
        NO_MIGRATION_EFFECT))
    specs.append(SpecAdvice(
        CPU_CORES, str(cores),
        '%d vCPUs per socket = %d cores x %d thread(s)'
        % (node_vcpus, cores, threads), NO_MIGRATION_EFFECT))
    if threads > 1:
        threads_reason = ('throughput: mirror the host\'s %d threads per '
                          'core so the guest knows which vCPUs share a core'
                          % threads)
    elif host.threads_per_core > 1 and guest.workload == LATENCY:
        threads_reason = 'latency: one vCPU per physical core'
    elif host.threads_per_core > 1:
        threads_reason = ('%d vCPUs per node do not divide into %d threads '
                          'per core' % (node_vcpus, host.threads_per_core))
    else:
        threads_reason = 'the host has one thread per core'
    specs.append(SpecAdvice(CPU_THREADS, str(threads), threads_reason,
                            NO_MIGRATION_EFFECT))

    if guest.workload == LATENCY:
        specs.append(SpecAdvice(
            CPU_POLICY, 'dedicated',
            'latency: pinned vCPUs do not wait for other guests\' vCPUs',
            'a destination needs %d free dedicated host CPUs ([compute] '
            'cpu_dedicated_set); nova re-pins them during the live '
            'migration' % guest.vcpus))
        if host.threads_per_core > 1:
            specs.append(SpecAdvice(
                CPU_THREAD_POLICY, 'isolate',
                'latency: the sibling threads of each pinned core stay '
                'idle, so no other vCPU shares the core',
                'a destination needs %d whole free cores (%d host CPUs)'
                % (guest.vcpus, guest.vcpus * host.threads_per_core)))

    model_text = ('CPU model %s' % host.cpu_model if host.cpu_model
                  else 'the source host\'s CPU model')
    if guest.workload == LATENCY or nodes > 1:
        specs.append(SpecAdvice(
            CPU_MODE, cpu_model.HOST_PASSTHROUGH,
            'the guest sees the real CPU, caches and all features '
            '(host-model was seen hiding the L3 cache; host-passthrough '
            'cut CPU use from 70 % to 10-20 %)',
            'host-passthrough: live migration limited to hosts with %s '
            'and identical features (MigTunerFilter keeps it '
            'there; with none free the migration fails with "no valid '
            'host")' % model_text))
    else:
        specs.append(SpecAdvice(
            CPU_MODE, cpu_model.HOST_MODEL,
            'a guest within one NUMA node and not latency-bound gains '
            'little from host-passthrough',
            'host-model: live migration to hosts with the CPU features of '
            'the source (%s or a newer one)' % model_text))

    notes = ('assumes one socket per host NUMA node (%d cores of %d '
             'thread(s)); hosts with sub-NUMA clustering have fewer cores '
             'per node' % (host.cores_per_socket, host.threads_per_core),
             'run a guest OS with automatic NUMA balancing '
             '(kernel.numa_balancing=1) so that its processes follow their '
             'memory')
    return FlavorAdvice(tuple(specs), notes)
