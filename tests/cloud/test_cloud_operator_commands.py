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

"""Operator commands and aborts through the nova API of the real cloud.

A module of its own: the servers of test_cloud_migrations are gone before
these tests drain a host.
"""

from nova_migtuner.cloud import cloud as cloud_mod
from nova_migtuner.cloud import observer as observer_mod
from tests.cloud.conftest import host_of
from tests.cloud.conftest import wait_active
from tests.cloud.conftest import wait_for
from tests.cloud.conftest import wait_for_workload


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
