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

"""Every event's notification, as emitted, against its sample file.

Every functional test of the driver checks its notifications against
``doc/notification_samples/`` when it ends (``MigTunerTestBase``); this one
makes sure each of the five events is emitted, and so checked, at least
once.
"""

from nova import monkey_patch
monkey_patch.patch()  # noqa: E402  (as nova's own functional tests do)

from unittest import mock  # noqa: E402

from nova_migtuner.planning import notification_schema as notif  # noqa: E402
from tests.functional.driver import base  # noqa: E402
from tests.functional.driver import samples  # noqa: E402
from tests.functional.driver import test_tuned_migration as tuned  # noqa: E402,E501


class TestNotificationSamples(base.MigTunerTestBase):

    def test_every_event_matches_its_sample(self):
        # Long enough to cover the first migration's end on a loaded
        # machine (the spacing counts from nova's record of it).
        self.flags(instance_spacing_s=20, max_deferral_s=30,
                   group='migtuner')
        self.use_clock(base.FastClock(40))
        server = self.create_server_on_src()
        # A migration that completes: .start, a monitor hook error (.error;
        # nova's stock behaviour from then on) and .end. Instance spacing
        # counts only completed migrations.
        base.ScriptedMigration(self, base.CONVERGING, tuned.COMPLETED)
        with mock.patch('nova_migtuner.engine.escalation.Escalator.observe',
                        side_effect=ZeroDivisionError('escalator bug')):
            self.live_migrate(server, host='dest')
            self.wait_for_migration(server, ['completed'])
            self.wait_for_notification(notif.END)
        self._wait_for_state_change(server, 'ACTIVE')
        self.assertEqual('dest', self.host_of(server))
        # Back to the source at once: .deferred (instance spacing), then a
        # stalled migration: .start, .escalated up to the deadline's abort,
        # .end. src and dest swap roles (the script and the clock follow).
        self.src, self.dest = self.dest, self.src
        self.use_clock(base.FastClock(40))
        base.ScriptedMigration(self, base.STALLED, tuned.COMPLETED,
                               complete_after_samples=False)
        self.live_migrate(server, host='src')
        # Up to 20 s of it waiting for the spacing.
        self.wait_for_migration(server, ['cancelled'], timeout=90)
        self.wait_for_notification(notif.END, count=2)
        self._wait_for_state_change(server, 'ACTIVE')

        emitted = [n for n in self.notifier.versioned_notifications
                   if n['event_type'].startswith(notif.EVENT_PREFIX)]
        self.assertEqual(sorted(notif.EVENTS), sorted(
            {n['event_type'][len(notif.EVENT_PREFIX):] for n in emitted}))
        for n in emitted:
            self.assertEqual([], samples.mismatches(n))
            self.assertEqual(notif.PAYLOAD_NAMESPACE,
                             n['payload']['nova_object.namespace'])
        deferred = self.notifications(notif.DEFERRED)[0]['payload']
        self.assertEqual('spacing', deferred['wait_for'])
        self.assertIn('instance_spacing_s 20 s', deferred['reason'])
        first, second = [n['payload'] for n in self.notifications(notif.END)]
        self.assertEqual('completed', first['outcome'])
        self.assertEqual('aborted', second['outcome'])
        self.assertTrue(second['escalations'])
