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

REPORT_TIMEOUT_S = 60
WORKLOAD_TIMEOUT_S = 120


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError('timed out after %.0f s waiting for %s'
                         % (timeout, what))


def wait_for_workload(observer, bed_host):
    wait_for(lambda: 'mtw ready' in observer.console_text(bed_host),
             WORKLOAD_TIMEOUT_S,
             'the guest workload on %s (%s)' % (
                 bed_host, observer.console_log(bed_host)))


def other(bed_host):
    return {'a': 'b', 'b': 'a'}[bed_host]


@pytest.fixture(scope='module')
def migrated(cloud, openstack):
    """One idle server, live-migrated with ``openstack server migrate
    --live-migration --wait`` while its heartbeat is watched."""
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


def test_operator_commands_plan_migrate_drain_report(cloud, openstack,
                                                     servers):
    booted = servers(3, host='migtuner-a')
    assert {host_of(s) for s in booted} == {'migtuner-a'}
    config = ['--config-file', cloud.layout.etc('nova', 'nova.conf')]

    plan = openstack.json('migtuner', 'plan', booted[0]['id'], *config)
    assert plan['source_host'] == 'migtuner-a', plan
    assert plan['strategy'] == 'balanced', plan

    moved = openstack.json('migtuner', 'migrate', booted[0]['id'],
                           '--strategy', 'fastest', '--wait', *config)
    assert wait_active(openstack, booted[0]['id'])[
        'OS-EXT-SRV-ATTR:host'] == 'migtuner-b'
    assert moved['outcome'] == 'completed', moved
    # The measured report, as the collector stored it from RabbitMQ.
    assert moved['strategy_used'] == 'fastest', moved
    assert moved['downtime_ms'] is not None, moved

    drained = openstack.json('migtuner', 'drain', 'migtuner-a',
                             '--max-parallel', '2', *config)
    ours = {s['id'] for s in booted[1:]}
    rows = [r for r in drained if r['id'] in ours]
    assert len(rows) == 2, drained
    assert {r['outcome'] for r in rows} == {'completed'}, drained
    for server in booted:
        assert host_of(wait_active(openstack, server['id'])) == 'migtuner-b'
    for server in booted:
        assert observer_mod.ServerObserver(
            cloud, server['id']).running_on() == ['b']

    report = openstack.json('migtuner', 'report')
    rows = [r for r in report if r['flavor'] == cloud_mod.FLAVOR_NAME]
    assert rows and rows[0]['migrations'] >= 3, report


def test_abort_of_a_busy_migration_leaves_it_running_on_the_source(
        cloud, openstack, servers):
    # Without post-copy, so that the migration is still abortable when the
    # abort arrives (a post-copy switch cannot be undone).
    flavor = 'mt-no-post-copy'
    if not openstack.run('flavor', 'show', flavor, check=False).returncode:
        openstack.run('flavor', 'delete', flavor)
    openstack.run('flavor', 'create', '--ram', str(cloud_mod.FLAVOR_RAM_MB),
                  '--disk', '1', '--vcpus', '1', '--property',
                  'migtuner:permit_post_copy=false', flavor)
    server = servers(1, image=cloud_mod.BUSY_IMAGE_NAME,
                     host='migtuner-a', flavor=flavor)[0]
    observer = observer_mod.ServerObserver(cloud, server['id'])
    wait_for_workload(observer, 'a')
    openstack.run('server', 'migrate', '--live-migration', server['id'])

    def running_migration():
        found = openstack.json('--os-compute-api-version', '2.59',
                               'server', 'migration', 'list', '--server',
                               server['id'])
        return [m for m in found if m['Status'] == 'running']

    migration = wait_for(running_migration, 120,
                         'the live migration of %s to run' % server['id'])
    openstack.run('--os-compute-api-version', '2.24', 'server', 'migration',
                  'abort', server['id'], str(migration[0]['Id']))
    wait_for(lambda: not running_migration(), 120,
             'the aborted migration to end')
    after = wait_active(openstack, server['id'])
    assert host_of(after) == 'migtuner-a'
    assert observer.running_on() == ['a']
    assert observer.paused_on() == []
    probe = observer.heartbeat_probe().start()
    try:
        probe.wait_for_beats('a', 20, 10.0)
    finally:
        probe.stop()
