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

"""nova's own live-migration functional tests, run with MigTunerDriver.

Each class is nova 34's ``nova.tests.functional.libvirt.test_live_migration``
class, unchanged but for the compute driver: ``MigTunerDriverMixin`` loads
``compute_driver = migtuner.MigTunerDriver`` and checks every compute really
runs it. The module is imported under an alias so that test discovery does
not also collect nova's originals (with the stock driver).
"""

from nova import monkey_patch
monkey_patch.patch()  # noqa: E402

from nova.tests.functional.libvirt import (  # noqa: E402
    test_live_migration as nova_lm)

from nova_migtuner.planning import notification_schema as notif  # noqa: E402,E501
from tests.functional.driver import base  # noqa: E402


class TunedMixin(base.MigTunerDriverMixin):
    """nova's test, our driver; and our flow must have run for real."""

    def setUp(self):
        super().setUp()
        # nova's queued-migration tests send three live migrations to one
        # destination at once; the destination's own admission
        # (max_incoming_migrations, default 2) would refuse the third.
        self.flags(max_incoming_migrations=0, group='migtuner')
        self.addCleanup(self._check_migrations_were_tuned)
        self.addCleanup(self.check_notification_samples)

    def _check_migrations_were_tuned(self):
        starts = [notif.flat_payload(notif.START, n['payload'])
                  for n in self.notifier.versioned_notifications
                  if n['event_type'] == 'migtuner.live_migration.start']
        self.assertTrue(starts, 'no tuned migration ran')
        self.assertTrue(all(p['tuned'] for p in starts), starts)


class LiveMigrationQueuedAbortTestVmStatus(
        TunedMixin, nova_lm.LiveMigrationQueuedAbortTestVmStatus):
    pass


class LiveMigrationQueuedAbortTestLeftoversRemoved(
        TunedMixin,
        nova_lm.LiveMigrationQueuedAbortTestLeftoversRemoved):
    pass


class ManagerCleanupHostCancelsQueuedMigration(
        TunedMixin,
        nova_lm.ManagerCleanupHostCancelsQueuedMigration):
    pass


class LiveMigrationWithCpuSharedSet(
        TunedMixin, nova_lm.LiveMigrationWithCpuSharedSet):
    pass
