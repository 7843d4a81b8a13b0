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

"""``openstack migtuner migrate SERVER``."""

import os
import time

from osc_lib.command import command
from osc_lib import exceptions
from oslo_log import log as logging

from nova_migtuner import operator_marker
from nova_migtuner.osc import client as client_mod
from nova_migtuner.osc import drain as drain_mod
from nova_migtuner.osc import planning
from nova_migtuner.osc import progress as progress_mod
from nova_migtuner.osc.v1 import common
from nova_migtuner.planning import planner

LOG = logging.getLogger(__name__)


def read_secret(parsed_args, settings):
    """The operator secret: --secret-file, $MIGTUNER_OPERATOR_SECRET,
    $MIGTUNER_OPERATOR_SECRET_FILE, then [migtuner] operator_secret.

    A file is read as ``[migtuner] operator_secret_file`` is: a bare
    secret, or ``<key id> <secret>`` lines of which the first signs.
    """
    path = parsed_args.secret_file or os.environ.get(common.ENV_SECRET_FILE)
    if path:
        try:
            with open(path) as f:
                text = f.read()
        except OSError as e:
            raise exceptions.CommandError('cannot read the operator secret '
                                          'file: %s' % e)
        # The compute's operator_secret_file format: its first key signs.
        try:
            return operator_marker.keyring_from_text(text)
        except operator_marker.MarkerError as e:
            raise exceptions.CommandError('operator secret file %s: %s'
                                          % (path, e))
    return os.environ.get(common.ENV_SECRET) or settings.operator_secret


def watch_migration(watch, clock, sleep, poll_interval, timeout,
                    on_progress):
    """Poll until the migration ends; returns a ``MigrationResult`` or
    None when interrupted or timed out (the migration goes on in nova).
    *on_progress* gets each ``progress.Sample`` nova reported.
    """
    started = clock()
    while True:
        polled = watch.poll()
        if isinstance(polled, drain_mod.MigrationResult):
            return polled
        if watch.last_sample is not None:
            on_progress(watch.last_sample)
        if timeout and clock() - started > timeout:
            return None
        sleep(poll_interval)


class MigrateServer(common.LocalChecksFirst, command.ShowOne):
    """Live-migrate a server, optionally with a one-off strategy.

    With --strategy the choice is handed to the source compute as a signed,
    expiring, single-use marker in the server's metadata (bound to the
    server and its current host), which tenants can neither forge nor
    reuse; the compute verifies it with [migtuner] operator_secret.
    With --wait, shows progress and prints the measured report.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('server', metavar='<server>',
                            help='server to migrate (name or ID)')
        parser.add_argument('--host', metavar='<host>',
                            help='destination compute host (default: the '
                                 'scheduler chooses)')
        parser.add_argument('--strategy', metavar='<strategy>',
                            help='strategy for this migration only; one of: '
                                 '%s (default: flavor, image or '
                                 '[migtuner] default_strategy)'
                                 % ', '.join(planner.available_strategies()))
        parser.add_argument('--wait', action='store_true',
                            help='wait for the migration to end, showing '
                                 'progress, and print its measured report')
        parser.add_argument('--ttl', metavar='<duration>',
                            type=common.seconds, default=300.0,
                            help='how long the strategy marker stays valid '
                                 'if the migration does not start, e.g. '
                                 '5min (default: 300 s)')
        parser.add_argument('--secret-file', metavar='<path>',
                            help='file holding [migtuner] operator_secret '
                                 '(default: $%s, $%s, or operator_secret '
                                 'in --config-file)'
                                 % (common.ENV_SECRET_FILE,
                                    common.ENV_SECRET))
        parser.add_argument('--timeout', metavar='<duration>',
                            type=common.seconds, default=0.0,
                            help='with --wait, stop waiting after this long '
                                 '(the migration goes on); default: no '
                                 'limit')
        parser.add_argument('--report-timeout', metavar='<duration>',
                            type=common.seconds, default=30.0,
                            help='with --wait, how long to wait for the '
                                 'collector to store the measured report '
                                 '(default: 30 s)')
        parser.add_argument('--poll-interval', metavar='<duration>',
                            type=common.positive_seconds, default=2.0,
                            help='seconds between progress checks '
                                 '(default: 2 s)')
        common.add_config_option(parser)
        common.add_report_db_option(parser)
        return parser

    # Seams for tests: the functional tests run the command in-process.
    clock = staticmethod(time.time)
    sleep = staticmethod(time.sleep)

    # Set by take_action when --wait saw the migration fail.
    failed = False

    def run(self, parsed_args):
        """Print the result, then exit non-zero if the migration failed."""
        self.failed = False
        result = super().run(parsed_args)
        if self.failed:
            self.app.stderr.write('1 of 1 servers was not moved: the live '
                                  'migration of %s failed\n'
                                  % parsed_args.server)
            return 1
        return result

    @staticmethod
    def _expectation(client, server, settings, strategy):
        """What the plan says, for the progress display; nothing when no
        plan can be made (the compute decides anyway).
        """
        try:
            plan = planning.plan_for(client.server_facts(server), settings,
                                     operator_strategy=strategy).plan
        except planning.PlanningError as e:
            LOG.debug('No plan for the progress display: %s', e)
            return progress_mod.Expectation()
        return progress_mod.Expectation.from_plan(plan)

    def take_action(self, parsed_args):
        settings = common.load_settings(parsed_args)
        strategy = parsed_args.strategy
        if strategy and strategy not in planner.available_strategies():
            raise exceptions.CommandError(
                'unknown strategy %r; available: %s'
                % (strategy, ', '.join(planner.available_strategies())))
        ttl = int(parsed_args.ttl)
        if not 0 < ttl <= settings.marker_max_ttl_s:
            raise exceptions.CommandError(
                '--ttl %s must be within 1 s..%d s ([migtuner] '
                'operator_marker_max_ttl_s)'
                % (parsed_args.ttl, settings.marker_max_ttl_s))
        secret = None
        if strategy:
            secret = read_secret(parsed_args, settings)
            try:
                operator_marker.check_secret(secret)
            except operator_marker.MarkerError as e:
                raise exceptions.CommandError(
                    'cannot sign the strategy choice: %s' % e)
        self.authenticate()
        client = self.app.client_manager.migtuner
        server = client.find_server(parsed_args.server)
        source = server.compute_host
        if not source:
            raise exceptions.CommandError(
                'server %s has no host: missing admin rights, or it is not '
                'running' % server.name)
        client.require_compute_host(source)
        if parsed_args.host:
            client.require_compute_host(parsed_args.host)
            if parsed_args.host == source:
                raise exceptions.CommandError('server %s is already on %s'
                                              % (server.name, source))
        if server.status not in ('ACTIVE', 'PAUSED'):
            raise exceptions.CommandError(
                'server %s is %s; only ACTIVE or PAUSED servers can be '
                'live-migrated' % (server.name, server.status))

        marked = False
        if strategy:
            try:
                marker = operator_marker.sign(
                    secret, server.id, strategy, ttl=ttl,
                    source_host=source, now=self.clock())
            except operator_marker.MarkerError as e:
                raise exceptions.CommandError(
                    'cannot sign the strategy choice: %s' % e)
            client.set_metadata_item(server.id, operator_marker.METADATA_KEY,
                                     marker)
            marked = True
            LOG.debug('Set operator marker for %s on %s', server.id, source)

        expectation = (self._expectation(client, server, settings, strategy)
                       if parsed_args.wait else None)
        watch = client_mod.MigrationWatch(client, server.id, source,
                                          clock=self.clock)
        started_at = self.clock()
        try:
            client.live_migrate(server.id, host=parsed_args.host)
        except Exception:
            if marked:
                client.delete_metadata_item(server.id,
                                            operator_marker.METADATA_KEY)
            raise

        rows = [('server', server.name), ('id', server.id),
                ('source_host', source),
                ('requested_destination', common.optional(
                    parsed_args.host, 'chosen by the scheduler')),
                ('requested_strategy', common.optional(
                    strategy, '- (flavor, image or default)'))]
        if not parsed_args.wait:
            rows.append(('status', 'started; follow it with "openstack '
                         'server migration list --server %s"' % server.id))
            return common.show_one(rows)

        display = progress_mod.ProgressDisplay(self.app.stderr)
        tracker = progress_mod.Tracker(started_at, expectation)

        def on_progress(sample):
            display.update(server.id, server.name, tracker.add(sample))
        try:
            result = watch_migration(watch, self.clock, self.sleep,
                                     parsed_args.poll_interval,
                                     parsed_args.timeout, on_progress)
        except KeyboardInterrupt:
            result = None
        finally:
            display.close()
        if result is None:
            rows.append(('status', 'still running in nova (stopped '
                         'watching); the marker, if any, stays until it '
                         'expires or the compute uses it'))
            return common.show_one(rows)

        if marked:
            leftover = client.metadata(server.id).get(
                operator_marker.METADATA_KEY)
            if leftover:
                client.delete_metadata_item(server.id,
                                            operator_marker.METADATA_KEY)
                if result.completed:
                    self.app.stderr.write(
                        'warning: the compute did not consume the strategy '
                        'marker (is the migtuner driver running with '
                        '[migtuner] operator_secret set?); removed it\n')
        store = common.open_store(parsed_args.report_db)
        report = common.wait_for_report(
            store, server.id, watch.migration_uuid, started_at,
            parsed_args.report_timeout, sleep=self.sleep)
        self.failed = not result.completed
        rows += [
            ('status', 'ended'),
            ('outcome', 'completed' if result.completed else 'failed'),
            ('error', common.optional(result.error)),
            ('destination_host', result.destination or source),
        ]
        if report is None:
            rows += [
                ('strategy_used', common.optional(None)),
                ('total_time_s', round(self.clock() - started_at, 1)),
                ('total_time_source', 'observed by this command'),
                ('downtime_ms', common.optional(None)),
                ('sent_mb', common.optional(None)),
                ('report', 'no measured report: %s' % (
                    'none stored within %.0f s in %s'
                    % (parsed_args.report_timeout, parsed_args.report_db)
                    if store else 'no report database at %s (run '
                    'nova-migtuner report-collector)'
                    % parsed_args.report_db)),
            ]
        else:
            rows += [
                ('strategy_used', common.optional(report.strategy)),
                ('total_time_s', common.optional(
                    common.rounded(report.total_time_s))),
                ('total_time_source', 'measured by the compute'),
                ('downtime_ms', common.optional(
                    None if report.downtime_ms is None
                    else round(report.downtime_ms))),
                ('sent_mb', common.optional(
                    common.megabytes(report.data_bytes))),
                ('memory_sent_mb', common.optional(
                    common.megabytes(report.memory_bytes))),
                ('iterations', common.optional(report.iterations)),
                ('predicted_time_s', common.optional(
                    common.rounded(report.predicted_total_s))),
                ('report', 'measured by the compute (%s, stats from %s)'
                 % (report.outcome, report.stats_source)),
            ]
        return common.show_one(rows)
