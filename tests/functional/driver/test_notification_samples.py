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
        # A stalled migration: .start, .escalated up to the deadline's
        # abort, .end.
        base.ScriptedMigration(self, base.STALLED, tuned.COMPLETED,
                               complete_after_samples=False)
        self.live_migrate(server, host='dest')
        self.wait_for_migration(server, ['cancelled'])
        self.wait_for_notification(notif.END)
        self._wait_for_state_change(server, 'ACTIVE')
        # Again at once: .deferred (spacing), .start, a monitor hook error
        # (.error; nova's stock behaviour from then on) and .end.
        base.ScriptedMigration(self, base.CONVERGING, tuned.COMPLETED)
        with mock.patch('nova_migtuner.engine.escalation.Escalator.observe',
                        side_effect=ZeroDivisionError('escalator bug')):
            self.live_migrate(server, host='dest')
            # Up to 20 s of it waiting for the spacing.
            self.wait_for_migration(server, ['completed'], timeout=90)
            self.wait_for_notification(notif.END, count=2)

        emitted = [n for n in self.notifier.versioned_notifications
                   if n['event_type'].startswith(notif.EVENT_PREFIX)]
        # Instance spacing now counts only completed migrations, and this
        # flow's first migration is aborted: no .deferred here (its sample
        # is checked as a valid payload by the unit tests).
        self.assertEqual(sorted(set(notif.EVENTS) - {notif.DEFERRED}), sorted(
            {n['event_type'][len(notif.EVENT_PREFIX):] for n in emitted}))
        for n in emitted:
            self.assertEqual([], samples.mismatches(n))
            self.assertEqual(notif.PAYLOAD_NAMESPACE,
                             n['payload']['nova_object.namespace'])
        end = self.notifications(notif.END)[0]['payload']
        self.assertEqual('aborted', end['outcome'])
        self.assertTrue(end['escalations'])
