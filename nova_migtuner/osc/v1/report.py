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

"""``openstack migtuner report``."""

import time

from osc_lib.command import command
from osc_lib import exceptions
from oslo_log import log as logging

from nova_migtuner.osc.v1 import common
from nova_migtuner.reports import store as store_mod
from nova_migtuner.reports import summary

LOG = logging.getLogger(__name__)

# snake_case columns with the unit in the name; plain numbers (null when
# unknown) so that -f json/csv is machine-readable.
FLAVOR_COLUMNS = ('flavor', 'migrations', 'failed', 'total_s', 'downtime_ms',
                  'sent_mb', 'memory_sent_mb', 'predicted_s')
MIGRATION_COLUMNS = ('time', 'server', 'flavor', 'source', 'destination',
                     'strategy', 'outcome', 'total_s', 'downtime_ms',
                     'sent_mb', 'memory_sent_mb', 'iterations')


def resolve_flavors(client, report_store, reports):
    """Fill in flavor names the notifications did not carry, from the
    servers that still exist; returns the reports re-read.
    """
    missing = sorted({r.instance_uuid for r in reports if not r.flavor})
    for uuid in missing:
        try:
            server = client.compute.get_server(uuid)
        except Exception as e:     # deleted, or no rights: stays unknown
            LOG.debug('Flavor of %s unknown: %s', uuid, e)
            continue
        flavor = server.flavor or {}
        name = flavor.get('original_name') or flavor.get('name')
        if name:
            report_store.set_flavor(uuid, name)
    return bool(missing)


class MigrationReport(common.LocalChecksFirst, command.Lister):
    """Show measured live migration reports, per flavor by default.

    The table operators otherwise build by hand from ping logs, compute
    logs and traffic counters (total time, downtime, bytes per flavor),
    from the migtuner.live_migration.end
    notifications that "nova-migtuner report-collector" stores. Numbers are
    means over completed migrations; MB sent counts everything the
    migration stream carried (libvirt data_processed, memory and disks),
    MB memory the memory part; libvirt does not count bytes per host and
    direction. Use -f json or -f csv for machine-readable output.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--since', metavar='<time>',
                            help='only migrations since then: %s'
                                 % summary.SINCE_HELP)
        parser.add_argument('--per-migration', action='store_true',
                            help='one row per migration instead of per '
                                 'flavor')
        parser.add_argument('--server', metavar='<server-id>',
                            help='only migrations of this server (ID)')
        parser.add_argument('--no-resolve-flavors', dest='resolve_flavors',
                            action='store_false',
                            help='do not ask the compute API for flavor '
                                 'names the notifications lack')
        common.add_report_db_option(parser)
        return parser

    def take_action(self, parsed_args):
        since = None
        if parsed_args.since:
            try:
                since = summary.parse_since(parsed_args.since, time.time())
            except ValueError as e:
                raise exceptions.CommandError(str(e))
        try:
            report_store = store_mod.ReportStore(parsed_args.report_db,
                                                 create=False)
            reports = report_store.reports(
                since=since, instance_uuid=parsed_args.server)
            if parsed_args.resolve_flavors and any(
                    not r.flavor for r in reports):
                # The only call to the cloud: reading the SQLite file
                # needs no credentials.
                self.authenticate()
                if resolve_flavors(self.app.client_manager.migtuner,
                                   report_store, reports):
                    reports = report_store.reports(
                        since=since, instance_uuid=parsed_args.server)
        except store_mod.ReportStoreError as e:
            raise exceptions.CommandError(str(e))
        if parsed_args.per_migration:
            return MIGRATION_COLUMNS, [self._migration_row(r)
                                       for r in reports]
        return FLAVOR_COLUMNS, [
            (row.flavor, row.migrations, row.failed,
             common.optional(common.rounded(row.total_s)),
             common.optional(None if row.downtime_ms is None
                             else round(row.downtime_ms)),
             common.optional(common.rounded(row.mb_sent)),
             common.optional(common.rounded(row.mb_memory)),
             common.optional(common.rounded(row.predicted_total_s)))
            for row in summary.by_flavor(reports)]

    @staticmethod
    def _migration_row(r):
        when = r.emitted_at or r.received_at
        return (time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(when)),
                r.instance_uuid, summary.flavor_label(r),
                common.optional(r.source_host),
                common.optional(r.destination_host),
                common.optional(r.strategy), r.outcome,
                common.optional(common.rounded(r.total_time_s)),
                common.optional(None if r.downtime_ms is None
                                else round(r.downtime_ms)),
                common.optional(common.megabytes(r.data_bytes)),
                common.optional(common.megabytes(r.memory_bytes)),
                common.optional(r.iterations))
