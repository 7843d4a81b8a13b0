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

"""``nova-migtuner advise-flavor``: extra specs for a guest's CPU layout.

Prints the flavor extra specs to set for a guest of this size on hosts of
this shape (NUMA nodes, sockets, cores, threads, CPU mode), why, and what
each one costs in live-migration freedom.
"""

import argparse
import json

from nova_migtuner.cmd import argtypes
from nova_migtuner.cpu import advisor


def bounded_int(what, minimum, maximum):
    """argparse type: an integer within minimum..maximum, named on error."""
    def parse(text):
        try:
            value = int(str(text).strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                '%s %r is not a whole number; allowed: %d..%d'
                % (what, text, minimum, maximum))
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(
                '%s %r is out of range; allowed: %d..%d'
                % (what, text, minimum, maximum))
        return value
    return parse


def add_parser(subparsers):
    p = subparsers.add_parser(
        'advise-flavor',
        help='print the flavor extra specs for a guest\'s CPU topology, '
             'NUMA layout and CPU mode',
        description='Print the flavor extra specs (hw:numa_nodes, '
                    'hw:cpu_sockets, hw:cpu_cores, hw:cpu_threads, '
                    'migtuner:cpu_mode, ...) for a guest of this size on '
                    'hosts of this shape, with the reason for each and its '
                    'consequence for live migration.')
    p.add_argument('--vcpus', required=True,
                   type=bounded_int('vcpus', 1, 4096),
                   help='guest vCPUs, e.g. 32')
    p.add_argument('--memory', required=True, type=argtypes.size,
                   help='guest memory, e.g. 64GiB')
    p.add_argument('--host-numa-nodes', required=True,
                   type=bounded_int('host NUMA nodes', 1, 64),
                   help='NUMA nodes of a compute host, e.g. 4')
    p.add_argument('--host-cores-per-socket', required=True,
                   type=bounded_int('host cores per socket', 1, 512),
                   help='physical cores per socket (= per NUMA node), e.g. 8')
    p.add_argument('--host-threads-per-core', default=1,
                   type=bounded_int('host threads per core', 1, 8),
                   help='hardware threads per core, 2 with SMT/'
                        'hyper-threading (default: 1)')
    p.add_argument('--host-cpu-model',
                   help='CPU model of the hosts, named in the advice '
                        '(e.g. Skylake-Server-IBRS)')
    p.add_argument('--workload', choices=advisor.WORKLOADS,
                   default=advisor.THROUGHPUT,
                   help='latency: pinned vCPUs, one per core; throughput: '
                        'vCPUs float over all threads (default)')
    p.add_argument('--format', choices=('table', 'json'), default='table',
                   help='output format (default: table)')
    p.set_defaults(func=run)
    return p


def format_table(advice):
    lines = []
    for spec in advice.specs:
        lines.append('%s=%s' % (spec.key, spec.value))
        lines.append('    why:       %s' % spec.reason)
        lines.append('    migration: %s' % spec.migration)
    lines.append('')
    lines.append('notes:')
    lines += ['  - %s' % note for note in advice.notes]
    lines.append('')
    lines.append('openstack flavor set %s FLAVOR' % ' '.join(
        '--property %s=%s' % (s.key, s.value) for s in advice.specs))
    return '\n'.join(lines)


def run(args, parser):
    try:
        guest = advisor.GuestShape(vcpus=args.vcpus,
                                   memory_bytes=args.memory,
                                   workload=args.workload)
        host = advisor.HostShape(
            numa_nodes=args.host_numa_nodes,
            cores_per_socket=args.host_cores_per_socket,
            threads_per_core=args.host_threads_per_core,
            cpu_model=args.host_cpu_model)
        advice = advisor.advise(guest, host)
    except advisor.AdviceError as e:
        parser.error(str(e))
    if args.format == 'json':
        data = advice.to_dict()
        data['input'] = {
            'vcpus': args.vcpus, 'memory_bytes': args.memory,
            'host_numa_nodes': args.host_numa_nodes,
            'host_cores_per_socket': args.host_cores_per_socket,
            'host_threads_per_core': args.host_threads_per_core,
            'host_cpu_model': args.host_cpu_model,
            'workload': args.workload}
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        print(format_table(advice))
    return 0
