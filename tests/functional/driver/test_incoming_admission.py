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

"""The destination's admission (``[migtuner] max_incoming_migrations``)
together with nova's own queue of live migrations on the source
(``max_concurrent_live_migrations``).

nova's conductor, scheduler, compute managers and database run for real;
libvirt is nova's fake, and a migration's job runs while nova's test lock
is open (nova's ``LiveMigrationWithLockBase``).
"""

from nova import monkey_patch
monkey_patch.patch()  # noqa: E402

from nova.conductor.tasks import live_migrate  # noqa: E402
from nova.tests.functional.api import client  # noqa: E402
from nova.tests.functional.libvirt import (  # noqa: E402
    test_live_migration as nova_lm)

from tests.functional.driver import base  # noqa: E402


class QueuedMigrationsAndTheDestinationAdmission(
        base.MigTunerDriverMixin, nova_lm.LiveMigrationWithLockBase):

    def setUp(self):
        super().setUp()
        self.flags(max_incoming_migrations=2, group='migtuner')
        self.addCleanup(self.check_notification_samples)

    def _host(self, server):
        return self.api.get_server(server['id'])['OS-EXT-SRV-ATTR:host']

    def _watch_admissions_after_the_pre_checks(self):
        """What the destination's ledger holds each time nova's conductor
        comes back from a host's pre-checks: the moment before it writes
        that host into the migration record.
        """
        seen = []
        checks = live_migrate.LiveMigrationTask._call_livem_checks_on_host

        def call_checks(task, destination, provider_mapping):
            checks(task, destination, provider_mapping)
            seen.append((task.instance.uuid,
                         self.dest.driver._migtuner_incoming.admitted()))
        self.stub_out('nova.conductor.tasks.live_migrate.LiveMigrationTask.'
                      '_call_livem_checks_on_host', call_checks)
        return seen

    def test_a_queued_migration_cancelled_on_the_source_frees_its_place(
            self):
        after_checks = self._watch_admissions_after_the_pre_checks()
        self.lock_live_migration.acquire()
        self.addCleanup(lambda: self.lock_live_migration.locked() and
                        self.lock_live_migration.release())
        running, queued, third = [
            self._create_server(host=self.src_hostname, networks='none')
            for _ in range(3)]
        self._live_migrate(running, migration_expected_state='running',
                           server_expected_state='MIGRATING')
        self._live_migrate(queued, migration_expected_state='queued',
                           server_expected_state='MIGRATING')
        # nova's manager calls cleanup_live_migration_destination_check
        # after every pre-check; the admission outlives it, until the
        # record names the destination (a rival's pre-check in between
        # would otherwise count neither).
        self.assertEqual(
            [(running['id'], {running['id']}), (queued['id'], {queued['id']})],
            after_checks)

        # Two are in flight to the destination (one waits in the source's
        # queue): its pre-check refuses a third, and the server stays.
        # nova's functional fixtures make the conductor's cast a call, so
        # the conductor's NoValidHost reaches the API as a 500.
        error = self.assertRaises(
            client.OpenStackApiException, self.api.post_server_action,
            third['id'], {'os-migrateLive': {'host': None,
                                             'block_migration': 'auto'}})
        self.assertIn('NoValidHost', str(error))
        self._wait_for_migration_status(third, ['error'])
        self._wait_for_state_change(third, 'ACTIVE')
        self.assertEqual('src', self._host(third))
        self.assertIn('already receives 2 live migrations',
                      self.stdlog.logger.output)

        # nova cancels a queued migration on the source alone: the
        # destination hears nothing, and its record is final. The place
        # it held at the destination is free at once.
        queued_migration = self.api.api_get(
            '/os-migrations?instance_uuid=%s' % queued['id']
        ).body['migrations'].pop()
        self.api.api_delete('/servers/%s/migrations/%s' % (
            queued['id'], queued_migration['id']))
        self._wait_for_migration_status(queued, ['cancelled'])
        self._live_migrate(third, migration_expected_state='queued',
                           server_expected_state='MIGRATING')

        self.lock_live_migration.release()
        self._wait_for_state_change(running, 'ACTIVE')
        self._wait_for_state_change(queued, 'ACTIVE')
        self._wait_for_migration_status(third, ['completed'])
        self._wait_for_state_change(third, 'ACTIVE')
        self.assertEqual(
            ('dest', 'src', 'dest'),
            tuple(self._host(s) for s in (running, queued, third)))
        self.assertEqual(frozenset(),
                         self.dest.driver._migtuner_incoming.admitted())
