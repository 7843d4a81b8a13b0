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

"""Shared set-up of the nova-migtuner API tests."""

import base64
import subprocess
import textwrap
import threading
import time

from tempest.api.compute import base
from tempest import config
from tempest.lib.common.utils import data_utils
from tempest.lib import exceptions as lib_exc

CONF = config.CONF

# Printed on the serial console by the busy server once its workload runs.
BUSY_MARKER = 'nova-migtuner-busy-workload-started'
FAILED_MIGRATION_STATES = ('error', 'failed', 'cancelled')
# The instance action event the nova-migtuner driver records.
MIGTUNER_EVENT = 'migtuner_live_migration'


def skip_unless_migtuner(test_class):
    if not CONF.service_available.nova_migtuner:
        raise test_class.skipException(
            'nova-migtuner is not available in this cloud '
            '([service_available] nova_migtuner = False)')


def busy_user_data(dirty_mib):
    """A boot script that rewrites *dirty_mib* MiB of memory forever.

    Works on cirros (busybox sh and dd): the pages live in a tmpfs and are
    rewritten from a random 1 MiB block, so QEMU cannot send them as zero
    pages.
    """
    script = textwrap.dedent('''\
        #!/bin/sh
        mkdir -p /mnt/migtuner
        mount -t tmpfs -o size={size}m tmpfs /mnt/migtuner
        dd if=/dev/urandom of=/mnt/migtuner/seed bs=1048576 count=1
        (
          while :; do
            i=0
            while [ $i -lt {mib} ]; do
              dd if=/mnt/migtuner/seed of=/mnt/migtuner/buf bs=1048576 \\
                 count=1 seek=$i conv=notrunc 2>/dev/null
              i=$((i + 1))
            done
          done
        ) </dev/null >/dev/null 2>&1 &
        echo {marker} > /dev/console
        ''').format(size=dirty_mib + 2, mib=dirty_mib, marker=BUSY_MARKER)
    return base64.b64encode(script.encode('utf-8')).decode('ascii')


class PingMonitor(object):
    """Ping an address every 0.2 s; report the longest gap between replies.

    Used from the host that runs Tempest, as the field experiments did: the
    longest time without a reply bounds what the guest's users saw.
    """

    INTERVAL = 0.2

    def __init__(self, address):
        self.address = address
        self._stop = threading.Event()
        self._replies = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            ok = subprocess.call(
                ['ping', '-c', '1', '-W', '1', self.address],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0
            if ok:
                self._replies.append(time.monotonic())
            self._stop.wait(self.INTERVAL)

    def start(self):
        self._start = time.monotonic()
        self._thread.start()
        return self

    def stop(self):
        """Return the longest stretch, in seconds, without a reply."""
        self._stop.set()
        self._thread.join()
        end = time.monotonic()
        points = [self._start] + self._replies + [end]
        return max(b - a for a, b in zip(points, points[1:]))


class MigTunerAdminTest(base.BaseV2ComputeAdminTest):
    """Admin compute tests of a cloud running nova-migtuner."""

    @classmethod
    def skip_checks(cls):
        skip_unless_migtuner(cls)
        super(MigTunerAdminTest, cls).skip_checks()

    @classmethod
    def create_migtuner_flavor(cls, ram=None, extra_specs=None):
        """A flavor like [compute] flavor_ref, with migtuner extra specs."""
        client = cls.os_admin.flavors_client
        ref = client.show_flavor(CONF.compute.flavor_ref)['flavor']
        flavor = client.create_flavor(
            name=data_utils.rand_name(prefix=CONF.resource_name_prefix,
                                      name=cls.__name__ + '-flavor'),
            ram=ram or ref['ram'], vcpus=ref['vcpus'], disk=ref['disk'],
            id=data_utils.rand_uuid())['flavor']
        cls.addClassResourceCleanup(client.wait_for_resource_deletion,
                                    flavor['id'])
        cls.addClassResourceCleanup(client.delete_flavor, flavor['id'])
        if extra_specs:
            client.set_flavor_extra_spec(flavor['id'], **extra_specs)
        return flavor

    @classmethod
    def migtuner_extra_specs(cls):
        return {
            'migtuner:strategy': CONF.nova_migtuner.expected_strategy,
            'migtuner:max_downtime_ms': str(
                CONF.nova_migtuner.max_downtime_ms),
        }


class MigTunerLiveMigrationBase(MigTunerAdminTest):
    """Live migrations: need two computes and live migration enabled."""

    # block_migration='auto' (2.25) and networks='none' (2.37)
    min_microversion = '2.37'
    create_default_network = True

    @classmethod
    def skip_checks(cls):
        # Checked before the microversions so that the reason names what
        # the cloud lacks for these tests.
        skip_unless_migtuner(cls)
        if not CONF.compute_feature_enabled.live_migration:
            raise cls.skipException(
                '%s skipped: live migration is not available '
                '([compute-feature-enabled] live_migration = False)'
                % cls.__name__)
        if CONF.compute.min_compute_nodes < 2:
            raise cls.skipException(
                '%s skipped: less than 2 compute nodes '
                '([compute] min_compute_nodes = %d)'
                % (cls.__name__, CONF.compute.min_compute_nodes))
        super(MigTunerLiveMigrationBase, cls).skip_checks()

    @classmethod
    def setup_credentials(cls):
        cls.prepare_instance_network()
        super(MigTunerLiveMigrationBase, cls).setup_credentials()

    @classmethod
    def create_test_server(cls, **kwargs):
        if CONF.nova_migtuner.boot_without_network:
            kwargs.setdefault('networks', 'none')
        return super(MigTunerLiveMigrationBase, cls).create_test_server(
            **kwargs)

    def live_migrate_and_wait(self, server_id, timeout):
        """Live-migrate to a host the scheduler picks; wait for the end.

        :returns: (seconds taken, source host, destination host)
        :raises: a test failure when the migration fails, the server leaves
            ACTIVE for ERROR, or *timeout* passes first.
        """
        source = self.get_host_for_server(server_id)
        started = time.monotonic()
        self.admin_servers_client.live_migrate_server(
            server_id, host=None, block_migration='auto')
        while True:
            elapsed = time.monotonic() - started
            server = self.admin_servers_client.show_server(
                server_id)['server']
            migration = self._last_live_migration(server_id)
            state = migration and migration['status']
            if server['status'] == 'ERROR':
                self.fail('server %s went to ERROR during its live '
                          'migration: %s' % (server_id, migration))
            if state in FAILED_MIGRATION_STATES:
                self.fail('live migration of %s %s after %.0f s: %s'
                          % (server_id, state, elapsed, migration))
            dest = server['OS-EXT-SRV-ATTR:host']
            if (state == 'completed' and server['status'] == 'ACTIVE' and
                    dest != source):
                return elapsed, source, dest
            if elapsed > timeout:
                self.fail('live migration of %s not done after %.0f s '
                          '(budget %d s): server %s on %s, migration %s'
                          % (server_id, elapsed, timeout, server['status'],
                             dest, migration))
            time.sleep(CONF.compute.build_interval)

    def migtuner_event(self, server_id):
        """The ``migtuner_live_migration`` event of the server's last
        live-migration action; fails the test when there is none.
        """
        client = self.os_admin.servers_client
        actions = [a for a in client.list_instance_actions(
            server_id)['instanceActions'] if a['action'] == 'live-migration']
        if not actions:
            self.fail('server %s has no live-migration action' % server_id)
        latest = max(actions, key=lambda a: a['start_time'])
        events = client.show_instance_action(
            server_id, latest['request_id'])['instanceAction']['events']
        for event in events:
            if event['event'] == MIGTUNER_EVENT:
                return event
        self.fail('the live-migration action %s of server %s has no %s '
                  'event (events: %s): the compute did not run the '
                  'nova-migtuner driver'
                  % (latest['request_id'], server_id, MIGTUNER_EVENT,
                     ', '.join(sorted(e['event'] for e in events))))

    def _last_live_migration(self, server_id):
        try:
            migrations = self.os_admin.migrations_client.list_migrations(
                instance_uuid=server_id,
                migration_type='live-migration')['migrations']
        except lib_exc.BadRequest:
            migrations = self.os_admin.migrations_client.list_migrations(
            )['migrations']
        mine = [m for m in migrations if m['instance_uuid'] == server_id and
                m.get('migration_type', 'live-migration') ==
                'live-migration']
        if not mine:
            return None
        return max(mine, key=lambda m: (m['created_at'], m['id']))
