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

import argparse
import json

import pytest

from nova_migtuner.cmd import advise_flavor
from nova_migtuner.cmd import cli
from nova_migtuner.cpu import advisor
from nova_migtuner import units


def test_field_notes_case_four_sockets_of_eight_cores_over_four_nodes():
    advice = advisor.advise(
        advisor.GuestShape(vcpus=32, memory_bytes=64 * units.GiB),
        advisor.HostShape(numa_nodes=4, cores_per_socket=8))
    specs = advice.extra_specs()
    assert specs == {'hw:numa_nodes': '4', 'hw:cpu_sockets': '4',
                     'hw:cpu_cores': '8', 'hw:cpu_threads': '1',
                     'migtuner:cpu_mode': 'host-passthrough'}
    by_key = {s.key: s for s in advice.specs}
    assert 'limited to hosts with' in by_key['migtuner:cpu_mode'].migration
    assert '16 GiB' in by_key['hw:numa_nodes'].migration


def test_smt_host_throughput_mirrors_threads():
    advice = advisor.advise(
        advisor.GuestShape(vcpus=32, memory_bytes=64 * units.GiB),
        advisor.HostShape(numa_nodes=4, cores_per_socket=8,
                          threads_per_core=2))
    specs = advice.extra_specs()
    # 16 vCPUs fit one node's 16 threads: two nodes are enough
    assert (specs['hw:numa_nodes'], specs['hw:cpu_sockets'],
            specs['hw:cpu_cores'], specs['hw:cpu_threads']) == (
        '2', '2', '8', '2')
    assert 'hw:cpu_policy' not in specs


def test_latency_pins_whole_cores():
    advice = advisor.advise(
        advisor.GuestShape(vcpus=16, memory_bytes=32 * units.GiB,
                           workload=advisor.LATENCY),
        advisor.HostShape(numa_nodes=4, cores_per_socket=8,
                          threads_per_core=2, cpu_model='Skylake'))
    specs = advice.extra_specs()
    assert specs['hw:numa_nodes'] == '2'
    assert specs['hw:cpu_threads'] == '1'
    assert specs['hw:cpu_policy'] == 'dedicated'
    assert specs['hw:cpu_thread_policy'] == 'isolate'
    assert specs['migtuner:cpu_mode'] == 'host-passthrough'
    mode = [s for s in advice.specs if s.key == 'migtuner:cpu_mode'][0]
    assert 'limited to hosts with CPU model Skylake' in mode.migration


def test_small_guest_stays_in_one_node_with_host_model():
    specs = advisor.advise(
        advisor.GuestShape(vcpus=4, memory_bytes=8 * units.GiB),
        advisor.HostShape(numa_nodes=2, cores_per_socket=8)).extra_specs()
    assert specs['hw:numa_nodes'] == '1'
    assert specs['migtuner:cpu_mode'] == 'host-model'


def test_uneven_split_moves_to_next_divisor():
    # 12 vCPUs need 2 nodes of 8 and split evenly over 2
    specs = advisor.advise(
        advisor.GuestShape(vcpus=12, memory_bytes=12 * units.GiB),
        advisor.HostShape(numa_nodes=4, cores_per_socket=8)).extra_specs()
    assert specs['hw:numa_nodes'] == '2'
    # 9 vCPUs need 2 nodes, 9 is not divisible by 2 -> 3
    specs = advisor.advise(
        advisor.GuestShape(vcpus=9, memory_bytes=3 * units.GiB),
        advisor.HostShape(numa_nodes=4, cores_per_socket=8)).extra_specs()
    assert specs['hw:numa_nodes'] == '3'


@pytest.mark.parametrize('guest, host, message', [
    (advisor.GuestShape(64, 64 * units.GiB), advisor.HostShape(4, 8),
     '64 vCPUs need 8 NUMA nodes of 8 vCPUs, the host has 4'),
    (advisor.GuestShape(17, 16 * units.GiB), advisor.HostShape(4, 8),
     'cannot be split evenly'),
])
def test_impossible_layouts(guest, host, message):
    with pytest.raises(advisor.AdviceError, match=message):
        advisor.advise(guest, host)


def test_bad_shapes_are_refused():
    with pytest.raises(advisor.AdviceError, match='workload'):
        advisor.GuestShape(2, units.GiB, workload='batch')
    with pytest.raises(advisor.AdviceError, match='numa_nodes 0'):
        advisor.HostShape(0, 8)


def main(capsys, *argv):
    parser = argparse.ArgumentParser(prog='nova-migtuner')
    sub = advise_flavor.add_parser(parser.add_subparsers())
    sub.set_defaults(parser=sub)
    try:
        args = parser.parse_args(cli.glue_negative_values(list(argv)))
        code = args.func(args, args.parser)
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


FIELD_NOTES = ('advise-flavor', '--vcpus', '32', '--memory', '64GiB',
               '--host-numa-nodes', '4', '--host-cores-per-socket', '8')


def test_cli_table(capsys):
    code, out, _ = main(capsys, *FIELD_NOTES)
    assert code == 0
    for line in ('hw:numa_nodes=4', 'hw:cpu_sockets=4', 'hw:cpu_cores=8',
                 'hw:cpu_threads=1', 'migtuner:cpu_mode=host-passthrough'):
        assert line in out.splitlines()
    assert 'why:' in out and 'migration:' in out
    assert ('openstack flavor set --property hw:numa_nodes=4 '
            '--property hw:cpu_sockets=4') in out


def test_cli_json(capsys):
    code, out, _ = main(capsys, *FIELD_NOTES, '--host-threads-per-core',
                        '1', '--workload', 'throughput', '--format', 'json')
    assert code == 0
    data = json.loads(out)
    assert data['extra_specs']['hw:cpu_sockets'] == '4'
    assert data['input']['memory_bytes'] == 64 * units.GiB
    assert all(set(a) == {'key', 'value', 'reason', 'migration'}
               for a in data['advice'])


@pytest.mark.parametrize('args, message', [
    (('--vcpus', 'many'), "vcpus 'many' is not a whole number; "
                          "allowed: 1..4096"),
    (('--vcpus', '-3'), "vcpus '-3' is out of range; allowed: 1..4096"),
    (('--memory', '64XB'), "unknown unit 'XB'"),
    (('--host-numa-nodes', '0'), "host NUMA nodes '0' is out of range; "
                                 "allowed: 1..64"),
    (('--workload', 'batch'), "invalid choice: 'batch' (choose from "
                              "latency, throughput)"),
    (('--host-numa-nodes', '2'), '32 vCPUs need 4 NUMA nodes'),
])
def test_cli_bad_values_exit_2_naming_value(capsys, args, message):
    argv = list(FIELD_NOTES)
    for flag, value in zip(args[::2], args[1::2]):
        index = argv.index(flag) if flag in argv else None
        if index is None:
            argv += [flag, value]
        else:
            argv[index + 1] = value
    code, _, err = main(capsys, *argv)
    assert code == 2
    assert message in err.replace("'latency', 'throughput'",
                                  'latency, throughput')
