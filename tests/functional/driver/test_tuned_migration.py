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

"""Tuned live migrations through the REST API, with real nova in process."""

from nova import monkey_patch
monkey_patch.patch()  # noqa: E402  (as nova's own functional tests do)

import os  # noqa: E402
from unittest import mock  # noqa: E402

import fixtures  # noqa: E402
from nova import exception  # noqa: E402
from nova.tests.fixtures import libvirt as fakelibvirt  # noqa: E402
from nova.tests.functional.api import client  # noqa: E402
from nova.virt import driver as virt_driver  # noqa: E402

from nova_migtuner.nova import action_event  # noqa: E402
from nova_migtuner.nova import driver as mt_driver  # noqa: E402
from nova_migtuner.nova import libvirt_return  # noqa: E402
from nova_migtuner import operator_marker  # noqa: E402
from nova_migtuner.planning import compat  # noqa: E402
from nova_migtuner.planning import handoff  # noqa: E402
from nova_migtuner.planning import notification_schema as notif  # noqa: E402
from tests.functional.driver import base  # noqa: E402

MIB = base.MIB
STOCK_FLAGS = {'VIR_MIGRATE_LIVE', 'VIR_MIGRATE_PEER2PEER',
               'VIR_MIGRATE_UNDEFINE_SOURCE', 'VIR_MIGRATE_PERSIST_DEST'}
COMPLETED = {
    'time_elapsed': 12345, 'downtime': 42, 'downtime_net': 37,
    'setup_time': 12, 'data_total': 2 * 1024 * MIB,
    'data_processed': 1900 * MIB, 'memory_total': 2048 * MIB,
    'memory_processed': 1890 * MIB, 'memory_iteration': 4,
    'memory_postcopy_requests': 0, 'memory_bps': 150 * MIB,
}
CONVERGING = base.CONVERGING
STALLED = base.STALLED


class TestDriverLoading(base.MigTunerTestBase):
    """The nova.conf line loads the driver; the wrong nova is refused."""

    def test_compute_driver_line_loads_migtuner(self):
        driver = virt_driver.load_compute_driver(mock.Mock(),
                                                 base.COMPUTE_DRIVER)
        self.assertIsInstance(driver, mt_driver.MigTunerDriver)
        import nova.virt.migtuner as shim
        self.assertIs(mt_driver.MigTunerDriver, shim.MigTunerDriver)
        self.assertTrue(shim.__file__.endswith(
            os.path.join('nova', 'virt', 'migtuner', '__init__.py')))
        self.assertIsInstance(self.src.driver, mt_driver.MigTunerDriver)

    def test_unsupported_nova_refuses_to_start(self):
        self.useFixture(fixtures.MonkeyPatch(
            'nova.version.version_string', lambda: '35.0.0'))
        with mock.patch('sys.exit', side_effect=SystemExit(1)) as exit_:
            self.assertRaises(SystemExit, virt_driver.load_compute_driver,
                              mock.Mock(), base.COMPUTE_DRIVER)
        exit_.assert_called_once_with(1)
        self.assertIn('nova 35.0.0 is not supported (supported: 34.x)',
                      self.stdlog.logger.output)

    def test_missing_private_method_refuses_to_start(self):
        from nova.virt.libvirt import driver as libvirt_driver

        def renamed(self, context, instance):
            pass

        self.useFixture(fixtures.MockPatchObject(
            libvirt_driver.LibvirtDriver, '_live_migration_monitor',
            new=renamed))
        err = self.assertRaises(compat.UnsupportedNovaError,
                                mt_driver.MigTunerDriver, mock.Mock())
        self.assertIn('LibvirtDriver._live_migration_monitor(context, '
                      'instance) does not take', str(err))


class TestTunedMigration(base.MigTunerTestBase):

    def setUp(self):
        super().setUp()
        self.host_flags = (self.src.driver._live_migration_flags,
                           self.src.driver._block_migration_flags)

    def migrate(self, server, script, status='completed', host='dest'):
        self.live_migrate(server, host=host)
        migration = self.wait_for_migration(server, [status])
        self.wait_for_notification(notif.END)
        return migration

    def migtuner_event(self, server):
        """The migtuner_live_migration event of the server's last live
        migration, as an admin sees it through the API (2.84: details).
        """
        self.api.microversion = '2.84'
        actions = [a for a in self.api.get_instance_actions(server['id'])
                   if a['action'] == 'live-migration']
        events = self.api.get_instance_action_details(
            server['id'], actions[-1]['request_id'])['events']
        found = [e for e in events if e['event'] == action_event.EVENT_NAME]
        return found[-1] if found else None

    def test_end_notification_carries_destination_numbers(self):
        script = base.ScriptedMigration(self, CONVERGING, COMPLETED)
        server = self.create_server_on_src()
        self.migrate(server, script)
        self._wait_for_state_change(server, 'ACTIVE')
        self.assertEqual('dest', self.host_of(server))

        end = self.notifications(notif.END)[-1]
        self.assertEqual('nova-compute:src', end['publisher_id'])
        payload = end['payload']
        self.assertEqual([], notif.validate(notif.END, payload))
        self.assertEqual(notif.PAYLOAD_VERSION, payload['payload_version'])
        self.assertEqual(server['id'], payload['instance_uuid'])
        flavor = self.api.get_server(server['id'])['flavor']
        self.assertEqual(
            flavor.get('original_name') or
            self.api.get_flavor(flavor['id'])['name'],
            payload['flavor_name'])
        self.assertEqual(('src', 'dest'), (payload['source_host'],
                                           payload['destination_host']))
        self.assertTrue(payload['tuned'])
        self.assertEqual('balanced', payload['strategy'])
        self.assertEqual('completed', payload['outcome'])
        self.assertEqual('destination', payload['stats_source'])
        self.assertEqual(42, payload['downtime_ms'])
        self.assertEqual(37, payload['downtime_net_ms'])
        self.assertEqual(1900 * MIB, payload['data_bytes_transferred'])
        self.assertEqual(1890 * MIB, payload['memory_bytes_transferred'])
        self.assertEqual(2048 * MIB, payload['memory_total_bytes'])
        self.assertEqual(4, payload['iterations'])
        self.assertEqual(0, payload['postcopy_requests'])
        self.assertEqual(12.345, payload['total_time_s'])
        self.assertIsNotNone(payload['predicted_total_s'])
        self.assertIsNotNone(payload['predicted_bytes'])
        self.assertEqual(payload['initial_downtime_ms'],
                         payload['final_max_downtime_ms'])
        self.assertEqual(0, payload['escalations_taken'])
        # The destination read the completed statistics ...
        self.assertTrue(script.completed_reads)
        self.assertTrue(script.completed_reads[0] & 1)
        # ... and the source removed what it handed over.
        from nova import context as nova_context
        from nova import objects
        instance = objects.Instance.get_by_uuid(
            nova_context.get_admin_context(), server['id'],
            expected_attrs=['system_metadata'])
        self.assertEqual([], [k for k in instance.system_metadata
                              if k.startswith(handoff.PREFIX)])
        start = self.notifications(notif.START)[-1]['payload']
        self.assertEqual([], notif.validate(notif.START, start))
        self.assertEqual(payload['flags'], start['flags'])
        # nova's host-wide flags were never touched.
        self.assertEqual(self.host_flags,
                         (self.src.driver._live_migration_flags,
                          self.src.driver._block_migration_flags))
        # An API client sees that migtuner drove it, and that it completed.
        event = self.migtuner_event(server)
        self.assertEqual('Success', event['result'])
        self.assertEqual('src', event['host'])
        self.assertIsNone(event['details'])
        self.END_PAYLOAD = payload

    def test_flags_and_params_follow_the_plan_per_flavor(self):
        # nova permits post-copy and auto-converge: the stock host flags
        # carry POSTCOPY (and the plan may add AUTO_CONVERGE).
        self.flags(live_migration_permit_post_copy=True,
                   live_migration_permit_auto_converge=True, group='libvirt')
        self.flags(max_bandwidth_mib_s=300, max_downtime_ms=400,
                   instance_spacing_s=0, group='migtuner')
        self.restart_computes()
        self.assertIn('VIR_MIGRATE_POSTCOPY', self.flag_names(
            self.src.driver._live_migration_flags))
        host_flags = self.src.driver._live_migration_flags

        cases = [
            # (extra specs, flags expected in, flags expected out)
            ({'migtuner:strategy': 'conservative'},
             {'VIR_MIGRATE_LIVE', 'VIR_MIGRATE_AUTO_CONVERGE'},
             {'VIR_MIGRATE_POSTCOPY'}),
            ({'migtuner:strategy': 'balanced',
              'migtuner:permit_post_copy': 'false',
              'migtuner:max_downtime_ms': '200'},
             {'VIR_MIGRATE_LIVE'}, {'VIR_MIGRATE_POSTCOPY'}),
            ({'migtuner:strategy': 'fastest'},
             {'VIR_MIGRATE_LIVE', 'VIR_MIGRATE_POSTCOPY'}, set()),
        ]
        for i, (specs, wanted, unwanted) in enumerate(cases):
            script = base.ScriptedMigration(self, CONVERGING, COMPLETED)
            flavor = self.create_flavor('f%d' % i, specs)
            server = self.create_server_on_src(flavor)
            self.notifier.reset()
            self.migrate(server, script)
            flags, params = script.calls[0]
            names = self.flag_names(flags)
            self.assertTrue(wanted <= names, (specs, names))
            self.assertFalse(unwanted & names, (specs, names))
            # Flags the plan does not own stay nova's.
            for name in ('VIR_MIGRATE_PEER2PEER',
                         'VIR_MIGRATE_UNDEFINE_SOURCE',
                         'VIR_MIGRATE_PERSIST_DEST'):
                self.assertIn(name, names)
            self.assertEqual(300, params['bandwidth'])
            start = self.notifications(notif.START)[-1]['payload']
            self.assertEqual(specs['migtuner:strategy'], start['strategy'])
            self.assertEqual(sorted(names), sorted(start['flags']))
            cap = int(specs.get('migtuner:max_downtime_ms', 400))
            self.assertTrue(script.downtimes)
            self.assertEqual(start['initial_downtime_ms'],
                             script.downtimes[0])
            self.assertTrue(all(d <= cap for d in script.downtimes),
                            script.downtimes)
            self.assertEqual(cap, start['max_downtime_ms'])
            self.assertEqual('dest', self.host_of(server))
        self.assertEqual(host_flags, self.src.driver._live_migration_flags)

    def test_operator_marker_chooses_the_strategy_once(self):
        secret = 'functional-operator-secret'
        self.flags(operator_secret=secret, instance_spacing_s=0,
                   operator_nonce_db=os.path.join(
                       self.useFixture(fixtures.TempDir()).path, 'n.db'),
                   group='migtuner')

        nonce = operator_marker.new_nonce()

        def genuine(server):
            # One nonce for all: only its first use may be accepted.
            return operator_marker.sign(secret, server['id'], 'conservative',
                                        nonce=nonce, source_host='src')

        def forged(server):
            return operator_marker.sign('not-the-operator-secret',
                                        server['id'], 'fastest',
                                        source_host='src')

        # (how the marker is made, strategy the compute used)
        rounds = [(genuine, 'conservative'),
                  (forged, 'balanced'),      # bad signature: refused
                  (genuine, 'balanced')]     # nonce used before: refused
        for make_marker, expected in rounds:
            server = self.create_server_on_src()
            self.api.post_server_metadata(
                server['id'], {operator_marker.METADATA_KEY:
                               make_marker(server)})
            script = base.ScriptedMigration(self, CONVERGING, COMPLETED)
            self.notifier.reset()
            self.migrate(server, script)
            start = self.notifications(notif.START)[-1]['payload']
            self.assertEqual(expected, start['strategy'])
            # Valid or not, the marker is gone after one use.
            self.assertNotIn(operator_marker.METADATA_KEY,
                             self.api.get_server(server['id'])['metadata'])
            self.assertEqual('dest', self.host_of(server))

    def test_stalled_migration_escalates_to_post_copy(self):
        self.flags(live_migration_permit_post_copy=True, group='libvirt')
        self.restart_computes()
        self.use_clock(base.FastClock(20))
        script = base.ScriptedMigration(self, STALLED, COMPLETED,
                                        complete_after_samples=False)
        server = self.create_server_on_src()
        self.migrate(server, script)
        self._wait_for_state_change(server, 'ACTIVE')
        self.assertTrue(script.postcopy_started)
        self.assertFalse(script.aborted)
        self.assertEqual('dest', self.host_of(server))
        self.assertIn('VIR_MIGRATE_POSTCOPY',
                      self.flag_names(script.calls[0][0]))
        escalated = [n['payload'] for n in
                     self.notifications(notif.ESCALATED)]
        self.assertEqual('post_copy', escalated[-1]['action'])
        self.assertTrue(escalated[-1]['applied'])
        for payload in escalated:
            self.assertEqual([], notif.validate(notif.ESCALATED, payload))
        end = self.notifications(notif.END)[-1]['payload']
        self.assertEqual('completed', end['outcome'])
        self.assertTrue(end['post_copy'])
        self.assertEqual(len(escalated), end['escalations_taken'])

    def test_stalled_migration_aborts_when_post_copy_not_permitted(self):
        self.use_clock(base.FastClock(40))
        script = base.ScriptedMigration(self, STALLED, COMPLETED,
                                        complete_after_samples=False)
        server = self.create_server_on_src()
        self.migrate(server, script, status='cancelled')
        server = self._wait_for_state_change(server, 'ACTIVE')
        self.assertTrue(script.aborted)
        self.assertFalse(script.postcopy_started)
        self.assertEqual('src', self.host_of(server))
        self.assertNotIn('VIR_MIGRATE_POSTCOPY',
                         self.flag_names(script.calls[0][0]))
        # The guest still runs on the source.
        dom = self.src.driver._host.get_connection().lookupByUUIDString(
            server['id'])
        self.assertEqual(fakelibvirt.VIR_DOMAIN_RUNNING, dom.info()[0])
        escalated = [n['payload'] for n in
                     self.notifications(notif.ESCALATED)]
        self.assertEqual('abort', escalated[-1]['action'])
        self.assertEqual('deadline', escalated[-1]['source'])
        end = self.notifications(notif.END)[-1]['payload']
        self.assertEqual('aborted', end['outcome'])
        self.assertFalse(end['post_copy'])
        event = self.migtuner_event(server)
        self.assertEqual('Error', event['result'])
        self.assertIn('nova_migtuner: migration aborted', event['details'])
        self.assertEqual(end['max_downtime_ms'],
                         end['final_max_downtime_ms'])

    def test_a_destination_dying_leaves_the_server_active_on_the_source(
            self):
        # libvirt fails migrateToURI3 ("client socket is closed") when the
        # destination QEMU is killed; stock nova re-raises that after its
        # monitor rolled back, and the server goes to ERROR although the
        # guest runs on the source (measured on the cloud by the bench's
        # fault runs). With migtuner the monitor's rollback is the end.
        script = base.ScriptedMigration(self, STALLED, COMPLETED,
                                        complete_after_samples=False,
                                        fail_after_polls=2)
        server = self.create_server_on_src()
        self.migrate(server, script, status='failed')
        # The compute's live migration ends, and without an error: nova
        # then leaves the server as its rollback set it.
        self._wait_for_instance_action_event(
            server, 'live-migration', 'compute_live_migration', 'Success')
        server = self.api.get_server(server['id'])
        self.assertEqual('ACTIVE', server['status'])
        self.assertEqual('src', self.host_of(server))
        self.assertIsNone(server['OS-EXT-STS:task_state'])
        self.assertEqual('failed', self.wait_for_migration(
            server, ['failed', 'error'])['status'])
        dom = self.src.driver._host.get_connection().lookupByUUIDString(
            server['id'])
        self.assertEqual(fakelibvirt.VIR_DOMAIN_RUNNING, dom.info()[0])
        end = self.notifications(notif.END)[-1]['payload']
        self.assertEqual('failed', end['outcome'])
        self.assertIn('client socket is closed', self.stdlog.logger.output)

    def test_destination_libvirtd_restarting_at_the_end_is_waited_for(self):
        # QEMU finishes a post-copy without libvirtd: with the destination's
        # libvirtd killed after the switch the guest ran there, but nova's
        # last step on the destination found no libvirt and put the server
        # in ERROR, migration 'error' (measured by the bench's post-copy
        # fault runs). The destination now waits for its libvirtd.
        self.flags(destination_libvirt_wait_s=30, group='migtuner')
        self.useFixture(fixtures.MockPatchObject(
            libvirt_return, 'FIRST_WAIT_S', 0.05))
        host = self.dest.driver._host
        real_connection = host.get_connection
        down = {'attempts': 0}

        def get_connection():
            if down['attempts']:
                down['attempts'] -= 1
                raise exception.HypervisorUnavailable()
            return real_connection()
        self.useFixture(fixtures.MockPatchObject(
            host, 'get_connection', side_effect=get_connection))
        manager = self.dest.manager
        last_step = manager.post_live_migration_at_destination

        def libvirtd_down_then_last_step(*args, **kwargs):
            down['attempts'] = 3
            return last_step(*args, **kwargs)
        self.useFixture(fixtures.MockPatchObject(
            manager, 'post_live_migration_at_destination',
            side_effect=libvirtd_down_then_last_step))
        script = base.ScriptedMigration(self, CONVERGING, COMPLETED)
        server = self.create_server_on_src()
        self.migrate(server, script)
        server = self._wait_for_state_change(server, 'ACTIVE')
        self.assertEqual('dest', self.host_of(server))
        self.assertEqual(0, down['attempts'])
        self.assertIn('libvirt on this host answered again',
                      self.stdlog.logger.output)

    def test_a_destination_at_its_incoming_limit_refuses_in_its_pre_check(
            self):
        # nova's conductor writes the destination into the migration record
        # only after both pre-checks, so migrations asked for together all
        # passed the scheduler filter of a host with a limit of 2 (three
        # ran to it at once, measured by the bench's concurrent runs). The
        # destination's pre-check counts what it has admitted itself.
        self.flags(max_incoming_migrations=1, group='migtuner')
        self.dest.driver._migtuner_incoming.admit('another-instance', set(),
                                                  1)
        server = self.create_server_on_src()
        # The API casts to the conductor (202, migration 'error'); nova's
        # functional fixtures make the cast a call, so NoValidHost is a 500.
        error = self.assertRaises(client.OpenStackApiException,
                                  self.live_migrate, server, host='dest')
        self.assertIn('NoValidHost', str(error))
        self.assertEqual('error', self.wait_for_migration(
            server, ['error', 'failed', 'completed'])['status'])
        server = self._wait_for_state_change(server, 'ACTIVE')
        self.assertEqual('src', self.host_of(server))
        self.assertIn('already receives 1 live migrations (another-instance)',
                      self.stdlog.logger.output)
        # Once that migration has ended here, the same request goes
        # through, and its own admission ends with it.
        self.dest.driver._migtuner_incoming.release('another-instance')
        base.ScriptedMigration(self, CONVERGING, COMPLETED)
        self.migrate(server, None)
        self._wait_for_state_change(server, 'ACTIVE')
        self.assertEqual('dest', self.host_of(server))
        self.assertEqual(frozenset(),
                         self.dest.driver._migtuner_incoming.admitted())

    def test_refused_post_copy_switch_still_ends_at_the_deadline(self):
        self.flags(live_migration_permit_post_copy=True, group='libvirt')
        self.restart_computes()
        self.use_clock(base.FastClock(40))
        script = base.ScriptedMigration(self, STALLED, COMPLETED,
                                        complete_after_samples=False,
                                        refuse_post_copy=True)
        server = self.create_server_on_src()
        self.migrate(server, script, status='cancelled')
        server = self._wait_for_state_change(server, 'ACTIVE')
        self.assertFalse(script.postcopy_started)
        self.assertTrue(script.aborted)
        self.assertEqual('src', self.host_of(server))
        escalated = [n['payload'] for n in
                     self.notifications(notif.ESCALATED)]
        switches = [p for p in escalated if p['action'] == 'post_copy']
        self.assertTrue(switches)
        self.assertFalse(any(p['applied'] for p in switches))
        self.assertEqual(('abort', True), (escalated[-1]['action'],
                                           escalated[-1]['applied']))
        end = self.notifications(notif.END)[-1]['payload']
        self.assertEqual('aborted', end['outcome'])
        self.assertFalse(end['post_copy'])

    def test_planner_crash_falls_back_to_stock(self):
        self.useFixture(fixtures.MockPatch(
            'nova_migtuner.planning.planner.build_plan',
            side_effect=RuntimeError('planner exploded')))
        script = base.ScriptedMigration(self, CONVERGING, COMPLETED)
        server = self.create_server_on_src()
        self.migrate(server, script)
        self._wait_for_state_change(server, 'ACTIVE')
        self.assertEqual('dest', self.host_of(server))
        # Stock flags, nova's own downtime steps.
        self.assertEqual(self.src.driver._live_migration_flags,
                         script.calls[0][0])
        self.assertEqual(STOCK_FLAGS,
                         self.flag_names(script.calls[0][0]))
        error = self.notifications(notif.ERROR)[-1]
        self.assertEqual('ERROR', error['priority'])
        self.assertEqual('plan', error['payload']['phase'])
        self.assertTrue(error['payload']['fallback'])
        self.assertIn('planner exploded', error['payload']['error'])
        self.assertIn('falls back to stock nova behaviour',
                      self.stdlog.logger.output)
        end = self.notifications(notif.END)[-1]['payload']
        self.assertFalse(end['tuned'])
        self.assertEqual('stock', end['strategy'])
        self.assertEqual('completed', end['outcome'])
        self.assertIn('planner exploded', end['fallback_reason'])
        self.assertEqual(42, end['downtime_ms'])

    def test_hook_crash_during_monitoring_falls_back_to_stock(self):
        self.useFixture(fixtures.MockPatch(
            'nova_migtuner.engine.escalation.Escalator.observe',
            side_effect=ZeroDivisionError('escalator bug')))
        script = base.ScriptedMigration(self, CONVERGING, COMPLETED)
        server = self.create_server_on_src()
        self.migrate(server, script)
        self._wait_for_state_change(server, 'ACTIVE')
        self.assertEqual('dest', self.host_of(server))
        error = self.notifications(notif.ERROR)[-1]['payload']
        self.assertEqual('monitor', error['phase'])
        end = self.notifications(notif.END)[-1]['payload']
        self.assertFalse(end['tuned'])
        self.assertEqual('completed', end['outcome'])


class TestDeferral(base.MigTunerTestBase):

    def setUp(self):
        super().setUp()
        # Spacing well above the seconds a slow machine takes between the
        # first migration's end and the second's plan, so that the second
        # is always deferred.
        self.flags(instance_spacing_s=10, max_deferral_s=20,
                   group='migtuner')

    def test_deferral_waits_then_starts(self):
        server = self.create_server_on_src()
        base.ScriptedMigration(self, CONVERGING, COMPLETED)
        self.live_migrate(server, host='dest')
        self.wait_for_migration(server, ['completed'])
        self.wait_for_notification(notif.END)
        self.assertEqual([], self.notifications(notif.DEFERRED))
        self.notifier.reset()

        script = base.ScriptedMigration(self, CONVERGING, COMPLETED)
        # Back to the source: the instance migrated seconds ago.
        self.src, self.dest = self.dest, self.src
        self.live_migrate(server, host='src')
        deferred = self.wait_for_notification(notif.DEFERRED)[0]['payload']
        self.assertEqual([], notif.validate(notif.DEFERRED, deferred))
        self.assertEqual('spacing', deferred['wait_for'])
        self.assertIn('instance migrated recently', deferred['reason'])
        self.assertEqual([], script.calls)     # not started yet
        self.wait_for_migration(server, ['completed'])
        self.wait_for_notification(notif.END)
        events = [n['event_type'].rsplit('.', 1)[1]
                  for n in self.notifier.versioned_notifications
                  if n['event_type'].startswith('migtuner.')]
        self.assertEqual(['deferred', 'start', 'end'], events)
        start = self.notifications(notif.START)[0]['payload']
        # It waited what the spacing left of the 10 s (how much that is
        # depends on how fast the machine got here), and no more than
        # max_deferral_s.
        self.assertGreater(deferred['max_wait_s'], 0.0)
        self.assertLessEqual(deferred['max_wait_s'], 10.0)
        self.assertGreaterEqual(start['waited_s'],
                                deferred['max_wait_s'] - 0.01)
        self.assertLessEqual(start['waited_s'], 20.0)
        self.assertEqual(1, len(script.calls))
        self.assertEqual('src', self.host_of(server))

    def test_abort_while_waiting(self):
        self.flags(instance_spacing_s=600, max_deferral_s=900,
                   group='migtuner')
        server = self.create_server_on_src()
        base.ScriptedMigration(self, CONVERGING, COMPLETED)
        self.live_migrate(server, host='dest')
        self.wait_for_migration(server, ['completed'])
        self.wait_for_notification(notif.END)
        self.notifier.reset()

        script = base.ScriptedMigration(self, CONVERGING, COMPLETED)
        self.src, self.dest = self.dest, self.src
        self.live_migrate(server, host='src')
        self.wait_for_notification(notif.DEFERRED)
        migration = self.wait_for_migration(server, ['running'])
        self.api.api_delete('/servers/%s/migrations/%s'
                            % (server['id'], migration['id']))
        self.wait_for_migration(server, ['cancelled'])
        server = self._wait_for_state_change(server, 'ACTIVE')
        self.assertEqual('dest', self.host_of(server))
        self.assertEqual([], script.calls)
        end = self.wait_for_notification(notif.END)[0]['payload']
        self.assertEqual('cancelled', end['outcome'])
        self.assertEqual([], self.notifications(notif.START))
