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

"""Faults through nova: when the fault is injected and undone, what counts
as the guest staying home, and the k/N table."""

from unittest import mock

import pytest

from nova_migtuner.bench import cli
from nova_migtuner.bench import faults as faults_mod
from nova_migtuner.bench import faults_nova
from nova_migtuner.bench import nova_path
from nova_migtuner.cloud import cloud as cloud_mod


def bed(qemu_pids=()):
    b = mock.Mock()
    b.hosts = {'a': mock.Mock(), 'b': mock.Mock()}
    b.hosts['b'].qemu_pids.return_value = list(qemu_pids)
    return b


def test_the_fault_waits_for_the_job_age_then_is_injected_once():
    undo = mock.Mock()
    inject = mock.Mock(return_value=undo)
    fault = faults_nova.Fault(bed(), faults_mod.CUT_LINK, after_s=3.0,
                              inject=inject)
    fault.observe({'time_elapsed': 2500})
    assert not inject.called
    fault.observe({'time_elapsed': 3100})
    fault.observe({'time_elapsed': 3200})
    inject.assert_called_once_with(fault.bed, faults_mod.CUT_LINK)
    assert fault.injected_at_s == 3.1
    fault.restore()
    fault.restore()
    undo.assert_called_once_with()


def test_a_killed_libvirtd_is_restarted_and_its_connection_forgotten():
    b = bed()
    fault = faults_nova.Fault(b, faults_mod.KILL_DEST_LIBVIRTD,
                              inject=lambda *_: (lambda: None))
    fault.observe({'time_elapsed': 5000})
    fault.restore()
    b.up.assert_called_once_with()
    b.forget_connection.assert_called_once_with('b')


def test_an_injection_that_raises_is_recorded_not_retried():
    inject = mock.Mock(side_effect=OSError('iptables: not found'))
    fault = faults_nova.Fault(bed(), faults_mod.CUT_LINK, inject=inject)
    fault.observe({'time_elapsed': 4000})
    fault.observe({'time_elapsed': 5000})
    assert inject.call_count == 1
    assert fault.injected_at_s is None
    assert fault.error == 'OSError: iptables: not found'


def test_an_unknown_fault_is_refused_by_name():
    with pytest.raises(ValueError, match="'unplug'.*kill-dest-qemu"):
        faults_nova.Fault(bed(), 'unplug')


def stayed_home(method='migtuner', **changes):
    observed = {'outcome': 'failed', 'hosts_running_guest': ['a'],
                'hosts_paused_guest': [], 'hosts_with_domain': ['a'],
                'nova_server_status': 'ACTIVE',
                'nova_host': nova_path.SOURCE_HOST,
                'nova_migration_status': 'error'}
    observed.update(changes)
    return {'method': method, 'error': None, 'observed': observed,
            'notification': {'outcome': 'failed'}}


def injected():
    fault = faults_nova.Fault(bed(), faults_mod.KILL_DEST_QEMU,
                              inject=lambda *_: (lambda: None))
    fault.observe({'time_elapsed': 3000})
    return fault


def test_a_guest_running_only_on_the_source_passes():
    assert faults_nova.check(stayed_home(), injected(), bed())['ok']


@pytest.mark.parametrize('changes, failing', [
    ({'hosts_paused_guest': ['a'], 'hosts_running_guest': []},
     {'runs_only_on_source', 'not_paused'}),
    ({'hosts_with_domain': ['a', 'b']}, {'no_domain_on_destination'}),
    ({'nova_server_status': 'ERROR'}, {'nova_active_on_source'}),
    ({'nova_migration_status': 'completed'}, {'nova_record_not_completed'}),
    ({'hosts_running_guest': ['a', 'b']}, {'runs_only_on_source'}),
])
def test_each_way_of_not_staying_home_fails_its_check(changes, failing):
    result = faults_nova.check(stayed_home(**changes), injected(), bed())
    assert not result['ok']
    assert {k for k, v in result.items() if k != 'ok' and not v} == failing


def test_a_qemu_left_on_the_destination_or_no_end_fails():
    case = stayed_home()
    case['notification'] = None
    result = faults_nova.check(case, injected(), bed(qemu_pids=[4242]))
    assert not result['no_qemu_left_on_destination']
    assert not result['end_says_not_completed']
    # Stock nova sends no .end: not asked of it.
    assert 'end_says_not_completed' not in faults_nova.check(
        stayed_home(method='stock-nova'), injected(), bed())


def test_a_fault_never_injected_does_not_pass():
    fault = faults_nova.Fault(bed(), faults_mod.KILL_DEST_QEMU,
                              inject=mock.Mock())
    assert not faults_nova.check(stayed_home(), fault, bed())['ok']


def test_the_table_counts_k_of_n_per_fault_and_method():
    def result(fault, method, ok, failing=()):
        check = {k: False for k in failing}
        check['ok'] = ok
        return {'fault': fault, 'method': method, 'check': check}
    text = faults_nova.table([
        result('kill-dest-qemu', 'migtuner', True),
        result('kill-dest-qemu', 'migtuner', False, ['not_paused']),
        result('cut-migration-link', 'stock-nova', True)])
    assert 'kill-dest-qemu       migtuner      1/2   not_paused (1)' in text
    assert 'cut-migration-link   stock-nova    1/1   -' in text


def test_faults_only_runs_no_matrix_and_fails_on_a_failed_check(
        tmp_path, monkeypatch):
    cloud = mock.Mock()
    monkeypatch.setattr(cloud_mod, 'Cloud', lambda: cloud)
    ran = mock.Mock(side_effect=AssertionError('no matrix case expected'))
    monkeypatch.setattr(nova_path, 'run_case', ran)
    seen = []

    def run_faults(cloud_, runs, cap, chosen, progress):
        seen.append((runs, cap, tuple(chosen)))
        return [{'fault': 'kill-dest-qemu', 'method': 'migtuner',
                 'check': {'ok': False, 'not_paused': False}}]

    monkeypatch.setattr(faults_nova, 'run_faults', run_faults)
    args = cli.parse_args(['--faults-only', '--fault-runs', '2',
                           '--output', str(tmp_path)])
    assert cli._run_nova(args, 90) == 1
    assert seen == [(2, cli.QUICK_RUN_CAP_S, faults_nova.METHODS)]
    assert not cloud.start_computes.called
    assert '0/1' in (tmp_path / 'results.txt').read_text()


def test_zero_fault_runs_are_refused(capsys):
    with pytest.raises(SystemExit):
        cli.parse_args(['--faults', '--fault-runs', '0'])
    assert '--fault-runs 0: expected 1 or more' in capsys.readouterr().err
