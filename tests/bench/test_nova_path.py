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

"""The nova path of the bench: configurations and the observer's numbers."""

import os
import time
import types
from unittest import mock

import pytest

from nova_migtuner.bench import nova_path
from nova_migtuner.cloud import observer as observer_mod


def test_nova_timeline_puts_nova_timeout_at_the_run_cap():
    timeline = nova_path.nova_timeline(90)
    assert timeline['live_migration_completion_timeout'] == 22
    assert timeline['effective_timeout_s'] == 88 <= 90
    # The step delay keeps nova's 75:800 ratio down to the option's floor.
    assert timeline['live_migration_downtime_delay'] == 3
    assert nova_path.nova_timeline(3200)[
        'live_migration_downtime_delay'] == 75


def options(method):
    driver, opts = nova_path.nova_options(method, 90)
    return driver, {(s, k): v for s, k, v in opts}


def test_stock_nova_keeps_nova_defaults_but_the_timeline():
    driver, opts = options(nova_path.STOCK)
    assert driver == 'stock'
    assert set(opts) == {
        ('libvirt', 'live_migration_completion_timeout'),
        ('libvirt', 'live_migration_downtime_delay')}


def test_best_static_permits_everything_and_forces_completion():
    driver, opts = options(nova_path.NOVA_BEST)
    assert driver == 'stock'
    assert opts[('libvirt', 'live_migration_permit_post_copy')] == 'true'
    assert opts[('libvirt', 'live_migration_permit_auto_converge')] == 'true'
    assert opts[('libvirt', 'live_migration_timeout_action')] == \
        'force_complete'


def test_migtuner_runs_its_driver_with_project_defaults():
    assert nova_path.nova_options(nova_path.MIGTUNER, 90) == ('migtuner', [])


def test_unknown_method_is_refused_by_name():
    with pytest.raises(ValueError, match="'paused'.*stock-nova"):
        nova_path.nova_options('paused', 90)


COMPLETED = {'type': 3, 'time_elapsed': 4305, 'downtime': 56,
             'data_processed': 125076375, 'memory_iteration': 3,
             'memory_postcopy_requests': 0}
POLL = {'type': 2, 'time_elapsed': 3000, 'data_processed': 100,
        'memory_iteration': 2, 'memory_remaining': 5,
        'auto_converge_throttle': 20}


def test_observed_numbers_prefer_the_destination_completed_stats():
    numbers = nova_path.observed_numbers([(1.0, POLL)], COMPLETED)
    assert numbers['stats_source'] == 'destination completed'
    assert numbers['total_time_s'] == 4.305
    assert numbers['downtime_ms'] == 56
    assert numbers['data_bytes'] == 125076375
    assert numbers['auto_converge_throttle'] == 20


def test_observed_numbers_after_post_copy_come_from_the_last_poll():
    # After post-copy libvirt keeps only {'type': 0} on the destination.
    numbers = nova_path.observed_numbers([(1.0, POLL)], {'type': 0})
    assert numbers['stats_source'] == 'source last poll'
    assert numbers['total_time_s'] == 3.0
    assert numbers['downtime_ms'] is None
    assert numbers['data_bytes'] == 100


def test_observed_numbers_ignore_a_zeroed_poll_after_an_abort():
    # Polled while libvirt tears down the cancelled job: counters reset.
    zeroed = {'type': 2, 'time_elapsed': 0, 'data_processed': 0}
    numbers = nova_path.observed_numbers(
        [(1.0, POLL), (1.1, zeroed)], {})
    assert numbers['total_time_s'] == 3.0
    assert numbers['data_bytes'] == 100


def test_notification_compared_with_the_observer():
    same = nova_path.compare({'data_bytes': 1000, 'downtime_ms': 50},
                             {'data_bytes_transferred': 1000,
                              'downtime_ms': 50})
    assert same == {'data_bytes_pct': 0.0, 'downtime_ms': 0, 'ok': True}
    off = nova_path.compare({'data_bytes': 1000},
                            {'data_bytes_transferred': 1100})
    assert not off['ok'] and off['data_bytes_pct'] == 10.0
    assert not nova_path.compare({'data_bytes': 1}, None)['ok']


class FakeComputeAPI:
    """``conn.compute.migrations`` answering with scripted records."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.queries = []
        self.compute = self

    def migrations(self, **query):
        self.queries.append(query)
        records = self.answers.pop(0) if len(self.answers) > 1 \
            else self.answers[0]
        return [types.SimpleNamespace(id=i, status=st) for i, st in records]


class FakeCLI:
    def __init__(self):
        self.runs = []

    def run(self, *args, check=True):
        self.runs.append(args)


def test_the_newest_live_migration_record_is_polled_until_final(
        monkeypatch):
    monkeypatch.setattr(nova_path, 'API_POLL_INTERVAL_S', 0)
    conn = FakeComputeAPI([], [('3', 'completed'), ('12', 'running')],
                          [('3', 'completed'), ('12', 'cancelled')])
    cli = FakeCLI()
    assert nova_path.wait_for_final_record(cli, conn, 'u1', 60) == {
        'Id': '12', 'Status': 'cancelled'}
    assert conn.queries[0] == {'server_id': 'u1',
                               'migration_type': 'live-migration'}
    assert len(conn.queries) == 3 and cli.runs == []


def test_a_migration_past_its_time_is_aborted_with_the_cli(monkeypatch):
    monkeypatch.setattr(nova_path, 'API_POLL_INTERVAL_S', 0)
    conn = FakeComputeAPI([('7', 'running')])
    cli = FakeCLI()
    with pytest.raises(TimeoutError, match='did not end within 0 s '
                       r'\(status running\); aborted'):
        nova_path.wait_for_final_record(cli, conn, 'u1', 0)
    assert cli.runs == [('--os-compute-api-version', '2.24', 'server',
                         'migration', 'abort', 'u1', '7')]


@pytest.mark.parametrize('status, running, outcome', [
    ('completed', ['b'], 'completed'),
    ('cancelled', ['a'], 'aborted'),
    ('error', ['a'], 'failed'),
    ('error', [], 'lost'),
    ('completed', ['a', 'b'], 'split'),
    # A post-copy finished by QEMU while nova failed its last step.
    ('error', ['b'], 'moved-unrecorded'),
])
def test_outcome_from_nova_and_where_the_guest_runs(status, running,
                                                    outcome):
    assert nova_path._outcome({'Status': status}, 'a', running, 'b') == \
        outcome


# -- the application's view from nova's console.log -------------------------

RECORDING = os.path.join(os.path.dirname(__file__), 'data',
                         'workload-console.log')


class _Host:
    def __init__(self, root):
        self.root = root

    def path(self, system_path):
        return os.path.join(self.root, system_path.strip('/').replace(
            '/', '_'))


def _chunks(text):
    """The recording cut after each progress line, with its uptime (s)."""
    chunks, current = [], []
    for line in text.splitlines(keepends=True):
        current.append(line)
        if line.startswith('p'):
            uptime = int(line.split()[2][1:]) / 1000.0
            chunks.append((uptime, ''.join(current)))
            current = []
    return chunks


def test_the_console_log_gives_the_application_impact(tmp_path):
    """Replays the recorded console of a test bed guest whose heartbeat
    and progress lines share the console, as a nova guest's do (an idle
    workload serving 100 requests/s), into console.log on the source,
    stops the guest 0.4 s, then goes on on the destination.
    """
    cloud = mock.Mock()
    cloud.bed.hosts = {'a': _Host(str(tmp_path / 'a')),
                       'b': _Host(str(tmp_path / 'b'))}
    for host in cloud.bed.hosts.values():
        os.makedirs(host.root)
    watch = observer_mod.ServerObserver(cloud, 'uuid-1')
    with open(RECORDING) as f:
        chunks = _chunks(f.read())
    assert len(chunks) > 100
    probe = watch.heartbeat_probe().start()
    stop_s, switch_at = 0.4, 60        # chunk 60: 6 s into the recording
    started = time.monotonic() - chunks[0][0]
    marks = {}
    for n, (uptime, text) in enumerate(chunks[:110]):
        host = 'a' if n <= switch_at else 'b'
        shift = stop_s if n > switch_at else 0.0
        delay = started + uptime + shift - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        with open(watch.console_log(host), 'a') as f:
            f.write(text)
        marks[n] = time.monotonic()
    time.sleep(0.1)
    probe.stop()
    job_start, job_end = marks[switch_at - 10], marks[switch_at + 1]
    app = nova_path.application(probe, nova_path.cloud_mod.IDLE_WORKLOAD,
                                job_start, job_end, 'a', 'b')
    impact = app['impact']
    assert impact['unit'] == 'requests'
    assert impact['normal_rate_per_s'] == pytest.approx(100, rel=0.05)
    assert impact['work_lost_s'] == pytest.approx(stop_s, abs=0.15)
    assert impact['slowest_1s_fraction'] == pytest.approx(0.6, abs=0.15)
    assert impact['max_request_gap_ms'] == pytest.approx(410, abs=60)
    assert impact['p99_request_gap_ms'] < 100
    assert app['markers']['switch_s'] == pytest.approx(1.0, abs=0.2)
    assert app['throughput_series']


def test_the_observer_hands_each_job_poll_to_the_fault():
    import libvirt

    polls = iter([{'type': libvirt.VIR_DOMAIN_JOB_NONE},
                  {'type': libvirt.VIR_DOMAIN_JOB_UNBOUNDED,
                   'time_elapsed': 100}])
    dom = mock.Mock()
    dom.jobStats.side_effect = lambda: next(polls, {'type': 0})
    server = mock.Mock()
    server.domain.return_value = dom
    seen = []
    observer = nova_path.Observer(
        server, 'a', on_sample=lambda stats, domain: seen.append(stats) or
        domains.append(domain))
    domains = []
    observer.start()
    deadline = time.monotonic() + 5
    while not seen and time.monotonic() < deadline:
        time.sleep(0.05)
    observer.stop()
    # Only the poll of an active job; the idle one is not a sample.
    assert seen == [{'type': libvirt.VIR_DOMAIN_JOB_UNBOUNDED,
                     'time_elapsed': 100}]
    assert [s for _, s in observer.samples] == seen
    # With the source domain, whose state says whether it is in post-copy.
    assert domains == [dom]


def test_the_server_is_read_once_nova_cleared_its_task_state(monkeypatch):
    monkeypatch.setattr(nova_path, 'API_POLL_INTERVAL_S', 0)
    shown = iter([{'status': 'MIGRATING', 'OS-EXT-STS:task_state':
                   'migrating'},
                  {'status': 'ACTIVE', 'OS-EXT-STS:task_state': None}])
    cli = mock.Mock()
    cli.json.side_effect = lambda *args: next(shown)
    assert nova_path.settled_server(cli, 'uuid-1')['status'] == 'ACTIVE'
    assert cli.json.call_count == 2


def test_a_server_that_never_settles_is_read_as_it_is(monkeypatch):
    monkeypatch.setattr(nova_path, 'API_POLL_INTERVAL_S', 0)
    cli = mock.Mock()
    cli.json.return_value = {'status': 'MIGRATING',
                             'OS-EXT-STS:task_state': 'migrating'}
    assert nova_path.settled_server(cli, 'uuid-1', timeout=0.05)[
        'status'] == 'MIGRATING'
