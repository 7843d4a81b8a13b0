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

"""Choose the strategy for a migration and build its plan.

Precedence: an operator's one-off choice, then the flavor's
``migtuner:strategy``, then the image's allowlisted ``migtuner_strategy``,
then ``[migtuner] default_strategy``. Every plan is checked against the
invariants that no strategy may break; a plugin that breaks one raises
``PlanInvariantError`` and callers fall back to nova's own behaviour.

A strategy is called with a time bound (``STRATEGY_TIMEOUT_S``): one that
does not return in time is replaced by the default strategy for that
migration, and if the default one hangs too, ``StrategyTimeoutError`` makes
the callers fall back to nova's own behaviour. A strategy still running a
plan that timed out is not called again until it returns.
"""

import dataclasses
import functools
import logging
import threading

from oslo_config import cfg
import stevedore

from nova_migtuner.planning import plan as plan_mod
from nova_migtuner.planning.strategies import base

LOG = logging.getLogger(__name__)
NAMESPACE = 'nova_migtuner.strategies'
# The installed strategies plan in well under 5 ms (tools/bench_planner.py);
# a thousand times that means a plugin hangs. Not an option: a plan that
# takes seconds is a defect of the plugin, never something to tune.
STRATEGY_TIMEOUT_S = 5.0


class UnknownStrategyError(ValueError):
    def __init__(self, name, available):
        self.name = name
        self.available = tuple(available)
        super().__init__('unknown strategy %r; available: %s'
                         % (name, ', '.join(self.available)))


class PlanInvariantError(RuntimeError):
    """A strategy produced a plan that breaks an admin limit."""


class StrategyTimeoutError(RuntimeError):
    """A strategy did not return a plan within its time bound."""


# Strategy name -> the thread of a build that timed out and still runs.
_hung_builds = {}
_hung_lock = threading.Lock()


def build_bounded(name, strategy, context, timeout_s=STRATEGY_TIMEOUT_S):
    """``strategy.build(context)``, or StrategyTimeoutError after
    *timeout_s* s.

    The build runs in a daemon thread (Python cannot stop a thread): one
    that hangs is left running, and the strategy is not called again while
    it does, so a hung plugin costs one thread, not one per migration.
    """
    with _hung_lock:
        hung = _hung_builds.get(name)
        if hung is not None:
            if hung.is_alive():
                raise StrategyTimeoutError(
                    'strategy %s is still running a plan that took more '
                    'than %.1f s; not called again until it returns'
                    % (name, timeout_s))
            del _hung_builds[name]
    outcome = {}

    def build():
        try:
            outcome['plan'] = strategy.build(context)
        except BaseException as e:   # re-raised in the caller's thread
            outcome['error'] = e
    thread = threading.Thread(target=build, daemon=True,
                              name='migtuner-strategy-%s' % name)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        with _hung_lock:
            _hung_builds[name] = thread
        raise StrategyTimeoutError('strategy %s did not return a plan '
                                   'within %.1f s' % (name, timeout_s))
    if 'error' in outcome:
        raise outcome['error']
    return outcome['plan']


def _manager():
    return stevedore.ExtensionManager(
        NAMESPACE, on_load_failure_callback=_log_load_failure)


def _matching(manager):
    """``[(name, class)]`` of *manager*'s plugins whose names match.

    A strategy's identity is its entry point's name: a plugin whose class
    gives another ``name`` is refused (logged), so that a plan, a flavor's
    ``migtuner:strategy`` and the notifications all mean the same code.
    """
    matching = []
    for ext in manager:
        cls = ext.plugin
        if getattr(cls, 'name', None) != ext.name:
            LOG.error('Migration strategy entry point %(ep)s loads %(cls)s, '
                      'whose name is %(name)r: refused (the entry point '
                      'name and the class name must match)',
                      {'ep': ext.name, 'cls': cls,
                       'name': getattr(cls, 'name', None)})
            continue
        matching.append((ext.name, cls))
    return matching


@functools.lru_cache(maxsize=1)
def _installed():
    # Reading the entry points once: every ConfigOpts gets the same set.
    return tuple(_matching(_manager()))


def _instantiate(plugins, conf):
    strategies = {}
    for name, cls in plugins:
        group = base.config_group(name)
        conf.register_group(cfg.OptGroup(group))
        conf.register_opts(list(cls.CONFIG_OPTS), group=group)
        strategies[name] = cls(conf[group])
    return strategies


def strategies_from(manager, conf):
    """``{name: strategy}`` of the plugins of *manager*.

    Plugins whose class name differs from the entry point's are refused
    (see ``_matching``). Each strategy's ``CONFIG_OPTS`` are registered on
    *conf* in its group and the strategy reads them from there.
    """
    return _instantiate(_matching(manager), conf)


def strategies_for(conf):
    """``{name: strategy}`` of the installed strategies, tuned by *conf*.

    The command-line tools read their own ``ConfigOpts`` from
    ``--config-file``: passing these strategies to ``build_plan`` applies
    that file's ``[migtuner_strategy_<name>]`` options, as nova's ``CONF``
    does on the compute.
    """
    return _instantiate(_installed(), conf)


def register_strategy_opts(conf):
    """Register every installed strategy's group and options on *conf*."""
    strategies_for(conf)


@functools.lru_cache(maxsize=1)
def _extensions():
    return strategies_for(cfg.CONF)


def list_strategy_opts():
    """``(group, opts)`` of every installed strategy with tunables."""
    return [(base.config_group(name), list(cls.CONFIG_OPTS))
            for name, cls in _installed() if cls.CONFIG_OPTS]


def _log_load_failure(manager, entrypoint, exception):
    LOG.error('Could not load migration strategy %s: %s',
              entrypoint, exception)


def available_strategies():
    return tuple(sorted(_extensions()))


def get_strategy(name, strategies=None):
    """The strategy *name* of *strategies* (default: tuned by ``cfg.CONF``).

    :raises UnknownStrategyError: naming the installed strategies.
    """
    if strategies is None:
        strategies = _extensions()
    if name not in strategies:
        raise UnknownStrategyError(name, sorted(strategies))
    return strategies[name]


def choose_strategy(context, default_strategy, operator_strategy=None):
    """Return ``(name, source)`` for the strategy of this migration."""
    if operator_strategy:
        return operator_strategy, 'operator'
    if context.policy.strategy:
        return context.policy.strategy, context.policy.strategy_source
    return default_strategy, 'config'


def build_plan(context, default_strategy='balanced', operator_strategy=None,
               strategies=None, timeout_s=STRATEGY_TIMEOUT_S):
    """The checked plan of the chosen strategy for *context*.

    :param strategies: ``strategies_for(conf)`` of a tool's own
        configuration; default: the strategies tuned by ``cfg.CONF``
        (nova's configuration inside nova).
    :raises UnknownStrategyError: the chosen strategy is not installed.
    :raises PlanInvariantError: the plan breaks an admin limit.
    :raises StrategyTimeoutError: the chosen strategy and the default one
        both did not return in *timeout_s* s.
    """
    name, source = choose_strategy(context, default_strategy,
                                   operator_strategy)
    strategy = get_strategy(name, strategies)
    try:
        plan = build_bounded(name, strategy, context, timeout_s)
    except StrategyTimeoutError as e:
        if name == default_strategy:
            raise
        LOG.error('%(error)s; planning this migration with the default '
                  'strategy %(default)s instead',
                  {'error': e, 'default': default_strategy})
        plan = build_bounded(default_strategy,
                             get_strategy(default_strategy, strategies),
                             context, timeout_s)
        plan = dataclasses.replace(plan, reasons=(
            '%s (chosen by %s); the default strategy %s planned instead'
            % (e, source, default_strategy),) + tuple(plan.reasons))
    check_invariants(plan, context)
    if context.policy.notes:
        # Ignored or changed image wishes: in the log and in the .start
        # notification's explain, not dropped silently.
        plan = dataclasses.replace(
            plan, reasons=tuple(context.policy.notes) + tuple(plan.reasons))
    LOG.debug('Strategy %(name)s (from %(source)s) planned %(flags)s, '
              'downtime %(down)d ms, predicted %(pred)s',
              {'name': name, 'source': source, 'flags': plan.flags,
               'down': plan.initial_downtime_ms,
               'pred': plan.prediction})
    return plan


def check_invariants(plan, context):
    """Raise ``PlanInvariantError`` if *plan* breaks what the admin allows."""
    problems = []
    cap = context.max_downtime_ms
    if plan.initial_downtime_ms > cap or plan.max_downtime_ms > cap:
        problems.append('downtime %d/%d ms above the cap %d ms'
                        % (plan.initial_downtime_ms, plan.max_downtime_ms,
                           cap))
    for step in plan.escalation:
        if step.downtime_ms is not None and step.downtime_ms > cap:
            problems.append('escalation to %d ms above the cap %d ms'
                            % (step.downtime_ms, cap))
    post_copy_used = (plan_mod.POSTCOPY in plan.flags or
                      plan.deadline_action == plan_mod.ACTION_POST_COPY or
                      any(s.action == plan_mod.ACTION_POST_COPY
                          for s in plan.escalation))
    if post_copy_used and not context.post_copy_permitted:
        problems.append('post-copy used but not permitted')
    pauses = (plan_mod.LIVE not in plan.flags or
              plan.deadline_action == plan_mod.ACTION_PAUSE or
              any(s.action == plan_mod.ACTION_PAUSE
                  for s in plan.escalation))
    if pauses and not context.limits.permit_pause:
        problems.append('plan pauses the guest but permit_pause is false')
    if (plan_mod.AUTO_CONVERGE in plan.flags and
            not context.auto_converge_permitted):
        problems.append('auto-converge used but not permitted')
    if (plan_mod.COMPRESSED in plan.flags and
            not context.limits.permit_compression):
        problems.append('compression used but not permitted')
    if plan.parallel_connections > context.limits.max_parallel_connections:
        problems.append('%d parallel connections above the limit %d'
                        % (plan.parallel_connections,
                           context.limits.max_parallel_connections))
    if not 0 <= plan.max_pause_ms <= context.limits.max_pause_downtime_ms:
        problems.append('pause of up to %d ms outside 0..%d ms '
                        '(max_pause_downtime_ms)'
                        % (plan.max_pause_ms,
                           context.limits.max_pause_downtime_ms))
    longest = base.Strategy.deadline(context)
    if not 0 < plan.completion_deadline_s <= longest:
        problems.append('deadline %r s outside 0..%.0f s (the completion '
                        'budget of this guest)'
                        % (plan.completion_deadline_s, longest))
    for step in plan.escalation:
        if step.trigger == plan_mod.TRIGGER_ELAPSED and not (
                0 <= step.threshold <= plan.completion_deadline_s):
            problems.append('escalation after %r s outside the deadline '
                            '%r s' % (step.threshold,
                                      plan.completion_deadline_s))
    if plan.bandwidth_mib_s < 0:
        problems.append('bandwidth %d MiB/s is negative (0: not limited)'
                        % plan.bandwidth_mib_s)
    compressed = (plan_mod.COMPRESSED in plan.flags or
                  plan.compression is not None)
    parallel = (plan_mod.PARALLEL in plan.flags or
                plan.parallel_connections > 1)
    if compressed and parallel:
        problems.append('compression together with %d parallel '
                        'connections, which libvirt refuses'
                        % plan.parallel_connections)
    if plan.parallel_connections < 1:
        problems.append('%d parallel connections (at least 1)'
                        % plan.parallel_connections)
    cap_bw = context.limits.max_bandwidth_mib_s
    if cap_bw and not 0 < plan.bandwidth_mib_s <= cap_bw:
        problems.append('bandwidth %d MiB/s outside the cap %d MiB/s'
                        % (plan.bandwidth_mib_s, cap_bw))
    if problems:
        raise PlanInvariantError('strategy %s broke admin limits: %s'
                                 % (plan.strategy, '; '.join(problems)))
