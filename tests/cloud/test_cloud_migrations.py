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

"""Live migrations through the nova API of a real cloud on the test bed.

nova-api, conductor, scheduler and two nova-computes running
MigTunerDriver against two real libvirtd hosts; every request goes through
the real ``openstack`` binary, and the checks read libvirt and the guest's
serial console on the hosts themselves.
"""

import time

import pytest

from nova_migtuner.cloud import cloud as cloud_mod
from nova_migtuner.cloud import observer as observer_mod
from nova_migtuner.nova import action_event
from nova_migtuner.reports import store as store_mod
from tests.cloud.conftest import host_of
from tests.cloud.conftest import wait_active
from tests.cloud.conftest import wait_for
from tests.cloud.conftest import wait_for_workload
from tests import prometheus_scrape

REPORT_TIMEOUT_S = 60


def other(bed_host):
    return {'a': 'b', 'b': 'a'}[bed_host]


@pytest.fixture(scope='module')
def migrated(cloud, openstack):
    """One idle server, live-migrated with ``openstack server migrate
    --live-migration --wait`` while its heartbeat is watched.
    """
    server = openstack.json('server', 'create', '--image',
                            cloud_mod.IMAGE_NAME, '--flavor',
                            cloud_mod.FLAVOR_NAME, '--nic', 'none',
                            'mt-idle-migrated')
    try:
        server = wait_active(openstack, server['id'])
        observer = observer_mod.ServerObserver(cloud, server['id'])
        source = observer_mod.bed_host_of(host_of(server))
        wait_for_workload(observer, source)
        probe = observer.heartbeat_probe().start()
        probe.wait_for_beats(source, 10, 10.0)
        started = time.monotonic()
        openstack.run('server', 'migrate', '--live-migration', '--wait',
                      server['id'])
        seconds = time.monotonic() - started
        after = openstack.json('server', 'show', server['id'])
        dest = observer_mod.bed_host_of(host_of(after))
        beats_after = probe.wait_for_beats(dest, 20, 10.0)
        result = probe.stop()
        yield {'server': after, 'observer': observer, 'source': source,
               'dest': dest, 'heartbeat': result, 'beats_after': beats_after,
               'samples': probe.samples(), 'seconds': seconds}
    finally:
        openstack.run('server', 'delete', '--wait', server['id'],
                      check=False)


def test_live_migration_moves_the_server_and_it_keeps_running(migrated):
    assert migrated['dest'] == other(migrated['source'])
    assert migrated['server']['status'] == 'ACTIVE'
    observer = migrated['observer']
    # Running on exactly the host nova says, and nowhere else.
    assert observer.running_on() == [migrated['dest']]
    assert observer.paused_on() == []
    # It beat on the source before and on the destination after, with
    # consecutive sequence numbers: the same boot, not a restart.
    samples = migrated['samples']
    on_source = [s for s in samples if s.host == migrated['source']]
    on_dest = [s for s in samples if s.host == migrated['dest']]
    assert on_source and on_dest
    assert on_dest[0].seq > on_source[-1].seq
    assert on_dest[0].seq - on_source[-1].seq < 5000, (
        'the heartbeat sequence jumped by %d: the guest restarted'
        % (on_dest[0].seq - on_source[-1].seq))


def test_end_notification_equals_libvirt_completed_stats(cloud, migrated):
    server_id = migrated['server']['id']
    store = store_mod.ReportStore(cloud.reports_db, create=False)
    reports = wait_for(
        lambda: store.reports(instance_uuid=server_id), REPORT_TIMEOUT_S,
        'the collector to store the .end report of %s' % server_id)
    report = reports[-1]
    payload = store.payload(report.message_id)
    stats = migrated['observer'].completed_stats(migrated['dest'])
    assert report.outcome == 'completed'
    assert payload['tuned'] is True
    assert payload['stats_source'] == 'destination'
    assert stats.get('downtime') is not None, stats
    assert payload['downtime_ms'] == stats['downtime']
    assert payload['data_bytes_transferred'] == stats['data_processed']
    assert payload['memory_bytes_transferred'] == stats['memory_processed']
    assert payload['memory_total_bytes'] == stats['memory_total']
    assert payload['iterations'] == stats['memory_iteration']
    assert (report.source_host, report.destination_host) == (
        'migtuner-%s' % migrated['source'], 'migtuner-%s' % migrated['dest'])


def test_server_event_shows_the_migtuner_outcome(openstack, migrated):
    server_id = migrated['server']['id']
    actions = [a for a in openstack.json('server', 'event', 'list',
                                         server_id)
               if a['Action'] == 'live-migration']
    assert actions, 'no live-migration action for %s' % server_id
    event = openstack.json('--os-compute-api-version', '2.84', 'server',
                           'event', 'show', server_id,
                           actions[0]['Request ID'])
    ours = [e for e in event['events']
            if e['event'] == action_event.EVENT_NAME]
    assert len(ours) == 1, event['events']
    assert ours[0]['result'] == 'Success'
    assert ours[0]['host'] == 'migtuner-%s' % migrated['source']


def test_collector_metrics_count_the_measured_migration(cloud, migrated):
    """The collector's Prometheus endpoint, scraped over HTTP and parsed
    with prometheus_client's parser, counts the migration with the
    downtime and bytes its .end notification measured.
    """
    server_id = migrated['server']['id']
    store = store_mod.ReportStore(cloud.reports_db, create=False)
    report = wait_for(
        lambda: store.reports(instance_uuid=server_id), REPORT_TIMEOUT_S,
        'the collector to store the .end report of %s' % server_id)[-1]
    payload = store.payload(report.message_id)
    labels = {'source_host': payload['source_host'],
              'destination_host': payload['destination_host'],
              'flavor': payload['flavor_name'],
              'strategy': payload['strategy']}
    completed = ('migtuner_migrations_total',
                 tuple(sorted(dict(labels, outcome='completed').items())))
    metrics = {}

    def counted():
        metrics.update(prometheus_scrape.scrape(
            cloud.layout.collector_metrics_port)[1])
        return metrics.get(completed)

    wait_for(counted, REPORT_TIMEOUT_S,
             'the collector metrics to count %s' % server_id)

    def sample(name, **extra):
        return metrics.get((name, tuple(sorted(dict(labels,
                                                    **extra).items()))))

    assert sample('migtuner_migration_downtime_seconds_count') >= 1
    # The first bucket at or above the measured downtime holds it.
    downtime_s = payload['downtime_ms'] / 1000.0
    buckets = sorted(
        (float(dict(key)['le']), value)
        for (name, key), value in metrics.items()
        if name == 'migtuner_migration_downtime_seconds_bucket'
        and labels.items() <= dict(key).items())
    at_or_above = [value for le, value in buckets if le >= downtime_s]
    assert at_or_above and at_or_above[0] >= 1, (downtime_s, buckets)
    assert sample('migtuner_migration_transferred_bytes_sum') >= payload[
        'data_bytes_transferred']
