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

"""The flavor experiment's cases, table and byte counters."""

import os

from nova_migtuner.bench import flavors
from nova_migtuner.bench import methods
from nova_migtuner.bench import nova_path
from nova_migtuner.bench import traffic


def test_sizes_reach_2_gib_and_every_size_runs_both_methods():
    jobs = flavors.cases_to_run()
    assert flavors.SIZES_MIB[0] == 256 and flavors.SIZES_MIB[-1] >= 2048
    assert [(size, method) for size, _, method in jobs] == [
        (size, method) for size in flavors.SIZES_MIB
        for method in (methods.STOCK, methods.MIGTUNER)]
    assert all(w.workload.kind == 'idle' for _, w, _ in jobs)


def engine_case(size, method):
    return {'workload': 'flavor-%d' % size, 'method': method,
            'guest_memory_mib': size,
            'report': {'outcome': 'completed', 'total_seconds': 21.04,
                       'downtime_ms': 41, 'data_bytes': 87_000_000},
            'heartbeat': {'switch_gap_ms': 212.4},
            'traffic': {'qemu_dest_read_bytes': 88_400_000},
            'impact': {'work_lost_s': 0.31}}


def test_the_table_has_the_operators_columns_and_labels_the_replay():
    text = flavors.table([engine_case(256, methods.STOCK),
                          engine_case(256, methods.MIGTUNER)], 4)
    lines = text.splitlines()
    assert '4 MiB/s' in lines[0]
    assert lines[1].split()[:4] == ['flavor', 'method', 'outcome', 'total']
    assert lines[3].split() == ['256', 'MiB', 'stock-nova', '(replayed)',
                                'completed', '21.0', '212', '41', '87', '88',
                                '0.31']
    assert 'migtuner' in lines[4] and 'replayed' not in lines[4]


def test_the_nova_path_rows_come_from_the_observer():
    case = {'via': 'nova', 'workload': 'flavor-512', 'method':
            methods.STOCK, 'guest_memory_mib': 512, 'error': None,
            'observed': {'outcome': 'completed', 'total_time_s': 19.5,
                         'downtime_ms': 480, 'heartbeat_switch_gap_ms': 505,
                         'data_bytes': 456e6,
                         'qemu_dest_read_bytes': 459e6}}
    assert flavors.row(case) == ('512 MiB', 'stock-nova', 'completed',
                                 '19.5', '505', '480', '456', '459', '-')


def test_flavors_through_nova_are_flavors_of_their_own_size():
    assert nova_path.flavor_name(2048) == 'migtuner.m2048'
    # nova floors RAM at 2 GiB and adds the 2 GiB-floored root disk.
    assert nova_path.nova_data_gb(256) == 4
    assert nova_path.nova_data_gb(4096) == 6
    _, options = nova_path.nova_options(methods.STOCK, 90, 4, 4096)
    opts = {(s, k): v for s, k, v in options}
    assert opts[('libvirt', 'live_migration_bandwidth')] == '4'
    assert opts[('libvirt', 'live_migration_completion_timeout')] == '15'
    assert nova_path.nova_options(methods.MIGTUNER, 90, 4) == (
        'migtuner', [('libvirt', 'live_migration_bandwidth', '4')])


def test_received_bytes_start_after_the_qemu_start_up_reads():
    source = {'rchar': 40_000_000, 'wchar': 1}
    # First seen before it read its kernel: the source's start-up counts.
    assert traffic.received(source, {'rchar': 1_000}, {
        'rchar': 130_000_000}) == 90_000_000
    # First seen after: its own first count does.
    assert traffic.received(source, {'rchar': 41_000_000}, {
        'rchar': 130_000_000}) == 89_000_000
    assert traffic.received(source, None, None) is None


def test_io_counters_of_a_live_process_and_a_gone_one():
    values = traffic.read_io(os.getpid())
    assert values['rchar'] > 0 and 'wchar' in values
    assert traffic.read_io(2 ** 22 + 1) is None


def test_the_poller_counts_from_the_first_sight_of_each_qemu():
    pids = {'a': os.getpid(), 'b': None}
    poller = traffic.QemuTraffic(pids.get, 'a', 'b', poll_s=0.01).start()
    with open(__file__, 'rb') as f:
        f.read()
    moved = poller.stop()
    assert moved['qemu_source_written_bytes'] >= 0
    assert moved['qemu_dest_read_bytes'] is None


class _Host:
    def __init__(self, root):
        self.root = root

    def path(self, system_path):
        return os.path.join(self.root, os.path.basename(system_path))


def test_qemu_pid_comes_from_the_pid_file_and_must_be_a_qemu(tmp_path):
    host = _Host(str(tmp_path))
    assert traffic.qemu_pid(host, 'vm1') is None
    (tmp_path / 'vm1.pid').write_text('%d\n' % os.getpid())
    # This process is no QEMU: a reused PID is not the guest's.
    assert traffic.qemu_pid(host, 'vm1') is None


def test_the_engine_flavor_run_writes_the_table(tmp_path, monkeypatch):
    from unittest import mock

    from nova_migtuner.bench import cli
    from nova_migtuner.bench import runs

    seen = []

    def run_case(bed, w, method, run_cap, touched, libvirt, **kw):
        seen.append((kw['memory_mib'], kw['link_mib_s'], method, touched))
        case = engine_case(kw['memory_mib'], method)
        case['report']['memory_bytes'] = kw['memory_mib'] * 1000
        case['report'].update(iterations=2, auto_converge_throttle=None,
                              escalations=[], error=None,
                              predicted_total_seconds=None,
                              total_seconds_error=None)
        return dict(case, remaining_series=[])

    monkeypatch.setattr(runs, 'run_case', run_case)
    args = cli.parse_args(['--flavors', '--engine', '--output',
                           str(tmp_path)])
    bed = mock.Mock()
    assert cli._run_flavors(args, bed, 90, mock.Mock()) == 0
    bed.up.assert_called_once_with()
    bed.down.assert_called_once_with()
    assert [s[:3] for s in seen] == [
        (size, flavors.LINK_MIB_S, method) for size in flavors.SIZES_MIB
        for method in flavors.METHODS]
    # nova_migtuner plans with what the stock run found touched.
    assert seen[1][3] == 256 * 1000
    text = (tmp_path / 'results.txt').read_text()
    assert 'flavor experiment' in text and '2048 MiB' in text
    assert (tmp_path / 'results.png').exists()


def test_the_nova_flavor_run_boots_a_flavor_per_size(tmp_path, monkeypatch):
    from unittest import mock

    from nova_migtuner.bench import cli
    from nova_migtuner.cloud import cloud as cloud_mod

    cloud = mock.Mock()
    monkeypatch.setattr(cloud_mod, 'Cloud', lambda: cloud)
    seen = []

    def run_case(cloud, w, method, run_cap, flavor=None):
        seen.append((method, flavor))
        return {'via': 'nova', 'workload': w.name, 'method': method,
                'guest_memory_mib': flavor[1], 'error': None,
                'observed': {'outcome': 'completed', 'total_time_s': 20.0,
                             'data_bytes': 9e7}}

    monkeypatch.setattr(nova_path, 'run_case', run_case)
    args = cli.parse_args(['--flavors', '--sizes', '256MiB,2GiB',
                           '--output', str(tmp_path)])
    assert cli._run_flavors_nova(args, 90) == 0
    assert seen == [(method, ('migtuner.m%d' % size, size))
                    for method in flavors.METHODS for size in (256, 2048)]
    for call in cloud.start_computes.call_args_list:
        assert ('libvirt', 'live_migration_bandwidth',
                str(flavors.LINK_MIB_S)) in call.args[1]
    cloud.down.assert_called_once_with()
    assert '2048 MiB' in (tmp_path / 'results.txt').read_text()
