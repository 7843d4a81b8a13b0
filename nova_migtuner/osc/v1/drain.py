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

"""``openstack migtuner drain HOST``."""

import time

from osc_lib.command import command
from oslo_log import log as logging

from nova_migtuner.osc import client as client_mod
from nova_migtuner.osc import drain as drain_mod
from nova_migtuner.osc import planning
from nova_migtuner.osc import progress as progress_mod
from nova_migtuner.osc.v1 import common
from nova_migtuner.planning import planner

LOG = logging.getLogger(__name__)

LIVE_MIGRATABLE = ('ACTIVE', 'PAUSED')
# snake_case columns with the unit in the name; values are plain numbers
# (null when unknown) so that -f json/csv is machine-readable.
SUMMARY_COLUMNS = ('server', 'id', 'outcome', 'error', 'destination',
                   'time_s', 'downtime_ms', 'sent_mb', 'numbers')
DRY_RUN_COLUMNS = ('order', 'server', 'id', 'action', 'flavor', 'strategy',
                   'predicted_converges', 'predicted_s', 'predicted_mb',
                   'predicted_downtime_ms', 'planned_start_s')
MIGRATE = 'migrate'
SKIPPED = 'skipped'
NOT_MOVED_EXIT_CODE = 1


# nova's answers to a live-migration request that mean "not now": no host
# can take the server at the moment (400 No valid host) or the server is
# busy with another task (409). Nothing started; the drain tries later.
NO_VALID_HOST = 'No valid host'
# How long a start whose answer was lost may go without a migration record
# before it is taken as never having reached nova.
RECORD_GRACE_S = 60.0


def _retry_later(error):
    status = getattr(error, 'status_code', None)
    return status == 409 or (status == 400 and
                             NO_VALID_HOST in str(error))


class ApiBackend(drain_mod.MigrationBackend):
    """Starts and follows live migrations through the compute API."""

    def __init__(self, client, source_host, report_store, clock):
        self.client = client
        self.source_host = source_host
        self.report_store = report_store
        self.clock = clock
        self._watches = {}
        self._started_at = {}
        self._ran = set()      # servers whose migration was seen running

    def start(self, candidate):
        server_id = candidate.server_id
        try:
            watch = client_mod.MigrationWatch(self.client, server_id,
                                              self.source_host,
                                              clock=self.clock)
        except Exception as e:
            if client_mod.is_transient(e):    # nothing was asked yet
                raise drain_mod.RetryLater('cannot read nova\'s migration '
                                           'records: %s' % e)
            raise
        self._started_at[server_id] = self.clock()
        self._watches[server_id] = watch
        self._ran.discard(server_id)
        try:
            self.client.live_migrate(server_id)
        except Exception as e:
            if _retry_later(e):
                raise drain_mod.RetryLater(getattr(e, 'details', None) or
                                           str(e))
            if client_mod.is_transient(e):
                raise drain_mod.TransientError(str(e))
            raise

    def poll(self, candidate):
        """Poll the migration; transient API errors become
        ``TransientError``, a start nova never recorded ``NotStarted``.
        """
        server_id = candidate.server_id
        watch = self._watches[server_id]
        try:
            polled = watch.poll()
            if (watch.migration is not None and
                    watch.migration.status == 'running'):
                self._ran.add(server_id)
            if (isinstance(polled, drain_mod.MigrationResult) and
                    not polled.completed and server_id not in self._ran and
                    watch.migration.status == 'error'):
                # The conductor's checks (e.g. no valid host, with the
                # API's asynchronous pre-checks) refused it before it ran.
                raise drain_mod.NotStarted(
                    'nova refused it before it ran: %s' % polled.error)
            if (polled is None and watch.migration is None and
                    self.clock() - self._started_at[server_id] >
                    RECORD_GRACE_S and self.client.compute.get_server(
                        server_id).task_state is None):
                raise drain_mod.NotStarted(
                    'no migration record after %.0f s and the server is '
                    'not migrating' % RECORD_GRACE_S)
            return polled
        except drain_mod.NotStarted:
            raise
        except Exception as e:
            if client_mod.is_transient(e):
                raise drain_mod.TransientError(str(e))
            # e.g. the server was deleted: nothing more to follow.
            return drain_mod.MigrationResult(
                completed=False,
                error='cannot follow the migration: %s' % e)

    def abort(self, candidate):
        watch = self._watches[candidate.server_id]
        if watch.migration is None:
            raise drain_mod.DrainError('nova has no record of it to abort')
        self.client.abort_live_migration(candidate.server_id,
                                         watch.migration.id)

    def last_sample(self, server_id):
        """nova's progress fields at the last poll, or None."""
        watch = self._watches.get(server_id)
        return None if watch is None else watch.last_sample

    def started_at(self, server_id):
        return self._started_at[server_id]

    def measured_reports(self, items, timeout):
        """The stored .end reports of the completed migrations, waiting
        at most *timeout* s in all for the collector to store them (after
        the drain, so that waiting never holds up the next migration).
        """
        reports = {}
        deadline = time.monotonic() + timeout
        for item in items:
            server_id = item.candidate.server_id
            if item.status != drain_mod.Status.COMPLETED:
                continue
            report = common.wait_for_report(
                self.report_store, server_id,
                self._watches[server_id].migration_uuid,
                self._started_at[server_id],
                max(0.0, deadline - time.monotonic()))
            if report is not None:
                reports[server_id] = report
        return reports


class PredictedBackend(drain_mod.MigrationBackend):
    """For --dry-run: migrations take their predicted time."""

    UNKNOWN_S = 60.0

    def __init__(self, clock_box):
        self.clock_box = clock_box
        self.started = {}

    def start(self, candidate):
        self.started[candidate.server_id] = self.clock_box[0]

    def poll(self, candidate):
        seconds = candidate.predicted_seconds or self.UNKNOWN_S
        if self.clock_box[0] - self.started[candidate.server_id] >= seconds:
            return drain_mod.MigrationResult(completed=True)
        return None


def simulate_starts(ordered, max_parallel, spacing):
    """Planned start offsets (s) if every migration took its prediction."""
    clock_box = [0.0]
    backend = PredictedBackend(clock_box)
    scheduler = drain_mod.DrainScheduler(ordered, max_parallel, spacing)

    def sleep(seconds):
        clock_box[0] += seconds
    drain_mod.run_drain(scheduler, backend, lambda: clock_box[0], sleep,
                        poll_interval_s=0.5)
    return backend.started


class DrainHost(common.LocalChecksFirst, command.Lister):
    """Live-migrate every server off a compute host, for maintenance.

    Servers are ordered by predicted cost and migrated at most
    --max-parallel at a time, with --spacing seconds after each start and
    each end before the next start (so an application recovers from one
    switch-over before the next: response times take seconds to recover
    after a switch-over, and two migrations close together add up). A
    server that fails to
    move is reported and the drain goes on; one nova cannot place now (no
    valid host) or that is busy is tried again after the others
    (--attempts, --retry-delay). A failed API call is repeated, and a
    migration keeps its slot until nova's records show that it ended.
    --migration-timeout aborts a migration that runs too long. Ctrl-C
    starts no more migrations and waits for the running ones; a second
    Ctrl-C stops watching them (nova finishes them). Disable the host first
    ("openstack compute service set --disable HOST nova-compute") so the
    scheduler places nothing new on it.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('host', metavar='<host>',
                            help='compute host to empty')
        parser.add_argument('--max-parallel', metavar='<count>',
                            type=common.positive_int,
                            default=drain_mod.DEFAULT_MAX_PARALLEL,
                            help='most migrations running at once (default: '
                                 '%d; the computes\' '
                                 'max_concurrent_live_migrations still '
                                 'applies)' % drain_mod.DEFAULT_MAX_PARALLEL)
        parser.add_argument('--spacing', metavar='<duration>',
                            type=common.seconds,
                            default=drain_mod.DEFAULT_SPACING_S,
                            help='time between a migration\'s start or end '
                                 'and the next start, e.g. 10s (default: '
                                 '%.0f s, twice the ~5 s a web application '
                                 'takes to recover after a switch-over)'
                                 % drain_mod.DEFAULT_SPACING_S)
        parser.add_argument('--order', choices=drain_mod.ORDERS,
                            default=drain_mod.ORDER_CHEAPEST_FIRST,
                            help='cheapest-first: shortest predicted '
                                 'migration first, non-converging last; '
                                 'largest-first: most memory first '
                                 '(default: %(default)s)')
        parser.add_argument('--dry-run', action='store_true',
                            help='show the order, predictions and planned '
                                 'start times; migrate nothing')
        parser.add_argument('--report-timeout', metavar='<duration>',
                            type=common.seconds, default=30.0,
                            help='after the drain, how long to wait for the '
                                 'collector to store the measured reports '
                                 '(default: 30 s)')
        parser.add_argument('--migration-timeout', metavar='<duration>',
                            type=common.seconds, default=0.0,
                            help='abort a migration nova has not ended '
                                 'after this long, e.g. 30min (its slot is '
                                 'freed when nova says it ended; default: '
                                 'no limit, nova\'s own '
                                 'live_migration_completion_timeout '
                                 'applies)')
        parser.add_argument('--attempts', metavar='<count>',
                            type=common.positive_int,
                            default=drain_mod.DEFAULT_MAX_ATTEMPTS,
                            help='starts per server when nova refuses one '
                                 'for now (no valid host, server busy) or '
                                 'never receives it; retries go after the '
                                 'other servers (default: %d)'
                                 % drain_mod.DEFAULT_MAX_ATTEMPTS)
        parser.add_argument('--retry-delay', metavar='<duration>',
                            type=common.seconds,
                            default=drain_mod.DEFAULT_RETRY_DELAY_S,
                            help='wait before such a retry (default: '
                                 '%.0f s)' % drain_mod.DEFAULT_RETRY_DELAY_S)
        parser.add_argument('--poll-interval', metavar='<duration>',
                            type=common.positive_seconds,
                            default=drain_mod.DEFAULT_POLL_INTERVAL_S,
                            help='seconds between progress checks '
                                 '(default: %.0f s)'
                                 % drain_mod.DEFAULT_POLL_INTERVAL_S)
        common.add_config_option(parser)
        common.add_report_db_option(parser)
        return parser

    clock = staticmethod(time.time)
    sleep = staticmethod(time.sleep)

    def _candidates(self, client, servers, settings, store):
        available = planner.available_strategies()
        candidates, skipped = [], []
        self.expectations = {}
        for server in servers:
            if server.status not in LIVE_MIGRATABLE:
                skipped.append((server, '%s, not live-migratable'
                                % server.status))
                continue
            facts = client.server_facts(server)
            try:
                plan = planning.plan_for(
                    facts, settings,
                    reports=common.reports_for(store, facts.server_id),
                    available_strategies=available).plan
                self.expectations[facts.server_id] = (
                    progress_mod.Expectation.from_plan(plan))
            except planning.PlanningError as e:
                # Still migrate it; nova's own behaviour applies.
                LOG.warning('No plan for %(server)s: %(error)s',
                            {'server': facts.name, 'error': e})
                candidates.append(drain_mod.DrainCandidate(
                    server_id=facts.server_id, name=facts.name,
                    memory_bytes=facts.memory_bytes,
                    flavor=facts.flavor_name, strategy='stock',
                    converges=False))
                continue
            p = plan.prediction
            candidates.append(drain_mod.DrainCandidate(
                server_id=facts.server_id, name=facts.name,
                memory_bytes=facts.memory_bytes, flavor=facts.flavor_name,
                strategy=plan.strategy, converges=p.converges,
                predicted_seconds=p.total_seconds,
                predicted_bytes=p.bytes,
                predicted_downtime_ms=p.downtime_ms))
        return candidates, skipped

    # Set by take_action: the servers a real drain did not move.
    not_moved = None
    # What the plans say, per server ID, for the progress display.
    expectations = None

    def run(self, parsed_args):
        """Print the table, then exit non-zero if servers were not moved,
        with the count in the last line.
        """
        self.not_moved = None
        result = super().run(parsed_args)
        if self.not_moved:
            failed, total = self.not_moved
            self.app.stderr.write('%d of %d servers were not moved off %s\n'
                                  % (failed, total, parsed_args.host))
            return NOT_MOVED_EXIT_CODE
        return result

    def take_action(self, parsed_args):
        settings = common.load_settings(parsed_args)
        self.authenticate()
        client = self.app.client_manager.migtuner
        client.require_compute_host(parsed_args.host)
        servers = client.servers_on_host(parsed_args.host)
        store = common.open_store(parsed_args.report_db)
        candidates, skipped = self._candidates(client, servers, settings,
                                               store)
        ordered = drain_mod.order_candidates(candidates, parsed_args.order)
        if parsed_args.dry_run:
            return DRY_RUN_COLUMNS, self._dry_run_rows(ordered, skipped,
                                                       parsed_args)
        if not ordered:
            self.app.stderr.write('nothing to migrate on %s\n'
                                  % parsed_args.host)
        scheduler = drain_mod.DrainScheduler(
            ordered, max_parallel=parsed_args.max_parallel,
            spacing_s=parsed_args.spacing,
            max_attempts=parsed_args.attempts,
            retry_delay_s=parsed_args.retry_delay,
            migration_timeout_s=parsed_args.migration_timeout)
        backend = ApiBackend(client, parsed_args.host, store, self.clock)
        shown = progress_mod.DrainProgress(
            progress_mod.ProgressDisplay(self.app.stderr), backend,
            self.expectations)
        try:
            drain_mod.run_drain(scheduler, backend, self.clock, self.sleep,
                                poll_interval_s=parsed_args.poll_interval,
                                on_change=shown.on_change)
        finally:
            shown.close()
        reports = backend.measured_reports(scheduler.items,
                                           parsed_args.report_timeout)
        rows = [self._summary_row(item, reports.get(
            item.candidate.server_id)) for item in scheduler.items]
        rows += [(s.name, s.id, SKIPPED, reason, common.optional(None),
                  common.optional(None), common.optional(None),
                  common.optional(None), common.optional(None))
                 for s, reason in skipped]
        failed = [r for r in rows if r[2] != drain_mod.Status.COMPLETED.value]
        if failed:
            self.not_moved = (len(failed), len(rows))
        return SUMMARY_COLUMNS, rows

    @staticmethod
    def _summary_row(item, report):
        c = item.candidate
        result = common.result_with_report(item.result, report) \
            if item.result else None
        if result is not None and result.measured:
            seconds, source = result.total_seconds, 'measured'
        else:
            seconds, source = item.observed_seconds, 'observed'
        downtime = result.downtime_ms if result else None
        return (c.name, c.server_id, item.status.value,
                common.optional(item.error),
                common.optional(result.destination if result else None),
                common.optional(common.rounded(seconds)),
                common.optional(None if downtime is None
                                else round(downtime)),
                common.optional(common.megabytes(
                    result.data_bytes if result else None)),
                common.optional(source if item.started_at is not None
                                else None))

    @staticmethod
    def _dry_run_rows(ordered, skipped, parsed_args):
        """The drain's order and predictions, then the servers the real
        run would skip, as it reports them.
        """
        starts = simulate_starts(ordered, parsed_args.max_parallel,
                                 parsed_args.spacing)
        rows = []
        for index, c in enumerate(ordered, 1):
            downtime = c.predicted_downtime_ms
            rows.append((
                index, c.name, c.server_id, MIGRATE, c.flavor, c.strategy,
                bool(c.converges),
                common.optional(common.rounded(c.predicted_seconds)
                                if c.converges else None,
                                'does not converge'),
                common.optional(common.megabytes(c.predicted_bytes)),
                common.optional(None if downtime is None
                                else round(downtime)),
                common.optional(common.rounded(starts.get(c.server_id)))))
        for server, reason in skipped:
            flavor = server.flavor or {}
            rows.append((
                common.optional(None), server.name, server.id,
                '%s: %s' % (SKIPPED, reason),
                flavor.get('original_name') or flavor.get('name') or '-',
                common.optional(None), common.optional(None),
                common.optional(None), common.optional(None),
                common.optional(None), common.optional(None)))
        return rows
