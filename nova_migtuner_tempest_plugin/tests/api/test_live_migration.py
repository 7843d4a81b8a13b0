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

"""Live migrations through nova-migtuner on a multinode cloud."""

import time

from oslo_log import log as logging
from tempest import config
from tempest.lib.common.utils.linux import remote_client
from tempest.lib.common.utils import test_utils
from tempest.lib import decorators

from nova_migtuner_tempest_plugin.tests.api import base

CONF = config.CONF
LOG = logging.getLogger(__name__)

# A live migration that is not done in this time has gone wrong (the
# migtuner deadline for a small test guest is a few minutes).
MIGRATION_TIMEOUT = 600


class MigTunerLiveMigrationTest(base.MigTunerLiveMigrationBase):
    """A server moves, stays ACTIVE and is never rebooted."""

    @classmethod
    def resource_setup(cls):
        super(MigTunerLiveMigrationTest, cls).resource_setup()
        cls.flavor = cls.create_migtuner_flavor(
            extra_specs=cls.migtuner_extra_specs())

    def _ssh(self, server, validation_resources):
        return remote_client.RemoteClient(
            self.get_server_ip(server, validation_resources),
            CONF.validation.image_ssh_user,
            password=CONF.validation.image_ssh_password,
            pkey=validation_resources['keypair']['private_key'],
            server=server,
            servers_client=self.servers_client)

    @staticmethod
    def _uptime(ssh):
        return float(ssh.exec_command('cat /proc/uptime').split()[0])

    @decorators.attr(type='multinode')
    @decorators.idempotent_id('486cf411-c6a5-43f3-82ff-530b95928dbd')
    def test_live_migration_moves_server_and_keeps_it_running(self):
        validatable = CONF.validation.run_validation
        validation_resources = (self.get_test_validation_resources(
            self.os_primary) if validatable else None)
        server = self.create_test_server(
            validatable=validatable,
            validation_resources=validation_resources,
            flavor=self.flavor['id'], wait_until='ACTIVE')
        ssh = uptime_before = monitor = None
        if validatable:
            server = self.servers_client.show_server(server['id'])['server']
            ssh = self._ssh(server, validation_resources)
            ssh.validate_authentication()
            uptime_before = self._uptime(ssh)
            if CONF.nova_migtuner.max_unreachable_s > 0:
                monitor = base.PingMonitor(self.get_server_ip(
                    server, validation_resources)).start()

        seconds, source, dest = self.live_migrate_and_wait(
            server['id'], MIGRATION_TIMEOUT)
        LOG.info('Server %s live-migrated from %s to %s in %.1f s',
                 server['id'], source, dest, seconds)

        if monitor is not None:
            gap = monitor.stop()
            self.assertLessEqual(
                gap, CONF.nova_migtuner.max_unreachable_s,
                'server unreachable for %.1f s during its live migration'
                % gap)
        self.assertNotEqual(source, dest)
        self.assertEqual(dest, self.get_host_for_server(server['id']))
        self.assertEqual(
            'ACTIVE',
            self.servers_client.show_server(server['id'])['server'][
                'status'])
        # What only nova-migtuner does, as an admin sees it in the API: its
        # own event on the live-migration action, with the outcome.
        event = self.migtuner_event(server['id'])
        self.assertEqual(
            'Success', event['result'],
            'nova-migtuner did not drive this migration to completion: '
            '%s' % event)
        if ssh is not None:
            # Reachable after the move, and the same boot: a live
            # migration, not a reboot or a cold migration.
            uptime_after = self._uptime(ssh)
            self.assertGreater(uptime_after, uptime_before)


class MigTunerBusyServerMigrationTest(base.MigTunerLiveMigrationBase):
    """A server that keeps dirtying its memory migrates within budget.

    This is the case stock settings handle worst (a busy guest's migration
    never converges): migtuner has to pick flags and an escalation that
    finish it within [nova_migtuner] busy_migration_budget.
    """

    @classmethod
    def resource_setup(cls):
        super(MigTunerBusyServerMigrationTest, cls).resource_setup()
        cls.flavor = cls.create_migtuner_flavor(
            ram=CONF.nova_migtuner.busy_flavor_ram_mb,
            extra_specs=cls.migtuner_extra_specs())

    def _create_busy_server(self):
        if CONF.nova_migtuner.busy_image_ref:
            # An image whose guest dirties its memory by itself.
            return self.create_test_server(
                flavor=self.flavor['id'], wait_until='ACTIVE',
                image_id=CONF.nova_migtuner.busy_image_ref)
        return self.create_test_server(
            flavor=self.flavor['id'], wait_until='ACTIVE',
            user_data=base.busy_user_data(
                CONF.nova_migtuner.busy_dirty_mib))

    def _wait_for_workload(self, server_id):
        if not CONF.compute_feature_enabled.console_output:
            LOG.warning('Console output disabled: cannot see the busy '
                        'workload start, waiting 60 s instead')
            time.sleep(60)
            return

        marker = CONF.nova_migtuner.busy_ready_marker or base.BUSY_MARKER

        def started():
            output = self.servers_client.get_console_output(
                server_id)['output']
            return marker in output

        if not test_utils.call_until_true(started, CONF.compute.build_timeout,
                                          CONF.compute.build_interval):
            self.fail('the busy workload of server %s did not start within '
                      '%d s (no %r on its console: is user data applied?)'
                      % (server_id, CONF.compute.build_timeout,
                         base.BUSY_MARKER))

    @decorators.attr(type=['multinode', 'slow'])
    @decorators.idempotent_id('e9f501a2-6353-42bd-a012-0b688bbdd15f')
    def test_busy_server_migrates_within_budget(self):
        budget = CONF.nova_migtuner.busy_migration_budget
        server = self._create_busy_server()
        self._wait_for_workload(server['id'])

        seconds, source, dest = self.live_migrate_and_wait(
            server['id'], budget)
        LOG.info('Busy server %s live-migrated from %s to %s in %.1f s '
                 '(budget %d s)', server['id'], source, dest, seconds,
                 budget)
        self.assertLessEqual(seconds, budget)
        self.assertNotEqual(source, dest)
        self.assertEqual(
            'ACTIVE',
            self.servers_client.show_server(server['id'])['server'][
                'status'])
