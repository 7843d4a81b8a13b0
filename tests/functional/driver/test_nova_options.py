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

"""What the driver does with each of nova's live-migration options.

One test per option (or per group of options treated alike), through the
REST API with real nova services in process: the option is set as an admin
sets it in nova.conf and the test looks at what reached libvirt. The
operations guide's table of nova options (doc/source/ops/nova-options.rst)
names these tests; ``tests/unit/test_ops_guide.py`` checks that the
table and this file cover every option nova 34 has.
"""

from nova import monkey_patch
monkey_patch.patch()  # noqa: E402  (as nova's own functional tests do)

from nova.tests.fixtures import libvirt as fakelibvirt  # noqa: E402

from nova_migtuner.planning import notification_schema as notif  # noqa: E402
from tests.functional.driver import base  # noqa: E402

MIB = base.MIB
COMPLETED = {
    'time_elapsed': 2000, 'downtime': 42, 'data_total': 2048 * MIB,
    'data_processed': 2000 * MIB, 'memory_total': 2048 * MIB,
    'memory_processed': 2000 * MIB, 'memory_iteration': 3,
    'memory_bps': 150 * MIB,
}
CONVERGING = base.CONVERGING
STALLED = base.STALLED


class TestNovaLibvirtOptions(base.MigTunerTestBase):
    """``[libvirt]`` live-migration options with a plan in charge."""

    def setUp(self):
        super().setUp()
        self.flags(instance_spacing_s=0, group='migtuner')

    def migrate(self, server, script, status='completed', event=notif.END):
        self.notifier.reset()
        self.live_migrate(server, host='dest')
        migration = self.wait_for_migration(server, [status])
        self.wait_for_notification(event)
        return migration

    def migrate_flavor(self, name, extra_specs=None, script=None,
                       status='completed', event=notif.END):
        script = script or base.ScriptedMigration(self, CONVERGING,
                                                  COMPLETED)
        server = self.create_server_on_src(
            self.create_flavor(name, extra_specs))
        self.migrate(server, script, status, event)
        return server, script

    # -- combined with ours: both must permit ------------------------------

    def test_permit_auto_converge_is_combined_with_ours(self):
        # nova's default (False) forbids vCPU throttling although
        # [migtuner] permit_auto_converge is True and the strategy asks.
        _, script = self.migrate_flavor(
            'conservative', {'migtuner:strategy': 'conservative'})
        self.assertNotIn('VIR_MIGRATE_AUTO_CONVERGE',
                         self.flag_names(script.calls[0][0]))
        start = self.notifications(notif.START)[-1]['payload']
        self.assertNotIn('VIR_MIGRATE_AUTO_CONVERGE', start['flags'])
        # nova permits it: the plan may use it.
        self.flags(live_migration_permit_auto_converge=True,
                   group='libvirt')
        _, script = self.migrate_flavor(
            'conservative-2', {'migtuner:strategy': 'conservative'})
        self.assertIn('VIR_MIGRATE_AUTO_CONVERGE',
                      self.flag_names(script.calls[0][0]))
        # nova permits it and [migtuner] does not: not used either.
        self.flags(permit_auto_converge=False, group='migtuner')
        _, script = self.migrate_flavor(
            'conservative-3', {'migtuner:strategy': 'conservative'})
        self.assertNotIn('VIR_MIGRATE_AUTO_CONVERGE',
                         self.flag_names(script.calls[0][0]))

    def test_permit_post_copy_is_combined_with_ours(self):
        # nova permits post-copy, [migtuner] does not: not used.
        self.flags(live_migration_permit_post_copy=True, group='libvirt')
        self.flags(permit_post_copy=False, group='migtuner')
        self.restart_computes()
        self.assertIn('VIR_MIGRATE_POSTCOPY', self.flag_names(
            self.src.driver._live_migration_flags))
        _, script = self.migrate_flavor(
            'fastest', {'migtuner:strategy': 'fastest'})
        self.assertNotIn('VIR_MIGRATE_POSTCOPY',
                         self.flag_names(script.calls[0][0]))
        # Both permit it: used.
        self.flags(permit_post_copy=True, group='migtuner')
        _, script = self.migrate_flavor(
            'fastest-2', {'migtuner:strategy': 'fastest'})
        self.assertIn('VIR_MIGRATE_POSTCOPY',
                      self.flag_names(script.calls[0][0]))
        # (nova forbidding it while [migtuner] permits it:
        # test_tuned_migration's
        # test_stalled_migration_aborts_when_post_copy_not_permitted.)

    # -- still an outer bound ----------------------------------------------

    def test_bandwidth_is_an_outer_bound(self):
        self.flags(live_migration_bandwidth=100, group='libvirt')
        self.flags(max_bandwidth_mib_s=300, group='migtuner')
        _, script = self.migrate_flavor('bw')
        self.assertEqual(100, script.calls[0][1]['bandwidth'])
        # A lower [migtuner] cap wins in turn.
        self.flags(max_bandwidth_mib_s=50, group='migtuner')
        _, script = self.migrate_flavor('bw-2')
        self.assertEqual(50, script.calls[0][1]['bandwidth'])

    def test_completion_timeout_still_aborts(self):
        # 1 s per GiB (at least 2 GiB): nova's monitor aborts after ~2 s,
        # long before the plan's deadline or stall window.
        self.flags(live_migration_completion_timeout=1, group='libvirt')
        script = base.ScriptedMigration(self, STALLED, COMPLETED,
                                        complete_after_samples=False)
        server, script = self.migrate_flavor(
            'timeout', script=script, status='cancelled', event=notif.END)
        self.assertTrue(script.aborted)
        self.assertFalse(script.postcopy_started)
        self.assertEqual('src', self.host_of(server))
        # nova aborted it, not the plan, and reported as nova's cancel.
        self.assertFalse([n for n in self.notifications(notif.ESCALATED)
                          if n['payload']['action'] == 'abort'])
        end = self.notifications(notif.END)[-1]['payload']
        self.assertEqual('cancelled', end['outcome'])
        # nova 34 alone re-raises the aborted job after its monitor has
        # rolled back, and the instance goes to ERROR; the driver leaves
        # the rollback to the monitor, so it stays ACTIVE on the source.
        self.assertEqual('ACTIVE',
                         self.api.get_server(server['id'])['status'])

    def test_timeout_action_force_complete_follows_the_plan_flags(self):
        # nova's force_complete switches to post-copy only if the flags of
        # this migration (the plan's) carry POSTCOPY.
        self.flags(live_migration_completion_timeout=1,
                   live_migration_timeout_action='force_complete',
                   live_migration_permit_post_copy=True, group='libvirt')
        self.restart_computes()
        script = base.ScriptedMigration(self, STALLED, COMPLETED,
                                        complete_after_samples=False)
        server, script = self.migrate_flavor(
            'force', {'migtuner:strategy': 'fastest'}, script=script)
        self.assertIn('VIR_MIGRATE_POSTCOPY',
                      self.flag_names(script.calls[0][0]))
        self.assertTrue(script.postcopy_started)
        self.assertFalse(script.aborted)
        self.assertEqual('dest', self.host_of(server))

    # -- ignored while a plan is in charge ---------------------------------

    def test_downtime_steps_are_ignored(self):
        # nova's first step would be 3000 / 3 = 1000 ms at once.
        self.flags(live_migration_downtime=3000,
                   live_migration_downtime_steps=3,
                   live_migration_downtime_delay=3, group='libvirt')
        self.flags(max_downtime_ms=400, group='migtuner')
        _, script = self.migrate_flavor('downtime')
        self.assertTrue(script.downtimes)
        self.assertNotIn(1000, script.downtimes)
        self.assertTrue(all(d <= 400 for d in script.downtimes),
                        script.downtimes)
        self.assertIn("nova's [libvirt] live_migration_downtime steps",
                      self.stdlog.logger.output)

    def test_parallel_connections_are_ignored(self):
        self.flags(live_migration_parallel_connections=4, group='libvirt')
        self.restart_computes()
        self.assertIn('VIR_MIGRATE_PARALLEL', self.flag_names(
            self.src.driver._live_migration_flags))
        # An idle 2 GiB guest: the balanced plan needs one connection.
        _, script = self.migrate_flavor('parallel')
        flags, params = script.calls[0]
        self.assertNotIn('VIR_MIGRATE_PARALLEL', self.flag_names(flags))
        self.assertNotIn('parallel.connections', params)
        start = self.notifications(notif.START)[-1]['payload']
        self.assertEqual(1, start['parallel_connections'])

    # -- nova's, untouched -------------------------------------------------

    def test_native_tls_and_inbound_addr_are_nova_s(self):
        self.flags(live_migration_with_native_tls=True,
                   live_migration_inbound_addr='192.0.2.17',
                   group='libvirt')
        self.restart_computes()
        _, script = self.migrate_flavor('tls')
        flags, params = script.calls[0]
        self.assertIn('VIR_MIGRATE_TLS', self.flag_names(flags))
        self.assertEqual('tcp://192.0.2.17', params['migrate_uri'])

    def test_tunnelled_is_nova_s(self):
        self.flags(live_migration_tunnelled=True, group='libvirt')
        self.restart_computes()
        _, script = self.migrate_flavor('tunnelled')
        flags, params = script.calls[0]
        self.assertTrue(flags & fakelibvirt.VIR_MIGRATE_TUNNELLED)
        self.assertNotIn('migrate_uri', params)

    def test_scheme_and_uri_are_nova_s(self):
        self.flags(live_migration_scheme='ssh', group='libvirt')
        _, script = self.migrate_flavor('scheme')
        self.assertEqual('qemu+ssh://dest/system', script.uris[0])
        self.flags(live_migration_uri='qemu+tls://%s.example/system',
                   group='libvirt')
        _, script = self.migrate_flavor('uri')
        self.assertEqual('qemu+tls://dest.example/system', script.uris[0])

    def test_monitor_interval_is_nova_s(self):
        # nova saves progress to the Migration record on its own schedule;
        # the plan samples every poll of nova's monitor all the same.
        self.flags(live_migration_monitor_interval=1, group='libvirt')
        server, script = self.migrate_flavor('interval')
        self.assertGreaterEqual(script.polls, len(CONVERGING))
        end = self.notifications(notif.END)[-1]['payload']
        self.assertEqual('completed', end['outcome'])
        self.assertTrue(end['tuned'])
