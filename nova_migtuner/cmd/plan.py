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

"""``nova-migtuner plan``: what nova_migtuner would do for a described guest.

Reads ``[migtuner]``, the strategies' ``[migtuner_strategy_<name>]`` and
nova's ``[libvirt]`` from ``--config-file`` as the compute does
(``conf.cli``; the defaults otherwise); values given on the command line
override it and are marked as given, everything else in the explanation is
marked as assumed.
"""

import json
import sys

from nova_migtuner.cmd import argtypes
from nova_migtuner.conf import cli as cli_conf
from nova_migtuner.conf import migtuner as mt_opts
from nova_migtuner.planning import context as ctx_mod
from nova_migtuner.planning import inputs
from nova_migtuner.planning import limits as limits_mod
from nova_migtuner.planning import planner
from nova_migtuner import units


_OPTS = {opt.name: opt for opt in mt_opts.ALL_OPTS}


def add_parser(subparsers):
    p = subparsers.add_parser(
        'plan', help='print the migration plan for a described guest',
        description='Print the plan nova_migtuner would follow to '
                    'live-migrate a guest with this memory and load: flags, '
                    'downtime, escalation ladder, timing and prediction.')
    p.add_argument('--memory', type=argtypes.size, required=True,
                   help='guest memory, e.g. 32GiB')
    p.add_argument('--dirty-rate', type=argtypes.rate_or_zero,
                   help='measured rate at which the guest dirties memory, '
                        'e.g. 150MiB/s (default: assumed 2%% of touched '
                        'memory per second)')
    p.add_argument('--bandwidth', type=argtypes.rate,
                   help='migration link bandwidth, e.g. 1Gbit/s or 110MB/s '
                        '(default: [migtuner] link_bandwidth)')
    p.add_argument('--touched', type=argtypes.size,
                   help='memory the guest has ever written (default: all)')
    p.add_argument('--working-set', type=argtypes.size,
                   help='memory the guest keeps rewriting (default: the '
                        'touched memory)')
    p.add_argument('--max-downtime',
                   type=argtypes.within_option(argtypes.milliseconds,
                                               _OPTS['max_downtime_ms'],
                                               'ms'),
                   help='admin downtime cap, e.g. 500ms (a bare number is '
                        'ms; default: [migtuner] max_downtime_ms)')
    p.add_argument('--strategy',
                   help='strategy to use (default: [migtuner] '
                        'default_strategy); one of: %s'
                        % ', '.join(planner.available_strategies()))
    p.add_argument('--permit-post-copy', action='store_true',
                   help='nova permits post-copy ([libvirt] '
                        'live_migration_permit_post_copy = true)')
    p.add_argument('--permit-auto-converge', action='store_true',
                   help='nova permits auto-converge ([libvirt] '
                        'live_migration_permit_auto_converge = true); '
                        'nova_migtuner never throttles without it')
    p.add_argument('--permit-pause', action='store_true', default=None,
                   help='a short pause may finish the migration')
    p.add_argument('--host-load', type=argtypes.fraction,
                   help='source host CPU load, 0..1 or a percentage')
    p.add_argument('--since-last-migration', type=argtypes.seconds,
                   help='time since this guest last migrated, e.g. 30s')
    p.add_argument('--max-deferral',
                   type=argtypes.within_option(argtypes.seconds,
                                               _OPTS['max_deferral_s'], 's'),
                   help='longest wait for a quieter moment, e.g. 5min')
    p.add_argument('--format', choices=('table', 'json'), default='table',
                   help='output format (default: table)')
    p.add_argument('--config-file', action='append', default=[],
                   help='nova.conf to read [migtuner], '
                        '[migtuner_strategy_<name>] and [libvirt] from '
                        '(repeatable)')
    p.set_defaults(func=run)
    return p


def inputs_from_args(args, conf):
    # Each flag stands for nova's option; it wins over the file's.
    for flag, option in ((args.permit_post_copy,
                          'live_migration_permit_post_copy'),
                         (args.permit_auto_converge,
                          'live_migration_permit_auto_converge')):
        if flag and cli_conf.nova_libvirt_registered(conf):
            conf.set_override(option, True, group='libvirt')
    limits = limits_mod.admin_limits(
        conf, nova_permit_post_copy=args.permit_post_copy,
        nova_permit_auto_converge=args.permit_auto_converge)
    overrides = {}
    if args.max_downtime is not None:
        overrides['max_downtime_ms'] = args.max_downtime
    if args.permit_pause is not None:
        overrides['permit_pause'] = args.permit_pause
    if args.max_deferral is not None:
        overrides['max_deferral_s'] = int(args.max_deferral)
    if overrides:
        limits = ctx_mod.AdminLimits(**{**limits.__dict__, **overrides})
    if args.bandwidth is not None:
        link = inputs.given(args.bandwidth)
    else:
        link = inputs.assumed(limits_mod.link_bandwidth(
            conf.migtuner.link_bandwidth)[0])
    return inputs.build_inputs(
        memory_bytes=args.memory, link_bandwidth=link,
        touched=inputs.given(args.touched),
        dirty_rate=inputs.given(args.dirty_rate),
        working_set=inputs.given(args.working_set),
        source_host_load=inputs.given(args.host_load),
        seconds_since_instance_migration=args.since_last_migration,
        limits=limits)


def format_table(plan):
    p = plan.prediction
    rows = [
        ('strategy', plan.strategy),
        ('flags', ' | '.join(plan.flags)),
        ('initial downtime', '%d ms (cap %d ms)' % (plan.initial_downtime_ms,
                                                    plan.max_downtime_ms)),
        ('bandwidth', '%d MiB/s' % plan.bandwidth_mib_s
         if plan.bandwidth_mib_s else 'not limited'),
        ('parallel connections', str(plan.parallel_connections)),
        ('compression', plan.compression or 'none'),
        ('deadline', '%.0f s, then %s' % (plan.completion_deadline_s,
                                          plan.deadline_action)),
        ('timing', '%s: %s' % (plan.timing.action, plan.timing.reason)),
        ('predicted method', p.method),
        ('predicted', (
            'completes in %s, %d rounds, %s sent, downtime %.0f ms' % (
                units.format_seconds(p.total_seconds), p.rounds,
                units.format_size(p.bytes), p.downtime_ms)
            if p.converges else
            'does not converge: %s stay dirty each round'
            % units.format_size(p.stall_bytes))),
    ]
    width = max(len(k) for k, _ in rows)
    lines = ['%-*s  %s' % (width, k, v) for k, v in rows]
    lines.append('')
    lines.append('inputs:')
    lines += ['  - %s' % line for line in plan.inputs]
    lines.append('why:')
    lines += ['  - %s' % line for line in plan.explain()]
    return '\n'.join(lines)


def plan_as_json(plan):
    data = plan.to_dict()
    # The short prediction block the issue asks for, next to the full one.
    p = plan.prediction
    data['prediction'] = {
        'method': p.method, 'converges': p.converges,
        'total_seconds': p.total_seconds, 'bytes': p.bytes,
        'downtime_ms': p.downtime_ms, 'rounds': p.rounds,
        'stall_bytes': p.stall_bytes, 'max_throttle': p.max_throttle,
    }
    return json.dumps(data, indent=2, sort_keys=True)


def run(args, parser):
    available = planner.available_strategies()
    try:
        conf = cli_conf.load_config(args.config_file)
    except cli_conf.ConfigError as e:
        parser.error(str(e))
    strategy = args.strategy or conf.migtuner.default_strategy
    if strategy not in available:
        parser.error('unknown strategy %r; available: %s'
                     % (strategy, ', '.join(available)))
    try:
        migration_inputs = inputs_from_args(args, conf)
    except ctx_mod.InputsError as e:
        parser.error(str(e))
    try:
        plan = planner.build_plan(
            migration_inputs, operator_strategy=strategy,
            default_strategy=conf.migtuner.default_strategy,
            strategies=planner.strategies_for(conf))
    except (planner.PlanInvariantError, planner.StrategyTimeoutError) as e:
        print('nova-migtuner plan: %s; the compute would fall back to '
              'nova\'s own behaviour' % e, file=sys.stderr)
        return 1
    if args.format == 'json':
        print(plan_as_json(plan))
    else:
        print(format_table(plan))
    return 0
