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

"""``openstack migtuner plan SERVER``."""

from osc_lib.command import command
from osc_lib import exceptions

from nova_migtuner.osc import planning
from nova_migtuner.osc.v1 import common
from nova_migtuner.planning import planner


def plan_rows(server_plan, destination=None):
    """(column, value) pairs of a ``ServerPlan`` for a ShowOne command.

    Columns are snake_case and carry their unit (``_ms``, ``_s``,
    ``_bytes``, ``_mib_s``); values are plain numbers, booleans, lists or
    null, so that ``-f json`` is machine-readable. The table shows the same
    values, with a word where one is absent.
    """
    plan = server_plan.plan
    facts = server_plan.facts
    p = plan.prediction
    return [
        ('server', facts.name),
        ('id', facts.server_id),
        ('source_host', common.optional(facts.host)),
        ('destination', common.optional(destination,
                                        'chosen by the scheduler')),
        ('flavor', facts.flavor_name),
        ('memory_bytes', facts.memory_bytes),
        ('strategy', plan.strategy),
        ('strategy_source', server_plan.strategy_source),
        ('flags', common.ListColumn(plan.flags)),
        ('initial_downtime_ms', plan.initial_downtime_ms),
        ('max_downtime_ms', plan.max_downtime_ms),
        ('bandwidth_mib_s', common.optional(plan.bandwidth_mib_s or None,
                                            'not limited')),
        ('parallel_connections', plan.parallel_connections),
        ('completion_deadline_s', common.rounded(plan.completion_deadline_s)),
        ('deadline_action', plan.deadline_action),
        ('timing', plan.timing.action),
        ('timing_reason', plan.timing.reason),
        ('predicted_method', p.method),
        ('predicted_converges', bool(p.converges)),
        ('predicted_time_s', common.optional(
            common.rounded(p.total_seconds) if p.converges else None,
            'does not converge')),
        ('predicted_bytes', common.optional(
            None if p.bytes is None else int(p.bytes))),
        ('predicted_downtime_ms', common.optional(
            None if p.downtime_ms is None else round(p.downtime_ms))),
        ('inputs', common.LinesColumn(
            list(server_plan.notes) + list(plan.inputs))),
        ('why', common.LinesColumn(plan.explain())),
    ]


class PlanMigration(common.LocalChecksFirst, command.ShowOne):
    """Show what the compute would do to live-migrate a server now.

    The strategy, libvirt flags, downtime, escalation ladder, timing
    decision and predicted time, bytes and downtime, from the server's
    flavor and image, the [migtuner] configuration and the latest
    measurements available; each input says whether it was measured, given
    or assumed.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('server', metavar='<server>',
                            help='server to plan for (name or ID)')
        parser.add_argument('--host', metavar='<host>',
                            help='destination compute host (default: the '
                                 'scheduler chooses)')
        parser.add_argument('--strategy', metavar='<strategy>',
                            help='preview a one-off operator strategy; one '
                                 'of: %s'
                                 % ', '.join(planner.available_strategies()))
        common.add_config_option(parser)
        common.add_report_db_option(parser)
        return parser

    def take_action(self, parsed_args):
        available = planner.available_strategies()
        if parsed_args.strategy and parsed_args.strategy not in available:
            raise exceptions.CommandError(
                'unknown strategy %r; available: %s'
                % (parsed_args.strategy, ', '.join(available)))
        settings = common.load_settings(parsed_args)
        self.authenticate()
        client = self.app.client_manager.migtuner
        server = client.find_server(parsed_args.server)
        if parsed_args.host:
            client.require_compute_host(parsed_args.host)
            if parsed_args.host == server.compute_host:
                raise exceptions.CommandError(
                    'server %s is already on %s'
                    % (server.name, parsed_args.host))
        facts = client.server_facts(server)
        store = common.open_store(parsed_args.report_db)
        try:
            server_plan = planning.plan_for(
                facts, settings, operator_strategy=parsed_args.strategy,
                reports=common.reports_for(store, facts.server_id),
                available_strategies=available)
        except planning.PlanningError as e:
            raise exceptions.CommandError(str(e))
        return common.show_one(plan_rows(server_plan, parsed_args.host))
