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

"""Concurrent migrations through nova: what counts as a spacing or an
incoming-limit violation, and how a round is assembled."""

from unittest import mock

import pytest

from nova_migtuner.bench import cli
from nova_migtuner.bench import concurrency_nova as cn
from nova_migtuner.bench import nova_path


def test_starts_closer_than_the_spacing_are_violations():
    assert cn.spacing_violations([0.0, 5.1, 7.0], 5) == 1
    # Within the observer's tolerance of the spacing: not a violation.
    assert cn.spacing_violations([4.6, 0.0], 5) == 0
    assert cn.spacing_violations([0.0, 1.0, 2.0, 3.0], 5) == 3
    assert cn.spacing_violations([3.0], 5) == 0


def test_a_job_started_while_the_limit_was_in_flight_is_a_violation():
    windows = {'a': (0.0, 12.0), 'b': (5.0, 17.0), 'c': (6.0, 20.0),
               'd': (21.0, 30.0)}
    assert cn.incoming_violations(windows, 2) == 1
    assert cn.incoming_violations(windows, 3) == 0
    assert cn.incoming_violations(windows, 0) == 0
    assert cn.most_in_flight(windows) == 3
    assert cn.most_in_flight({}) == 0


def test_only_polled_jobs_have_windows():
    assert cn.job_windows({'a': [(1.0, {}), (2.0, {}), (9.5, {})],
                           'b': []}) == {'a': (1.0, 9.5)}


def test_the_counts_of_a_round():
    entries = [{'nova_migration_status': 'completed',
                'monitor_poll_gap_max_ms': 510},
               {'nova_migration_status': 'completed',
                'monitor_poll_gap_max_ms': 2040},
               {'nova_migration_status': 'error'}]
    counted = cn.counts(entries, {'s1': (0.0, 12.0), 's2': (5.2, 18.0)})
    assert counted == {'jobs_started': 2,
                       'nova_statuses': {'completed': 2, 'error': 1},
                       'spacing_violations': 0, 'incoming_violations': 0,
                       'most_in_flight': 2,
                       'longest_monitor_poll_gap_ms': 2040}


class FakeObserver:
    """Two polls per job; the third server's job was never started."""

    windows = {'s0': (100.0, 112.0), 's1': (105.5, 118.0)}

    def __init__(self, server_observer, source):
        self.server_id = server_observer.server_id
        self.stopped = False
        start_end = self.windows.get(self.server_id)
        self.samples = ([] if start_end is None else
                        [(start_end[0], {}), (start_end[1], {})])

    def start(self):
        return self

    def stop(self):
        self.stopped = True


def test_a_round_migrates_every_server_at_once_and_counts(monkeypatch):
    cloud = mock.Mock()
    commands = []
    ids = iter(['s0', 's1', 's2'])

    class CLI:
        def __init__(self, cloud_):
            pass

        def boot(self, name, image, flavor, host):
            assert host == nova_path.SOURCE_HOST
            return {'id': next(ids)}

        def run(self, *args, check=True):
            commands.append(args)
            return mock.Mock(returncode=0)

    monkeypatch.setattr(cn.openstack_cli, 'OpenStackCLI', CLI)
    monkeypatch.setattr(cn.observer_mod, 'ServerObserver',
                        lambda cloud_, server_id: mock.Mock(
                            server_id=server_id))
    monkeypatch.setattr(nova_path, 'Observer', FakeObserver)
    monkeypatch.setattr(nova_path, 'wait_for', lambda *a: None)
    monkeypatch.setattr(nova_path, 'image_name', lambda *a: 'img')
    statuses = {'s0': 'completed', 's1': 'completed', 's2': 'error'}
    monkeypatch.setattr(nova_path, 'wait_for_final_record',
                        lambda cli_, conn, server_id, timeout:
                        {'Status': statuses[server_id]})
    monkeypatch.setattr(nova_path, 'settled_server',
                        lambda cli_, server_id: {
                            'status': 'ACTIVE',
                            'OS-EXT-SRV-ATTR:host': (
                                'migtuner-a' if server_id == 's2'
                                else 'migtuner-b')})
    monkeypatch.setattr(nova_path, 'end_payload',
                        lambda cloud_, server_id: {
                            's0': {'outcome': 'completed',
                                   'monitor_poll_gap_max_ms': 600},
                            's1': {'outcome': 'completed', 'waited_s': 5.0,
                                   'monitor_poll_gap_max_ms': 900}}.get(
                                       server_id))
    result = cn.run_round(cloud, 3, 90, progress=lambda _: None)
    assert result['error'] is None
    migrated = sorted(a[-1] for a in commands
                      if a[:3] == ('server', 'migrate', '--live-migration'))
    assert migrated == ['s0', 's1', 's2']
    deleted = sorted(a[-1] for a in commands if a[:2] == ('server',
                                                          'delete'))
    assert deleted == ['s0', 's1', 's2']
    assert result['jobs_started'] == 2
    assert result['nova_statuses'] == {'completed': 2, 'error': 1}
    assert (result['spacing_violations'], result['incoming_violations'],
            result['most_in_flight']) == (0, 0, 2)
    assert result['longest_monitor_poll_gap_ms'] == 900
    by_id = {e['server_id']: e for e in result['servers']}
    assert by_id['s2']['job_started_s'] is None
    assert by_id['s2']['nova_host'] == 'migtuner-a'
    assert by_id['s1']['waited_s'] == 5.0
    assert '0 spacing and 0 incoming-limit violations' in cn.line(result)


def test_the_computes_allow_concurrency_and_space_the_starts(monkeypatch):
    cloud = mock.Mock()
    seen = []
    monkeypatch.setattr(cn, 'run_round',
                        lambda cloud_, k, cap, progress, not_before:
                        seen.append((k, not_before is None)) or
                        {'k': k, 'error': 'TimeoutError: no workload'})
    results = cn.run_concurrent(cloud, [2, 4], 90, progress=lambda _: None)
    # The second round waits for the first's destination to settle.
    assert seen == [(2, True), (4, False)]
    driver, options = cloud.start_computes.call_args.args
    assert driver == 'migtuner'
    assert ('DEFAULT', 'max_concurrent_live_migrations',
            str(cn.MAX_CONCURRENT)) in options
    assert ('migtuner', 'host_spacing_s', str(cn.HOST_SPACING_S)) in options
    assert 'not measured: TimeoutError' in cn.table(results)
    with pytest.raises(ValueError, match='concurrency 1 is invalid'):
        cn.run_concurrent(cloud, [1], 90)


def test_concurrent_rounds_fail_the_bench_on_a_violation(tmp_path,
                                                         monkeypatch):
    monkeypatch.setattr(cli, '_on_cloud',
                        lambda args, run, on_error: run(mock.Mock()))

    def run_concurrent(cloud_, rounds, cap, progress, results):
        results.extend({'k': k, 'error': None, 'jobs_started': k,
                        'nova_statuses': {'completed': k},
                        'spacing_violations': int(k == 4),
                        'incoming_violations': 0, 'most_in_flight': 2,
                        'longest_monitor_poll_gap_ms': 700}
                       for k in rounds)
    monkeypatch.setattr(cn, 'run_concurrent', run_concurrent)
    args = cli.parse_args(['--concurrent', '2', '--output', str(tmp_path)])
    assert cli._run_concurrent_nova(args, 90) == 0
    args = cli.parse_args(['--concurrent', '2,4', '--output', str(tmp_path)])
    assert cli._run_concurrent_nova(args, 90) == 1
    assert 'max_incoming_migrations 2' in (tmp_path /
                                           'results.txt').read_text()
