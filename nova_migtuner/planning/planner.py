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


def strategies_from(manager, conf):
    """``{name: strategy}`` of the plugins of *manager*.

    A strategy's identity is its entry point's name: a plugin whose class
    gives another ``name`` is refused (logged), so that a plan, a flavor's
    ``migtuner:strategy`` and the notifications all mean the same code.
    Each strategy's ``CONFIG_OPTS`` are registered on *conf* in its group.
    """
    strategies = {}
    for ext in manager:
        cls = ext.plugin
        if getattr(cls, 'name', None) != ext.name:
            LOG.error('Migration strategy entry point %(ep)s loads %(cls)s, '
                      'whose name is %(name)r: refused (the entry point '
                      'name and the class name must match)',
                      {'ep': ext.name, 'cls': cls,
                       'name': getattr(cls, 'name', None)})
            continue
        group = base.config_group(ext.name)
        conf.register_group(cfg.OptGroup(group))
        conf.register_opts(list(cls.CONFIG_OPTS), group=group)
        strategies[ext.name] = cls(conf[group])
    return strategies


@functools.lru_cache(maxsize=1)
def _extensions():
    return strategies_from(_manager(), cfg.CONF)


def list_strategy_opts():
    """``(group, opts)`` of every installed strategy with tunables."""
    return [(base.config_group(ext.name), list(ext.plugin.CONFIG_OPTS))
            for ext in _manager()
            if getattr(ext.plugin, 'CONFIG_OPTS', ())]


def _log_load_failure(manager, entrypoint, exception):
    LOG.error('Could not load migration strategy %s: %s',
              entrypoint, exception)


def available_strategies():
    return tuple(sorted(_extensions()))


def get_strategy(name):
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
               timeout_s=STRATEGY_TIMEOUT_S):
    """The checked plan of the chosen strategy.

    :raises StrategyTimeoutError: the chosen strategy and the default one
        both did not return in *timeout_s* s.
    """
    name, source = choose_strategy(context, default_strategy,
                                   operator_strategy)
    strategy = get_strategy(name)
    try:
        plan = build_bounded(name, strategy, context, timeout_s)
    except StrategyTimeoutError as e:
        if name == default_strategy:
            raise
        LOG.error('%(error)s; planning this migration with the default '
                  'strategy %(default)s instead',
                  {'error': e, 'default': default_strategy})
        plan = build_bounded(default_strategy,
                             get_strategy(default_strategy), context,
                             timeout_s)
        plan = dataclasses.replace(plan, reasons=(
            '%s (chosen by %s); the default strategy %s planned instead'
            % (e, source, default_strategy),) + tuple(plan.reasons))
    check_invariants(plan, context)
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
    cap_bw = context.limits.max_bandwidth_mib_s
    if cap_bw and not 0 < plan.bandwidth_mib_s <= cap_bw:
        problems.append('bandwidth %d MiB/s outside the cap %d MiB/s'
                        % (plan.bandwidth_mib_s, cap_bw))
    if problems:
        raise PlanInvariantError('strategy %s broke admin limits: %s'
                                 % (plan.strategy, '; '.join(problems)))
