"""``openstack migtuner plan SERVER``."""

from osc_lib.command import command
from osc_lib import exceptions

from nova_migtuner.osc import planning
from nova_migtuner.osc.v1 import common
from nova_migtuner.planning import planner
from nova_migtuner import units


def plan_rows(server_plan, destination=None):
    """(field, value) pairs of a ``ServerPlan`` for a ShowOne command."""
    plan = server_plan.plan
    facts = server_plan.facts
    p = plan.prediction
    return [
        ('server', facts.name),
        ('id', facts.server_id),
        ('source host', facts.host or '-'),
        ('destination', destination or 'chosen by the scheduler'),
        ('flavor', '%s (%s)' % (facts.flavor_name,
                                units.format_size(facts.memory_bytes))),
        ('strategy', '%s (from %s)' % (plan.strategy,
                                       server_plan.strategy_source)),
        ('flags', ' | '.join(plan.flags)),
        ('initial downtime', '%d ms (cap %d ms)' % (plan.initial_downtime_ms,
                                                    plan.max_downtime_ms)),
        ('bandwidth', '%d MiB/s' % plan.bandwidth_mib_s
         if plan.bandwidth_mib_s else 'not limited'),
        ('deadline', '%.0f s, then %s' % (plan.completion_deadline_s,
                                          plan.deadline_action)),
        ('timing', '%s: %s' % (plan.timing.action, plan.timing.reason)),
        ('predicted method', p.method),
        ('predicted time', units.format_seconds(p.total_seconds)
         if p.converges else 'does not converge'),
        ('predicted bytes', units.format_size(p.bytes)
         if p.bytes is not None else '-'),
        ('predicted downtime', '%.0f ms' % p.downtime_ms
         if p.downtime_ms is not None else '-'),
        ('inputs', '\n'.join(list(server_plan.notes) + list(plan.inputs))),
        ('why', '\n'.join(plan.explain())),
    ]


class PlanMigration(command.ShowOne):
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
        client = self.app.client_manager.migtuner
        available = planner.available_strategies()
        if parsed_args.strategy and parsed_args.strategy not in available:
            raise exceptions.CommandError(
                'unknown strategy %r; available: %s'
                % (parsed_args.strategy, ', '.join(available)))
        settings = common.load_settings(parsed_args)
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
        rows = plan_rows(server_plan, parsed_args.host)
        return tuple(k for k, _ in rows), tuple(v for _, v in rows)
