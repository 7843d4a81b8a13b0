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

import signal
import threading
import time
from unittest import mock

import pytest

from nova_migtuner.bench import cli
from nova_migtuner.bench import faults as faults_mod
from nova_migtuner.bench import faults_nova
from nova_migtuner.bench import nova_path
from nova_migtuner.cloud import cloud as cloud_mod


def cloud():
    c = mock.Mock()
    c.bed.hosts = {'a': mock.Mock(), 'b': mock.Mock()}
    return c


def wait_for(predicate):
    deadline = time.monotonic() + 5
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_the_fault_waits_for_the_job_age_then_is_injected_once():
    undo = mock.Mock()
    inject = mock.Mock(return_value=undo)
    fault = faults_nova.Fault(cloud(), faults_mod.CUT_LINK, after_s=3.0,
                              inject=inject)
    fault.observe({'time_elapsed': 2500})
    assert fault.injected_at_s is None
    fault.observe({'time_elapsed': 3100})
    fault.observe({'time_elapsed': 3200})
    fault.restore()
    fault.restore()
    inject.assert_called_once_with(fault.cloud, faults_mod.CUT_LINK)
    assert fault.injected_at_s == 3.1
    undo.assert_called_once_with()


def test_beyond_pre_copy_the_fault_waits_for_its_phase():
    inject = mock.Mock(return_value=mock.Mock())
    fault = faults_nova.Fault(cloud(), faults_mod.CUT_LINK, after_s=0.5,
                              inject=inject,
                              phase=faults_nova.AUTO_CONVERGE)
    fault.observe({'time_elapsed': 6000})
    fault.observe({'time_elapsed': 7000, 'auto_converge_throttle': 20})
    assert fault.phase_seen_at_s == 7.0
    fault.observe({'time_elapsed': 7400, 'auto_converge_throttle': 20})
    assert fault.injected_at_s is None
    fault.observe({'time_elapsed': 7600, 'auto_converge_throttle': 30})
    fault.restore()
    assert fault.injected_at_s == 7.6
    inject.assert_called_once_with(fault.cloud, faults_mod.CUT_LINK)


def test_post_copy_is_the_source_domain_paused_for_post_copy():
    running, switched = mock.Mock(), mock.Mock()
    running.state.return_value = [1, 1]
    switched.state.return_value = [faults_nova.DOMAIN_PAUSED,
                                   faults_nova.PAUSED_POSTCOPY]
    assert not faults_nova.in_phase(faults_nova.POST_COPY, {}, running)
    assert not faults_nova.in_phase(faults_nova.POST_COPY, {}, None)
    assert faults_nova.in_phase(faults_nova.POST_COPY, {}, switched)
    inject = mock.Mock(return_value=mock.Mock())
    fault = faults_nova.Fault(cloud(), faults_mod.KILL_DEST_QEMU, 0.0,
                              inject=inject, phase=faults_nova.POST_COPY)
    gone = mock.Mock()
    gone.state.side_effect = RuntimeError('domain gone')
    fault.observe({'time_elapsed': 5000}, gone)
    fault.observe({'time_elapsed': 5100}, running)
    fault.observe({'time_elapsed': 5200}, switched)
    fault.restore()
    assert fault.injected_at_s == 5.2
    with pytest.raises(ValueError, match="phase 'stopped' is invalid"):
        faults_nova.Fault(cloud(), faults_mod.CUT_LINK, 0.0, phase='stopped')


def test_paused_is_the_source_domain_suspended_by_the_plan():
    running, suspended, switched = mock.Mock(), mock.Mock(), mock.Mock()
    running.state.return_value = [1, 1]
    suspended.state.return_value = [faults_nova.DOMAIN_PAUSED,
                                    faults_nova.PAUSED_MIGRATION]
    switched.state.return_value = [faults_nova.DOMAIN_PAUSED,
                                   faults_nova.PAUSED_POSTCOPY]
    assert not faults_nova.in_phase(faults_nova.PAUSED, {}, running)
    assert not faults_nova.in_phase(faults_nova.PAUSED, {}, switched)
    assert not faults_nova.in_phase(faults_nova.PAUSED, {}, None)
    assert faults_nova.in_phase(faults_nova.PAUSED, {}, suspended)


def test_the_paused_phase_runs_where_the_admin_permits_only_a_pause():
    options = dict(((s, k), v) for s, k, v in faults_nova.phase_options(
        'migtuner', faults_nova.PAUSED))
    assert options[('migtuner', 'permit_pause')] == 'true'
    assert options[('libvirt', 'live_migration_permit_post_copy')] == 'false'
    assert options[(
        'libvirt', 'live_migration_permit_auto_converge')] == 'false'
    assert faults_nova.phase_options('migtuner', faults_nova.POST_COPY) == ()
    assert faults_nova.phase_options('stock-nova', faults_nova.PAUSED) == ()


def test_each_phase_has_its_guest_and_its_moments():
    assert faults_nova.workload(faults_nova.POST_COPY).name == 'dirty-2x'
    assert faults_nova.workload().name == 'dirty-0.5x'
    pre = faults_nova.moment(faults_mod.CUT_LINK, faults_nova.PRE_COPY, 1)
    assert faults_nova.FAULT_MIN_S <= pre <= faults_nova.FAULT_MAX_S
    # The pre-copy moments are those of every earlier fault table.
    assert pre == faults_nova.moment(faults_mod.CUT_LINK,
                                     faults_nova.PRE_COPY, 1)
    post = faults_nova.moment(faults_mod.CUT_LINK, faults_nova.POST_COPY, 1)
    assert 0.0 <= post <= faults_nova.PHASE_DELAY_MAX_S


def test_the_injection_does_not_hold_up_the_observers_polls():
    release = threading.Event()

    def slow_inject(cloud_, fault_):     # a compute restart takes seconds
        release.wait(5)
        return lambda: None

    fault = faults_nova.Fault(cloud(), faults_nova.RESTART_SOURCE_COMPUTE,
                              after_s=1.0, inject=slow_inject)
    began = time.monotonic()
    fault.observe({'time_elapsed': 1000})
    assert time.monotonic() - began < 1.0
    release.set()
    fault.restore()
    assert fault.error is None


def test_a_killed_libvirtd_is_restarted_and_its_connection_forgotten(
        monkeypatch):
    c = cloud()
    sent = []
    monkeypatch.setattr(faults_nova.processes, 'send_signal',
                        lambda pid, sig: sent.append((pid, sig)))
    c.bed.hosts['a'].pid.return_value = 4711
    undo = faults_nova.inject(c, faults_nova.KILL_SOURCE_LIBVIRTD)
    assert sent == [(4711, signal.SIGKILL)]
    assert not c.bed.up.called
    undo()
    # A daemon restart, not a rebuilt host: bed.up() would wipe the host.
    c.bed.restart_daemon.assert_called_once_with('a')
    assert not c.bed.up.called
    assert not c.restart_compute.called


def test_a_killed_libvirtd_comes_back_by_itself_as_under_a_service_manager(
        monkeypatch):
    c = cloud()
    monkeypatch.setattr(faults_nova.processes, 'send_signal',
                        lambda pid, sig: None)
    monkeypatch.setattr(faults_nova, 'LIBVIRTD_DOWN_S', 0.01)
    restarted = threading.Event()
    c.bed.restart_daemon.side_effect = lambda host: restarted.set()
    undo = faults_nova.inject(c, faults_mod.KILL_DEST_LIBVIRTD)
    assert restarted.wait(10)
    # The bench's own undo at the end of the run does not restart it again.
    undo()
    c.bed.restart_daemon.assert_called_once_with('b')


def test_a_link_cut_for_good_comes_back_only_when_the_run_ends(
        monkeypatch):
    cut = []
    monkeypatch.setattr(faults_mod, 'inject', lambda bed, fault: (
        cut.append(fault) or (lambda: cut.append('restored'))))
    monkeypatch.setattr(faults_mod, 'restore_later', mock.Mock())
    undo = faults_nova.inject(cloud(), faults_nova.CUT_LINK_FOR_GOOD)
    assert cut == [faults_mod.CUT_LINK]
    assert not faults_mod.restore_later.called
    undo()
    assert cut == [faults_mod.CUT_LINK, 'restored']
    # The run may wait for the kernel to give up on the connection.
    assert faults_nova.outage_s(faults_nova.CUT_LINK_FOR_GOOD) == (
        faults_nova.LINK_GONE_WAIT_S)
    # Never in the default list: a run takes about 15 minutes.
    assert faults_nova.CUT_LINK_FOR_GOOD not in faults_nova.FAULTS
    assert cli.parse_args(['--faults-only', '--fault',
                           faults_nova.CUT_LINK_FOR_GOOD]).fault == [
        faults_nova.CUT_LINK_FOR_GOOD]


def test_a_compute_restart_goes_through_the_cloud():
    c = cloud()
    faults_nova.inject(c, faults_nova.RESTART_SOURCE_COMPUTE)()
    c.restart_compute.assert_called_once_with('a')


def test_an_injection_that_raises_is_recorded_not_retried():
    inject = mock.Mock(side_effect=OSError('iptables: not found'))
    fault = faults_nova.Fault(cloud(), faults_mod.CUT_LINK, 2.0,
                              inject=inject)
    fault.observe({'time_elapsed': 4000})
    fault.observe({'time_elapsed': 5000})
    fault.restore()
    assert inject.call_count == 1
    assert fault.error == 'OSError: iptables: not found'
    assert not faults_nova.check(stayed_home(), fault)['injected']


def test_an_unknown_fault_is_refused_by_name():
    with pytest.raises(ValueError, match="'unplug'.*kill-dest-qemu"):
        faults_nova.Fault(cloud(), 'unplug', 2.0)
    with pytest.raises(ValueError, match="'unplug'.*restart-source-compute"):
        faults_nova.inject(cloud(), 'unplug')


def stayed_home(method='migtuner', **changes):
    observed = {'outcome': 'failed', 'hosts_running_guest': ['a'],
                'hosts_paused_guest': [], 'hosts_with_domain': ['a'],
                'nova_server_status': 'ACTIVE',
                'nova_host': nova_path.SOURCE_HOST,
                'nova_migration_status': 'error',
                'heartbeat_longest_gap_ms': 420}
    observed.update(changes)
    return {'method': method, 'error': None, 'observed': observed,
            'notification': {'outcome': 'failed'}}


def injected():
    fault = faults_nova.Fault(cloud(), faults_mod.KILL_DEST_QEMU, 3.0,
                              inject=lambda *_: (lambda: None))
    fault.observe({'time_elapsed': 3000})
    fault.restore()
    return fault


def failing(result):
    return {k for k, v in result.items() if k != 'ok' and not v}


def test_a_guest_running_only_on_the_source_passes():
    assert faults_nova.check(stayed_home(), injected())['ok']


def test_a_guest_that_moved_and_nova_says_so_passes():
    moved = stayed_home(hosts_running_guest=['b'], hosts_with_domain=['b'],
                        nova_host='migtuner-b',
                        nova_migration_status='completed')
    assert faults_nova.check(moved, injected())['ok']


@pytest.mark.parametrize('changes, expected', [
    ({'hosts_paused_guest': ['a'], 'hosts_running_guest': []},
     {'runs_on_one_host', 'not_paused', 'not_defined_elsewhere',
      'nova_agrees_on_the_host', 'nova_record_agrees'}),
    ({'hosts_with_domain': ['a', 'b']}, {'not_defined_elsewhere'}),
    ({'nova_server_status': 'ERROR'}, {'nova_agrees_on_the_host'}),
    ({'nova_migration_status': 'completed'}, {'nova_record_agrees'}),
    # Moved, but nova still places it on the source: split views.
    ({'hosts_running_guest': ['b'], 'hosts_with_domain': ['b']},
     {'nova_agrees_on_the_host', 'nova_record_agrees'}),
    ({'hosts_running_guest': ['a', 'b']},
     {'runs_on_one_host', 'not_defined_elsewhere',
      'nova_agrees_on_the_host', 'nova_record_agrees'}),
])
def test_each_way_of_losing_or_splitting_fails_its_check(changes, expected):
    result = faults_nova.check(stayed_home(**changes), injected())
    assert not result['ok']
    assert failing(result) == expected


def test_a_migtuner_run_without_end_fails_stock_is_not_asked():
    case = stayed_home()
    case['notification'] = None
    assert failing(faults_nova.check(case, injected())) == {'notified'}
    assert 'notified' not in faults_nova.check(
        stayed_home(method='stock-nova'), injected())


def test_a_fault_never_injected_does_not_pass():
    fault = faults_nova.Fault(cloud(), faults_mod.KILL_DEST_QEMU, 3.0,
                              inject=mock.Mock())
    assert failing(faults_nova.check(stayed_home(), fault)) == {'injected'}


def test_the_faults_json_entry_names_what_the_issue_asks():
    case = dict(stayed_home(), fault='kill-dest-qemu', phase='pre-copy',
                run=1, injected_at_s=3.0, leftover_domains=[])
    case['check'] = faults_nova.check(case, injected())
    e = faults_nova.entry(case)
    assert {k: e[k] for k in ('fault', 'phase', 'injected_at_s', 'outcome',
                              'hosts_running_guest', 'nova_host',
                              'paused_s', 'recovered', 'notified')} == {
        'fault': 'kill-dest-qemu', 'phase': 'pre-copy',
        'injected_at_s': 3.0, 'outcome': 'failed',
        'hosts_running_guest': ['a'], 'nova_host': 'migtuner-a',
        'paused_s': 0.42, 'recovered': None, 'notified': True}


def test_leftover_domains_of_the_run_are_destroyed_and_counted():
    c = cloud()
    left = mock.Mock()
    left.UUIDString.return_value = 'uuid-1'
    left.isActive.return_value = True
    c.bed.connect.side_effect = lambda host: mock.Mock(
        listAllDomains=mock.Mock(return_value=[left] if host == 'b' else []))
    assert faults_nova.remove_leftovers(c, 'uuid-1') == ['b']
    left.destroy.assert_called_once_with()
    left.undefine.assert_called_once_with()
    assert faults_nova.remove_leftovers(c, None) == []


def test_the_table_counts_k_of_n_per_fault_and_method():
    def result(fault, method, ok, failing=()):
        check = {k: False for k in failing}
        check['ok'] = ok
        return {'fault': fault, 'method': method, 'check': check}
    text = faults_nova.table([
        result('kill-dest-qemu', 'migtuner', True),
        result('kill-dest-qemu', 'migtuner', False, ['not_paused']),
        result('cut-migration-link', 'stock-nova', True)])
    assert ('kill-dest-qemu         migtuner          1/2   not_paused (1)'
            in text)
    assert 'cut-migration-link     stock-nova        1/1   -' in text


def test_faults_only_runs_no_matrix_and_fails_on_a_failed_check(
        tmp_path, monkeypatch):
    cloud = mock.Mock()
    monkeypatch.setattr(cloud_mod, 'Cloud', lambda: cloud)
    ran = mock.Mock(side_effect=AssertionError('no matrix case expected'))
    monkeypatch.setattr(nova_path, 'run_case', ran)
    seen = []

    def run_faults(cloud_, runs, cap, chosen, progress, results, faults,
                   phases):
        seen.append((runs, cap, tuple(chosen), tuple(faults), tuple(phases)))
        case = dict(stayed_home(hosts_paused_guest=['a']),
                    fault='kill-dest-qemu', phase='pre-copy', run=1,
                    injected_at_s=3.0)
        case['check'] = faults_nova.check(case, injected())
        results.append(case)
        return results

    monkeypatch.setattr(faults_nova, 'run_faults', run_faults)
    args = cli.parse_args(['--faults-only', '--fault-runs', '2',
                           '--output', str(tmp_path)])
    assert cli._run_nova(args, 90) == 1
    assert seen == [(2, cli.QUICK_RUN_CAP_S, faults_nova.METHODS,
                     faults_nova.FAULTS, (faults_nova.PRE_COPY,))]
    assert not cloud.start_computes.called
    assert '0/1' in (tmp_path / 'results.txt').read_text()
    assert (tmp_path / 'faults.json').exists()


def test_only_the_chosen_faults_run(monkeypatch):
    monkeypatch.setattr(faults_nova, 'computes_not_back',
                        lambda cloud_: {})
    monkeypatch.setattr(faults_nova, 'remove_leftovers',
                        lambda cloud_, server_id: [])
    monkeypatch.setattr(nova_path, 'run_case',
                        lambda cloud_, w, method, cap, progress, fault,
                        planning_s:
                        stayed_home(method=method))
    results = faults_nova.run_faults(cloud(), 2, 30, chosen=['migtuner'],
                                     progress=lambda _: None,
                                     faults=[faults_mod.CUT_LINK])
    assert [(r['fault'], r['run']) for r in results] == [
        (faults_mod.CUT_LINK, 1), (faults_mod.CUT_LINK, 2)]
    with pytest.raises(ValueError, match='faults unplug-it are invalid'):
        faults_nova.run_faults(cloud(), 1, 30, faults=['unplug-it'])


def test_every_phase_runs_its_own_guest(monkeypatch):
    monkeypatch.setattr(faults_nova, 'computes_not_back', lambda cloud_: {})
    monkeypatch.setattr(faults_nova, 'remove_leftovers',
                        lambda cloud_, server_id: [])
    ran = []

    def run_case(cloud_, w, method, cap, progress, fault, planning_s):
        ran.append((w.name, fault.phase))
        return stayed_home(method=method)
    monkeypatch.setattr(nova_path, 'run_case', run_case)
    results = faults_nova.run_faults(
        cloud(), 1, 30, chosen=['migtuner'], progress=lambda _: None,
        faults=[faults_mod.KILL_DEST_QEMU],
        phases=[faults_nova.PRE_COPY, faults_nova.POST_COPY])
    assert ran == [('dirty-0.5x', 'pre-copy'), ('dirty-2x', 'post-copy')]
    assert [r['phase'] for r in results] == ['pre-copy', 'post-copy']
    text = faults_nova.table(results)
    assert 'post-copy      kill-dest-qemu' in text
    with pytest.raises(ValueError, match='phases stopped are invalid'):
        faults_nova.run_faults(cloud(), 1, 30, phases=['stopped'])


def test_the_computes_take_each_phase_s_options_before_its_runs(
        monkeypatch):
    monkeypatch.setattr(faults_nova, 'computes_not_back', lambda cloud_: {})
    monkeypatch.setattr(faults_nova, 'remove_leftovers',
                        lambda cloud_, server_id: [])
    c = cloud()
    events = []
    c.start_computes.side_effect = lambda driver, options: events.append(
        ('computes', ('migtuner', 'permit_pause', 'true') in options))

    def run_case(cloud_, w, method, cap, progress, fault, planning_s):
        events.append((w.name, fault.phase))
        return stayed_home(method=method)
    monkeypatch.setattr(nova_path, 'run_case', run_case)
    faults_nova.run_faults(
        c, 1, 30, chosen=['migtuner'], progress=lambda _: None,
        faults=[faults_mod.KILL_DEST_QEMU],
        phases=[faults_nova.PRE_COPY, faults_nova.PAUSED])
    assert events == [('computes', False), ('dirty-0.5x', 'pre-copy'),
                      ('computes', True), ('dirty-2x', 'paused')]


def test_the_fault_choice_defaults_to_every_fault_of_the_path():
    assert cli.parse_args(['--faults-only']).fault == list(
        faults_nova.FAULTS)
    assert cli.parse_args(['--faults-only', '--engine']).fault == list(
        faults_mod.FAULTS)


def test_zero_fault_runs_are_refused(capsys):
    with pytest.raises(SystemExit):
        cli.parse_args(['--faults', '--fault-runs', '0'])
    assert '--fault-runs 0: expected 1 or more' in capsys.readouterr().err


def placement(traits, services=(('up', 'enabled'),)):
    conn = mock.Mock()
    listed = []

    def list_services(binary, host):
        assert (binary, host) == ('nova-compute', 'migtuner-b')
        listed.append(host)
        return [mock.Mock(state=state, status=status)
                for state, status in services]
    conn.compute.services.side_effect = list_services
    conn.listed = listed

    def get(url, params=None, microversion=None):
        assert microversion == '1.6'
        if url == '/resource_providers':
            assert params == {'name': 'migtuner-b'}
            return mock.Mock(json=lambda: {'resource_providers': [
                {'uuid': 'rp-b', 'name': 'migtuner-b'}]})
        assert url == '/resource_providers/rp-b/traits'
        return mock.Mock(json=lambda: {'traits': traits.pop(0)})
    conn.placement.get.side_effect = get
    return conn


def test_the_compute_is_back_only_when_placement_stops_marking_it(
        monkeypatch):
    monkeypatch.setattr(faults_nova.time, 'sleep', lambda _: None)
    c = cloud()
    conn = placement([['COMPUTE_STATUS_DISABLED', 'HW_CPU_X86_SSE'],
                      ['HW_CPU_X86_SSE']])
    c.connection.return_value = conn
    ok, seen = faults_nova.wait_for_compute(c, 'migtuner-b')
    assert ok and seen == [('up', 'enabled')]
    assert conn.listed == ['migtuner-b'] * 2


def test_a_compute_that_stays_marked_disabled_is_reported(monkeypatch):
    monkeypatch.setattr(faults_nova.time, 'sleep', lambda _: None)
    c = cloud()
    c.connection.return_value = placement(
        [['COMPUTE_STATUS_DISABLED']] * 3)
    ok, seen = faults_nova.wait_for_compute(c, 'migtuner-b', timeout=0)
    assert not ok
    assert seen == {'service': [('up', 'enabled')],
                    'placement_disabled': True}


def test_a_compute_nova_reports_down_is_not_back(monkeypatch):
    monkeypatch.setattr(faults_nova.time, 'sleep', lambda _: None)
    c = cloud()
    c.connection.return_value = placement([[]] * 3,
                                          services=[('down', 'enabled')])
    ok, seen = faults_nova.wait_for_compute(c, 'migtuner-b', timeout=0)
    assert not ok and seen['service'] == [('down', 'enabled')]


def test_a_cut_link_comes_back_by_itself_after_the_hold(monkeypatch):
    monkeypatch.setattr(faults_nova, 'CUT_HOLD_S', 0.05)
    undo = mock.Mock()
    monkeypatch.setattr(faults_nova.faults_mod, 'inject',
                        lambda bed, fault: undo)
    restore = faults_nova.inject(cloud(), faults_mod.CUT_LINK)
    wait_for(lambda: undo.called)
    restore()           # nova's record is final: already back, once
    undo.assert_called_once_with()


def test_a_cut_link_comes_back_at_once_when_the_run_ends_first(
        monkeypatch):
    monkeypatch.setattr(faults_nova, 'CUT_HOLD_S', 60)
    undo = mock.Mock()
    monkeypatch.setattr(faults_nova.faults_mod, 'inject',
                        lambda bed, fault: undo)
    faults_nova.inject(cloud(), faults_mod.CUT_LINK)()
    undo.assert_called_once_with()


def test_run_faults_runs_every_fault_per_method_and_records_not_run(
        monkeypatch):
    c = cloud()
    ran = []
    backs = iter([{}] + [{'migtuner-b': 'down'}] +
                 [{}] * (2 * len(faults_nova.FAULTS)))
    monkeypatch.setattr(faults_nova, 'computes_not_back',
                        lambda cloud_: next(backs))
    monkeypatch.setattr(faults_nova, 'remove_leftovers',
                        lambda cloud_, server_id: [])

    def run_case(cloud_, w, method, cap, progress, fault, planning_s):
        ran.append((method, fault.fault, fault.after_s))
        # The cut link's outage is added to the time the run may take.
        assert planning_s == (faults_nova.CUT_HOLD_S
                              if fault.fault == faults_mod.CUT_LINK else 0)
        return stayed_home(method=method)

    monkeypatch.setattr(nova_path, 'run_case', run_case)
    results = []
    returned = faults_nova.run_faults(c, 1, 30, progress=lambda _: None,
                                      results=results)
    assert returned is results
    assert len(results) == 2 * len(faults_nova.FAULTS)
    assert [r['method'] for r in results] == (
        ['stock-nova'] * len(faults_nova.FAULTS) +
        ['migtuner'] * len(faults_nova.FAULTS))
    # The second run found a compute down: a failed case with the reason.
    assert results[1]['observed'] == {'outcome': 'not run'}
    assert 'migtuner-b' in results[1]['error']
    assert not results[1]['check']['ok']
    # Every method draws the same moments for the same fault and run.
    moments = {}
    for method, fault, after_s in ran:
        assert faults_nova.FAULT_MIN_S <= after_s <= faults_nova.FAULT_MAX_S
        moments.setdefault(fault, set()).add(after_s)
    assert all(len(m) == 1 for m in moments.values())
    # Once per method (one phase).
    assert c.start_computes.call_count == 2


def test_a_post_copy_fault_may_take_the_recovery_time_too():
    # A failed post-copy is recovered for up to POST_COPY_RECOVERY_S: a
    # run that stopped waiting before would call a recovering guest lost.
    assert faults_nova.outage_s(faults_mod.KILL_DEST_QEMU) == 0
    assert faults_nova.outage_s(faults_mod.KILL_DEST_QEMU,
                                faults_nova.AUTO_CONVERGE) == 0
    assert faults_nova.outage_s(
        faults_mod.KILL_DEST_QEMU, faults_nova.POST_COPY) == (
            faults_nova.applier_mod.POST_COPY_RECOVERY_S)
    assert faults_nova.outage_s(
        faults_mod.CUT_LINK, faults_nova.POST_COPY) == (
            faults_nova.CUT_HOLD_S +
            faults_nova.applier_mod.POST_COPY_RECOVERY_S)
