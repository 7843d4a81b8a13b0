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

"""The migtuner openstack commands against real nova services in process.

Nova's API, conductor, scheduler and two libvirt computes (fake libvirt)
run in this process; the commands reach the API over HTTP through
openstacksdk (wsgi-intercept), as they would a cloud.

These tests are about the commands and the API: the compute side is
reduced to its contract. ``_source_compute_hook`` wraps nova's
``LibvirtDriver.live_migration`` with the call the driver makes
(``operator_marker.take_from_metadata`` before planning) and emits a
``.end`` notification through nova's versioned notifier with numbers from
the migration stub (the fake libvirt has no job statistics). The driver's
own handling of the marker and its ``.end`` payloads are tested with
``MigTunerDriver`` loaded by nova in tests/functional/driver
(``test_operator_marker_chooses_the_strategy_once``,
``test_end_notification_carries_destination_numbers``).
"""

# Nova's functional tests need eventlet monkey patching before anything
# else is imported.
from nova.tests import functional  # noqa: F401  isort:skip

import io
import json
import sys
import time
import types

import eventlet
import fixtures
from keystoneauth1 import plugin as ks_plugin
from keystoneauth1 import session as ks_session
import openstack.connection

from nova.tests.fixtures import libvirt as fakelibvirt
from nova.tests.functional.libvirt import base
from nova.virt.libvirt import driver as libvirt_driver

from nova_migtuner.nova import notifications
from nova_migtuner import operator_marker
from nova_migtuner.osc import client as client_mod
from nova_migtuner.osc import drain as drain_mod
from nova_migtuner.osc.v1 import drain as drain_cmd
from nova_migtuner.osc.v1 import migrate as migrate_cmd
from nova_migtuner.osc.v1 import plan as plan_cmd
from nova_migtuner.osc.v1 import report as report_cmd
from nova_migtuner.planning import notification_schema
from nova_migtuner.reports import collector
from nova_migtuner.reports import store as store_mod

# 32 random bytes, hex: what the migrate command requires of a secret.
SECRET = '5f0c9e2a7b4d1e8f3a6c9b2d5e8f1a4c7b0d3e6f9a2c5b8e1d4f7a0c3b6e9d2f'
# How long each fake migration takes: several times the drain spacing and
# the API-to-hypervisor latency on a loaded 2-core CI machine, so that two
# migrations really overlap under --max-parallel 2.
STUB_SECONDS = 3.0
MiB = 1024 * 1024


class _NovaTestAuth(ks_plugin.BaseAuthPlugin):
    """keystoneauth plugin sending the headers nova's functional API
    fixture reads instead of a token (it stubs keystonemiddleware).
    """

    def __init__(self, endpoint, user, project_id, roles):
        super().__init__()
        self.endpoint = endpoint
        self.user = user
        self.project_id = project_id
        self.roles = roles

    def get_headers(self, session, **kwargs):
        return {'X-Auth-Token': 'fake', 'X-Auth-User': self.user,
                'X-User-Id': self.user, 'X-Auth-Project-Id': self.project_id,
                'X-Roles': ','.join(self.roles)}

    def get_endpoint(self, session, **kwargs):
        return self.endpoint

    def get_project_id(self, session, **kwargs):
        return self.project_id

    def get_user_id(self, session, **kwargs):
        return self.user


# The commands' errors below are osc's CommandError or the argument
# parser's; the tests assert the message (hence noqa: H202).


class MigtunerOscTest(base.ServersTestBase):
    ADMIN_API = True
    # Casts stay casts: a live migration must run while the API call that
    # started it has returned, or nothing could run in parallel.
    CAST_AS_CALL = False
    microversion = 'latest'
    # nova's helper gives a migration 5 s to reach a status; the compute
    # side here measures, plans and reports, which on a loaded 2-core CI
    # machine took longer (seen: still "running" after 5 s).
    MIGRATION_STATUS_TIMEOUT_S = 60

    def _wait_for_migration_status(self, server, expected_statuses):
        statuses = [status.lower() for status in expected_statuses]
        actual = None
        api = getattr(self, 'admin_api', self.api)
        deadline = time.monotonic() + self.MIGRATION_STATUS_TIMEOUT_S
        while time.monotonic() < deadline:
            for migration in api.api_get(
                    '/os-migrations').body['migrations']:
                if migration['instance_uuid'] == server['id']:
                    actual = migration['status']
                    if actual.lower() in statuses:
                        return migration
            time.sleep(0.5)
        self.fail('Timed out after %d s waiting for migration with status '
                  'for instance %s (expected "%s", got "%s")'
                  % (self.MIGRATION_STATUS_TIMEOUT_S, server['id'],
                     expected_statuses, actual))

    def setUp(self):
        super().setUp()
        self.flags(notification_format='versioned', group='notifications')
        # Only the drain limits concurrency in these tests.
        self.flags(max_concurrent_live_migrations=10)
        self.start_compute('compute1')
        self.start_compute('compute2')
        self.useFixture(fixtures.MonkeyPatch(
            'nova.tests.fixtures.libvirt.Domain.migrateToURI3',
            self._migrate_stub))
        self.migrations = []          # (uuid, start, end) from the stub
        self.in_flight = 0
        self.max_in_flight = 0
        self.marker_decisions = []
        self.used_nonces = {}         # per compute host, as on real hosts
        self.flavors = {}
        self._source_compute_hook()
        self.db_path = self.useFixture(fixtures.TempDir()).path + '/r.sqlite'
        self.report_store = store_mod.ReportStore(self.db_path)
        self.client = self._sdk_client('admin', ['reader', 'member',
                                                 'admin'])

    def _setup_services(self):
        # nova's wheel installs api-paste.ini under <prefix>/etc; the test
        # default looks next to site-packages.
        self.flags(api_paste_config=sys.prefix + '/etc/nova/api-paste.ini',
                   group='wsgi')
        super()._setup_services()

    # In-process cloud plumbing.
    def _sdk_client(self, user, roles):
        auth = _NovaTestAuth(self.api_fixture.base_url, user,
                             self.api_fixture.project_id, roles)
        session = ks_session.Session(auth=auth)
        connection = openstack.connection.Connection(
            session=session, compute_endpoint_override=(
                self.api_fixture.base_url))
        return client_mod.MigtunerClient(connection)

    def _migrate_stub(self, domain, destination, params, flags):
        uuid = domain.UUIDString()
        dest_host = destination.split('//')[1].split('/')[0]
        start = time.time()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            time.sleep(STUB_SECONDS)     # eventlet: other migrations run
            self.computes[dest_host].driver._host.get_connection().createXML(
                params['destination_xml'], 'fake-createXML')
            domain.complete_job()
        finally:
            self.in_flight -= 1
        self.migrations.append((uuid, start, time.time()))

    def _source_compute_hook(self):
        original = libvirt_driver.LibvirtDriver.live_migration
        test = self

        def live_migration(driver, context, instance, dest, post_method,
                           recover_method, block_migration=False,
                           migrate_data=None):
            host = instance.host
            store = test.used_nonces.setdefault(
                host, operator_marker.MemoryNonceStore())
            decision = operator_marker.take_from_metadata(
                instance.metadata, SECRET, instance.uuid, host, store,
                allowed_strategies={'balanced', 'fastest', 'conservative',
                                    'min_downtime'})
            if decision.present:
                instance.save()
            test.marker_decisions.append((instance.uuid, decision))
            started = time.time()
            original(driver, context, instance, dest, post_method,
                     recover_method, block_migration, migrate_data)
            memory = instance.flavor.memory_mb * MiB
            payload = notification_schema.build(
                notification_schema.END, instance_uuid=instance.uuid,
                migration_uuid=migrate_data.migration.uuid
                if migrate_data and 'migration' in migrate_data else None,
                source_host=host, destination_host=dest, tuned=True,
                strategy=decision.strategy or 'balanced',
                flavor_name=instance.flavor.name,
                flags=['VIR_MIGRATE_LIVE'], initial_downtime_ms=300,
                max_downtime_ms=500, bandwidth_mib_s=0,
                parallel_connections=1, compression=None,
                completion_deadline_s=120.0, deadline_action='abort',
                predicted_total_s=2.0, predicted_bytes=memory,
                predicted_downtime_ms=250.0, predicted_method='pre-copy',
                outcome='completed', final_max_downtime_ms=300,
                escalations_taken=0, escalations=[], post_copy=False,
                downtime_ms=250 + instance.flavor.memory_mb // 64,
                downtime_net_ms=240, data_bytes_transferred=memory + MiB,
                memory_bytes_transferred=memory, memory_total_bytes=memory,
                iterations=2, postcopy_requests=0,
                total_time_s=round(time.time() - started, 3),
                max_auto_converge_throttle=None, waited_s=0.0,
                stats_source='destination', fallback_reason=None,
                guest_left_paused=False, post_copy_recovery=None,
                post_copy_recovery_attempts=None,
                monitor_poll_gap_max_ms=500)
            notifications.emit(context, host, notification_schema.END,
                               payload)

        self.useFixture(fixtures.MonkeyPatch(
            'nova.virt.libvirt.driver.LibvirtDriver.live_migration',
            live_migration))

    def _app(self, client=None):
        return types.SimpleNamespace(
            client_manager=types.SimpleNamespace(
                migtuner=client or self.client),
            stdout=io.StringIO(), stderr=io.StringIO(),
            options=types.SimpleNamespace(debug=False))

    def _run(self, command_class, argv, client=None, fmt='json'):
        """Run a command as osc would; returns (parsed output, app)."""
        app = self._app(client)
        command = command_class(app, None)
        command.clock = staticmethod(time.time)
        command.sleep = staticmethod(time.sleep)
        parser = command.get_parser('openstack migtuner')
        args = parser.parse_args(argv + ['-f', fmt, '--report-db',
                                         self.db_path])
        app.exit_code = command.run(args)
        out = app.stdout.getvalue()
        return (json.loads(out) if fmt == 'json' else out), app

    def _boot(self, name, flavor_mb, host='compute1', extra_specs=None):
        key = (flavor_mb, tuple(sorted((extra_specs or {}).items())))
        if key not in self.flavors:
            self.flavors[key] = self._create_flavor(
                memory_mb=flavor_mb, vcpu=1, disk=1,
                name='f%d%s' % (flavor_mb, '-x' if extra_specs else ''),
                extra_spec=extra_specs)
        flavor_id = self.flavors[key]
        server = self._create_server(name=name, flavor_id=flavor_id,
                                     host=host, networks='none')
        self.assertEqual(host, server['OS-EXT-SRV-ATTR:host'])
        return server

    def _collect_continuously(self):
        """Feed captured notifications to the collector as they come,
        as a running report-collector would.
        """
        stop = []

        def loop():
            while not stop:
                self._collect()
                time.sleep(0.1)
        thread = eventlet.spawn(loop)
        self.addCleanup(thread.wait)
        self.addCleanup(stop.append, True)

    def _collect(self):
        """Feed the captured .end notifications to the collector."""
        endpoint = collector.ReportEndpoint(self.report_store)
        for n in self.notifier.versioned_notifications:
            endpoint.info({}, n['publisher_id'], n['event_type'],
                          n['payload'], {})
        return endpoint


class PlanTest(MigtunerOscTest):

    def test_plan_for_a_server_says_what_is_measured_and_assumed(self):
        server = self._boot('web', 2048,
                            extra_specs={'migtuner:strategy': 'conservative',
                                         'migtuner:max_downtime_ms': '200'})
        out, _ = self._run(plan_cmd.PlanMigration,
                           [server['id'], '--host', 'compute2'])
        self.assertEqual('compute1', out['source_host'])
        self.assertEqual('compute2', out['destination'])
        self.assertEqual(('conservative', 'flavor'),
                         (out['strategy'], out['strategy_source']))
        self.assertIn('VIR_MIGRATE_LIVE', out['flags'])
        self.assertEqual(200, out['max_downtime_ms'])
        # Machine-readable: real lists, raw numbers, units in the keys.
        self.assertIsInstance(out['inputs'], list)
        inputs = '\n'.join(out['inputs'])
        self.assertIn('memory 2 GiB from flavor f2048', inputs)
        self.assertIn('(assumed)', inputs)
        self.assertIn('here they are assumed', inputs)
        self.assertIsInstance(out['predicted_bytes'], int)
        self.assertEqual(2048 * MiB, out['memory_bytes'])
        self.assertIsInstance(out['predicted_time_s'], float)
        self.assertIs(True, out['predicted_converges'])
        self.assertEqual([], [k for k in out if k != k.lower() or ' ' in k])
        # The table still reads as text.
        table, _ = self._run(plan_cmd.PlanMigration,
                             [server['id'], '--host', 'compute2'],
                             fmt='table')
        self.assertIn('VIR_MIGRATE_LIVE', table)
        self.assertIn('here they are assumed', table)

    def test_plan_errors_name_the_problem(self):
        server = self._boot('web', 1024)
        for argv, fragment in (
                (['no-such-server'], "no server with a name or ID of "
                                     "'no-such-server'"),
                ([server['id'], '--host', 'compute9'],
                 "unknown compute host 'compute9'"),
                ([server['id'], '--host', 'compute1'], 'already on compute1'),
                ([server['id'], '--strategy', 'yolo'],
                 "unknown strategy 'yolo'")):
            error = self.assertRaises(Exception, self._run,  # noqa: H202
                                      plan_cmd.PlanMigration, argv)
            self.assertIn(fragment, str(error))

    def test_non_admin_is_told_it_lacks_admin_rights(self):
        server = self._boot('web', 1024)
        member = self._sdk_client('fake', ['reader', 'member'])
        error = self.assertRaises(Exception, self._run,  # noqa: H202
                                  plan_cmd.PlanMigration,
                                  [server['id'], '--host', 'compute2'],
                                  client=member)
        self.assertIn('missing admin rights', str(error))


class MigrateTest(MigtunerOscTest):

    def test_operator_strategy_is_used_once_and_reported(self):
        server = self._boot('db', 1024)
        env = self.useFixture(fixtures.EnvironmentVariable(
            'MIGTUNER_OPERATOR_SECRET', SECRET))
        self.assertIsNotNone(env)
        out, app = self._run(migrate_cmd.MigrateServer,
                             [server['id'], '--strategy', 'fastest',
                              '--host', 'compute2', '--wait',
                              '--poll-interval', '0.2',
                              '--report-timeout', '0'])
        self.assertEqual('completed', out['outcome'])
        self.assertEqual('compute2', out['destination_host'])
        (uuid, decision), = self.marker_decisions
        self.assertEqual(server['id'], uuid)
        self.assertEqual('fastest', decision.strategy)
        self.assertIn('no measured report', out['report'])
        # Single use: the compute removed it from the server's metadata.
        metadata = self.admin_api.get_server(server['id'])['metadata']
        self.assertNotIn(operator_marker.METADATA_KEY, metadata)
        self.assertNotIn('did not consume', app.stderr.getvalue())
        # With a collector running, --wait prints the measured report.
        self._collect_continuously()
        out, _ = self._run(migrate_cmd.MigrateServer,
                           [server['id'], '--wait', '--poll-interval', '0.2',
                            '--report-timeout', '5'])
        self.assertEqual('compute1', out['destination_host'])
        self.assertIn('measured by the compute', out['report'])
        self.assertEqual('balanced', out['strategy_used'])
        self.assertEqual(266, out['downtime_ms'])

    def test_forged_and_replayed_markers_are_refused(self):
        server = self._boot('db', 1024)
        # A tenant writes a marker signed with a guessed secret.
        forged = operator_marker.sign('a tenant guessing the secret',
                                      server['id'], 'fastest',
                                      source_host='compute1')
        self.api.post_server_metadata(
            server['id'], {operator_marker.METADATA_KEY: forged})
        self._live_migrate(server, migration_expected_state='completed')
        decision = self.marker_decisions[-1][1]
        self.assertIsNone(decision.strategy)
        self.assertEqual(operator_marker.REASON_BAD_SIGNATURE,
                         decision.refused_reason)
        # A genuine marker copied back after use is refused as well: on
        # its host (nonce store) and anywhere else (host binding).
        genuine = operator_marker.sign(SECRET, server['id'], 'fastest',
                                       source_host='compute2')
        for expected in ('fastest', operator_marker.REASON_REUSED):
            self.api.post_server_metadata(
                server['id'], {operator_marker.METADATA_KEY: genuine})
            self._live_migrate(server, migration_expected_state='completed')
            decision = self.marker_decisions[-1][1]
            self.assertEqual(expected, decision.strategy or
                             decision.refused_reason)
            self._live_migrate(server, migration_expected_state='completed')

    def test_failed_migration_exits_non_zero(self):
        server = self._boot('db', 1024)

        def failing_migrate(domain, destination, params, flags):
            raise fakelibvirt.make_libvirtError(
                fakelibvirt.libvirtError, 'migration failed: link down',
                error_code=fakelibvirt.VIR_ERR_OPERATION_FAILED,
                error_domain=fakelibvirt.VIR_FROM_QEMU)
        self.useFixture(fixtures.MonkeyPatch(
            'nova.tests.fixtures.libvirt.Domain.migrateToURI3',
            failing_migrate))
        out, app = self._run(migrate_cmd.MigrateServer,
                             [server['id'], '--host', 'compute2', '--wait',
                              '--poll-interval', '0.2',
                              '--report-timeout', '0'])
        self.assertEqual('failed', out['outcome'])
        self.assertIn('migration', out['error'])
        self.assertEqual('compute1', out['destination_host'])
        self.assertEqual(1, app.exit_code)
        self.assertIn('1 of 1 servers was not moved',
                      app.stderr.getvalue().splitlines()[-1])

    def test_migrate_refuses_without_a_secret(self):
        server = self._boot('db', 1024)
        error = self.assertRaises(Exception, self._run,  # noqa: H202
                                  migrate_cmd.MigrateServer,
                                  [server['id'], '--strategy', 'fastest'])
        self.assertIn('no operator secret configured', str(error))
        self.assertNotIn(operator_marker.METADATA_KEY,
                         self.admin_api.get_server(server['id'])['metadata'])


class DrainTest(MigtunerOscTest):

    def test_drain_honours_max_parallel_and_spacing(self):
        sizes = {'a': 512, 'b': 2048, 'c': 1024, 'd': 1536}
        servers = {name: self._boot(name, mb) for name, mb in sizes.items()}
        by_id = {s['id']: n for n, s in servers.items()}
        api_starts = []
        live_migrate = client_mod.MigtunerClient.live_migrate

        def recording_live_migrate(client, server_id, host=None):
            api_starts.append((time.time(), by_id[server_id]))
            return live_migrate(client, server_id, host)
        self.useFixture(fixtures.MonkeyPatch(
            'nova_migtuner.osc.client.MigtunerClient.live_migrate',
            recording_live_migrate))

        api_ends = []
        finished = drain_mod.DrainScheduler.finished

        def recording_finished(scheduler, server_id, now, result):
            api_ends.append(now)
            return finished(scheduler, server_id, now, result)
        self.useFixture(fixtures.MonkeyPatch(
            'nova_migtuner.osc.drain.DrainScheduler.finished',
            recording_finished))
        self._collect_continuously()
        spacing = 0.5
        rows, app = self._run(drain_cmd.DrainHost,
                              ['compute1', '--max-parallel', '2',
                               '--spacing', str(spacing), '--order',
                               'largest-first', '--poll-interval', '0.1'])
        sys.stderr.write('\n--- drain progress ---\n%s--- drain summary '
                         '---\n' % app.stderr.getvalue())
        self._run_table(drain_cmd.DrainHost, rows)

        self.assertEqual({'completed'}, {r['outcome'] for r in rows})
        self.assertEqual({'compute2'}, {r['destination'] for r in rows})
        # Numbers measured by the compute (.end), per flavor size.
        self.assertEqual({'measured'}, {r['numbers'] for r in rows})
        self.assertEqual({'b': 282, 'd': 274, 'c': 266, 'a': 258},
                         {r['server']: r['downtime_ms'] for r in rows})
        for server in servers.values():
            self.assertEqual('compute2', self.admin_api.get_server(
                server['id'])['OS-EXT-SRV-ATTR:host'])
        # Largest first, as asked.
        self.assertEqual(['b', 'd', 'c', 'a'], [n for _, n in api_starts])
        # At most two at once in the hypervisor, and two were used.
        self.assertEqual(2, self.max_in_flight)
        # Spacing between starts, and after every end nova reported (the
        # drain sees an end through the API, a little after the
        # hypervisor's switch-over).
        times = [t for t, _ in api_starts]
        for earlier, later in zip(times, times[1:]):
            self.assertGreaterEqual(later - earlier, spacing)
        self.assertEqual(4, len(api_ends))
        for start in times:
            for end in api_ends:
                if end < start:
                    self.assertGreaterEqual(start - end, spacing)
        self.assertIn('4/4 done', app.stderr.getvalue())

    def _run_table(self, command_class, rows):
        # Print the summary as the table an operator sees.
        columns = list(rows[0]) if rows else []
        width = {c: max([len(c)] + [len(str(r[c])) for r in rows])
                 for c in columns}
        line = '+'.join('-' * (width[c] + 2) for c in columns)
        sys.stderr.write('+%s+\n' % line)
        sys.stderr.write('| %s |\n' % ' | '.join(
            c.ljust(width[c]) for c in columns))
        sys.stderr.write('+%s+\n' % line)
        for r in rows:
            sys.stderr.write('| %s |\n' % ' | '.join(
                str(r[c]).ljust(width[c]) for c in columns))
        sys.stderr.write('+%s+\n' % line)

    def test_dry_run_orders_by_predicted_cost_and_moves_nothing(self):
        for name, mb in (('big', 4096), ('small', 512), ('mid', 1024)):
            self._boot(name, mb)
        rows, _ = self._run(drain_cmd.DrainHost,
                            ['compute1', '--dry-run', '--spacing', '10'])
        self.assertEqual(['small', 'mid', 'big'],
                         [r['server'] for r in rows])
        starts = [r['planned_start_s'] for r in rows]
        self.assertEqual(0.0, starts[0])
        self.assertGreaterEqual(starts[1], starts[0] + 10)
        self.assertEqual([], self.migrations)

    def test_servers_not_moved_exit_non_zero_and_dry_run_lists_them(self):
        self._boot('up', 512)
        down = self._boot('down', 512)
        self._stop_server(down)
        # The dry run lists the server the real run will skip ...
        rows, _ = self._run(drain_cmd.DrainHost,
                            ['compute1', '--dry-run', '--spacing', '0'])
        self.assertEqual(['up', 'down'], [r['server'] for r in rows])
        self.assertEqual(['migrate', 'skipped: SHUTOFF, not live-migratable'],
                         [r['action'] for r in rows])
        self.assertIsNone(rows[1]['order'])
        # ... and the real run reports it, and exits non-zero with the
        # count in the last line.
        rows, app = self._run(drain_cmd.DrainHost,
                              ['compute1', '--spacing', '0',
                               '--poll-interval', '0.1',
                               '--report-timeout', '0'])
        self.assertEqual({'up': 'completed', 'down': 'skipped'},
                         {r['server']: r['outcome'] for r in rows})
        self.assertEqual(1, app.exit_code)
        self.assertEqual('1 of 2 servers were not moved off compute1',
                         app.stderr.getvalue().splitlines()[-1])

    def test_drain_of_an_unknown_host_and_invalid_values(self):
        error = self.assertRaises(Exception,  # noqa: H202
                                  self._run, drain_cmd.DrainHost,
                                  ['compute9'])
        self.assertIn("unknown compute host 'compute9'", str(error))
        for argv in (['compute1', '--max-parallel', '0'],
                     ['compute1', '--spacing', '-1s'],
                     ['compute1', '--order', 'random']):
            self.assertRaises(SystemExit, self._run, drain_cmd.DrainHost,
                              argv)


class ReportTest(MigtunerOscTest):

    def test_report_table_from_real_notifications(self):
        servers = [self._boot('tiny-%d' % i, 512) for i in range(2)]
        servers.append(self._boot('small', 2048))
        for server in servers:
            self._live_migrate(server, migration_expected_state='completed')
        ends = self.notifier.wait_for_versioned_notifications(
            notification_schema.event_type(notification_schema.END),
            n_events=3)
        self.assertEqual(3, len(ends))
        endpoint = self._collect()
        self.assertEqual(3, endpoint.stored)
        self.assertEqual(3, self._collect().duplicates)

        rows, _ = self._run(report_cmd.MigrationReport, [])
        table, _ = self._run(report_cmd.MigrationReport, [], fmt='table')
        sys.stderr.write('\n--- report ---\n%s' % table)
        self.assertEqual(['f512', 'f2048'], [r['flavor'] for r in rows])
        self.assertEqual([2, 1], [r['migrations'] for r in rows])
        self.assertEqual([258, 282], [r['downtime_ms'] for r in rows])
        # MB (10**6 bytes) of memory + 1 MiB per migration, one decimal.
        self.assertEqual([537.9, 2148.5], [r['sent_mb'] for r in rows])
        csv_out, _ = self._run(report_cmd.MigrationReport,
                               ['--per-migration'], fmt='csv')
        self.assertEqual(4, len(csv_out.strip().splitlines()))
        error = self.assertRaises(Exception, self._run,  # noqa: H202
                                  report_cmd.MigrationReport,
                                  ['--since', 'yesterday'])
        self.assertIn("'yesterday' cannot be read", str(error))
