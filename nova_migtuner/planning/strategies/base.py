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

"""Base class and shared arithmetic of migration strategies.

A strategy is a stevedore plugin in the ``nova_migtuner.strategies``
namespace: a class with a ``name`` (the entry point's name: the planner
refuses a plugin whose class says otherwise), a one-line ``intent`` and a
``build(context) -> MigrationPlan``. Its tunables are oslo.config options
(``CONFIG_OPTS``) of its own group ``[migtuner_strategy_<name>]``, as
os-vif does for its plugins; the planner registers them and hands the
strategy its group. The helpers here compute what every
strategy needs (predictions for each method, parallel connections, the
deadline) so that a strategy only states its preferences.
"""

import abc
import dataclasses
import math
import types
from typing import Optional, Tuple

from nova_migtuner.planning import model
from nova_migtuner.planning import plan as plan_mod
from nova_migtuner.planning import timing
from nova_migtuner import units

# A single QEMU migration stream fills about 10 Gbit/s; faster links need
# parallel connections (multifd) to be used.
BYTES_PER_CONNECTION = 10 * 1000 ** 3 / 8
# Used when the dirty rate was not measured: a lightly loaded server dirties
# a few percent of its memory per second. Saying so in the plan matters more
# than the exact figure.
ASSUMED_DIRTY_FRACTION_PER_S = 0.02
# The least downtime a plan starts with: below this, QEMU rarely finds a
# moment to switch over and every round costs a bitmap sync.
MIN_INITIAL_DOWNTIME_MS = 50
# A deadline shorter than this leaves no room to escalate.
MIN_DEADLINE_S = 60.0
# Auto-converge throttle steps (cpu-throttle-initial, -increment, percent)
# a plan may choose; QEMU's defaults first. A step is chosen only when the
# model predicts it finishes clearly sooner (STEPS_GAIN) than the one
# before: a larger first step slows the guest harder, but for less time.
# No first step above 40 %: that stalls a latency-sensitive guest at once,
# where post-copy (if permitted) or a longer migration hurts it less.
THROTTLE_STEPS = ((20, 10), (30, 10), (40, 10), (40, 20))
STEPS_GAIN = 0.9
# The least share of its vCPU a guest's dirtying is taken to need: a guest
# measured nearly idle may still dirty from a short burst of CPU.
MIN_DIRTY_CPU_SHARE = 0.05


@dataclasses.dataclass(frozen=True)
class Outlook:
    """Predictions for every method this context permits."""
    dirty_rate: float
    bandwidth: float
    precopy_at_cap: model.Prediction
    auto_converge: Optional[model.Prediction]
    post_copy: Optional[model.Prediction]
    paused: model.Prediction
    deadline_s: float
    throttle_steps: Tuple[int, int] = (20, 10)
    dirty_cpu_share: float = 1.0

    @property
    def precopy_converges(self):
        return self.precopy_at_cap.converges

    def fits_deadline(self, prediction):
        return (prediction is not None and prediction.converges and
                prediction.total_seconds <= self.deadline_s)


def config_group(name):
    """The option group of strategy *name*'s tunables."""
    return 'migtuner_strategy_%s' % name


class Strategy(metaclass=abc.ABCMeta):
    """A way of choosing a migration plan.

    :param config: the strategy's option group (``conf[config_group(name)]``
        with ``CONFIG_OPTS`` registered); None: the options' defaults.
    """

    name = None
    intent = ''
    CONFIG_OPTS = ()

    def __init__(self, config=None):
        if config is None:
            config = types.SimpleNamespace(
                **{opt.dest: opt.default for opt in self.CONFIG_OPTS})
        self.config = config

    @abc.abstractmethod
    def build(self, context):
        """Return a ``MigrationPlan`` for a ``MigrationInputs``."""

    # -- helpers shared by strategies -----------------------------------

    @staticmethod
    def dirty_rate(context):
        if context.dirty_rate is not None:
            return context.dirty_rate
        return context.touched * ASSUMED_DIRTY_FRACTION_PER_S

    @staticmethod
    def deadline(context):
        gib = max(1.0, context.memory_bytes / units.GiB)
        return max(MIN_DEADLINE_S,
                   context.limits.completion_budget_per_gib_s * gib)

    @staticmethod
    def dirty_cpu_share(context):
        """How much of its vCPUs the guest's dirtying needs (1: all)."""
        if context.guest_cpu_load is None:
            return 1.0
        return min(1.0, max(MIN_DIRTY_CPU_SHARE, context.guest_cpu_load))

    @staticmethod
    def choose_throttle_steps(predict):
        """``(steps, prediction)``: the throttle steps to plan with.

        :param predict: ``predict(initial, increment) -> Prediction`` with
            fractions.
        """
        default = THROTTLE_STEPS[0]
        best, best_p = default, predict(default[0] / 100.0,
                                        default[1] / 100.0)
        if not best_p.converges:
            best_s = float('inf')
        else:
            best_s = best_p.total_seconds
        for steps in THROTTLE_STEPS[1:]:
            p = predict(steps[0] / 100.0, steps[1] / 100.0)
            if p.converges and p.total_seconds < best_s * STEPS_GAIN:
                best, best_p, best_s = steps, p, p.total_seconds
        return best, best_p

    def predict_precopy(self, context, o, downtime_ms, auto_converge,
                        time_limit=None):
        """Pre-copy at *downtime_ms*, with the outlook's throttle steps."""
        return model.predict_precopy(
            context.memory_bytes, o.dirty_rate, o.bandwidth,
            downtime_ms / 1000.0, touched=context.touched,
            working_set=context.working_set, auto_converge=auto_converge,
            time_limit=time_limit,
            throttle_initial=o.throttle_steps[0] / 100.0,
            throttle_increment=o.throttle_steps[1] / 100.0,
            dirty_cpu_share=o.dirty_cpu_share)

    def outlook(self, context):
        dirty = self.dirty_rate(context)
        bandwidth = context.effective_bandwidth
        deadline = self.deadline(context)
        common = dict(memory=context.memory_bytes, dirty_rate=dirty,
                      bandwidth=bandwidth, touched=context.touched,
                      working_set=context.working_set)
        cap_s = context.max_downtime_ms / 1000.0
        share = self.dirty_cpu_share(context)
        precopy = model.predict_precopy(downtime_limit=cap_s,
                                        time_limit=deadline, **common)
        auto = None
        steps = THROTTLE_STEPS[0]
        if context.auto_converge_permitted:
            steps, auto = self.choose_throttle_steps(
                lambda initial, increment: model.predict_precopy(
                    downtime_limit=cap_s, auto_converge=True,
                    time_limit=deadline, throttle_initial=initial,
                    throttle_increment=increment, dirty_cpu_share=share,
                    **common))
        post = None
        if context.post_copy_permitted:
            # The plan caps post-copy at the pre-copy cap (engine.flags).
            post = model.predict_postcopy(postcopy_bandwidth=bandwidth,
                                          **common)
        paused = model.predict_paused(context.memory_bytes, bandwidth,
                                      touched=context.touched)
        return Outlook(dirty_rate=dirty, bandwidth=bandwidth,
                       precopy_at_cap=precopy, auto_converge=auto,
                       post_copy=post, paused=paused, deadline_s=deadline,
                       throttle_steps=steps, dirty_cpu_share=share)

    @staticmethod
    def parallel_connections(context, post_copy):
        """Connections needed to fill the link; 1 when post-copy may run.

        Multifd and post-copy do not combine on the QEMU releases nova 34
        supports, and a single stream fills links up to ~10 Gbit/s.
        """
        if post_copy:
            return 1
        wanted = math.ceil(context.effective_bandwidth /
                           BYTES_PER_CONNECTION)
        return max(1, min(context.limits.max_parallel_connections, wanted))

    @staticmethod
    def bandwidth_mib_s(context):
        return context.limits.max_bandwidth_mib_s

    @staticmethod
    def pause_permitted(context, outlook, remaining_bytes):
        """Pausing may finish a migration only when the pause is short."""
        if not context.limits.permit_pause:
            return False
        pause_ms = remaining_bytes / outlook.bandwidth * 1000.0
        return pause_ms <= context.limits.max_pause_downtime_ms

    def deadline_action(self, context, outlook, prediction,
                        post_copy=True, pause=True):
        """What to do at the deadline: the safest action that finishes.

        Post-copy finishes in bounded time where permitted; a pause only
        when the predicted pause is short; otherwise abort, which leaves the
        guest running on the source.
        """
        if post_copy and context.post_copy_permitted:
            return plan_mod.ACTION_POST_COPY
        remaining = (prediction.stall_bytes if not prediction.converges
                     else outlook.precopy_at_cap.stall_bytes)
        if pause and self.pause_permitted(context, outlook, remaining):
            return plan_mod.ACTION_PAUSE
        return plan_mod.ACTION_ABORT

    @staticmethod
    def downtime_ladder(context, start_ms, steps, stall_s, reason):
        """Escalation steps raising the downtime from start_ms to the cap."""
        cap = context.max_downtime_ms
        if start_ms >= cap or steps < 1:
            return []
        ladder = []
        for i in range(1, steps + 1):
            value = int(round(start_ms + (cap - start_ms) * i / steps))
            ladder.append(plan_mod.EscalationStep(
                trigger=plan_mod.TRIGGER_STALLED, threshold=stall_s,
                action=plan_mod.ACTION_RAISE_DOWNTIME, downtime_ms=value,
                reason=reason))
        return ladder

    @staticmethod
    def describe_outlook(context, outlook):
        """Reasons common to all strategies, with numbers."""
        reasons = []
        rate_src = context.source_of('dirty_rate')
        if context.dirty_rate is None:
            rate_src = 'assumed %.0f %% of touched memory per second' % (
                ASSUMED_DIRTY_FRACTION_PER_S * 100)
        ratio = outlook.dirty_rate / outlook.bandwidth
        reasons.append(
            'dirty rate %s (%s) is %.2fx the usable bandwidth %s' % (
                units.format_rate(outlook.dirty_rate), rate_src, ratio,
                units.format_rate(outlook.bandwidth)))
        pre = outlook.precopy_at_cap
        if pre.converges:
            reasons.append(
                'pre-copy converges at the %d ms downtime cap: %d rounds, '
                'predicted %s, %s sent' % (
                    context.max_downtime_ms, pre.rounds,
                    units.format_seconds(pre.total_seconds),
                    units.format_size(pre.bytes)))
        else:
            reasons.append(
                'pre-copy cannot converge at the %d ms downtime cap: %s stay '
                'dirty each round, more than %s fits in %d ms' % (
                    context.max_downtime_ms,
                    units.format_size(pre.stall_bytes),
                    units.format_rate(outlook.bandwidth),
                    context.max_downtime_ms))
        reasons.append('a paused migration would stop the guest for %s' %
                       units.format_seconds(outlook.paused.total_seconds))
        if not context.post_copy_permitted:
            reasons.append('post-copy not permitted (%s)' % (
                'flavor forbids it' if context.policy.permit_post_copy is
                False else 'admin: [migtuner]/[libvirt] permit_post_copy'))
        if not context.auto_converge_permitted:
            reasons.append('auto-converge not permitted')
        return reasons

    def finish(self, context, outlook, *, flags, initial_downtime_ms,
               escalation, deadline_action, prediction, reasons,
               compression=None, refuse_if_no_convergence=False):
        """Assemble the frozen plan and its timing decision."""
        flags = tuple(f for f in plan_mod.TUNING_FLAGS if f in flags)
        post = plan_mod.POSTCOPY in flags
        connections = self.parallel_connections(context, post)
        if connections > 1:
            flags += (plan_mod.PARALLEL,)
            reasons.append(
                'link %s is faster than one connection fills: %d parallel '
                'connections' % (units.format_rate(outlook.bandwidth),
                                 connections))
        if compression and connections > 1:
            # QEMU's multifd channels cannot carry XBZRLE pages, and libvirt
            # refuses the pair: the connections are the bigger win on a
            # link this fast.
            reasons.append('no XBZRLE compression: it does not work with '
                           'parallel connections')
            compression = None
        if compression:
            flags += (plan_mod.COMPRESSED,)
        decision = timing.decide(context, prediction,
                                 refuse_if_no_convergence)
        steps = {}
        if plan_mod.AUTO_CONVERGE in flags:
            steps = dict(auto_converge_initial_pct=outlook.throttle_steps[0],
                         auto_converge_increment_pct=outlook.throttle_steps[1])
            reasons.append(
                'auto-converge throttle steps %d %% then +%d %% (%s); the '
                'guest\'s dirtying needs %.0f %% of its vCPUs (%s)' % (
                    outlook.throttle_steps[0], outlook.throttle_steps[1],
                    'QEMU\'s defaults'
                    if outlook.throttle_steps == THROTTLE_STEPS[0] else
                    'predicted to finish sooner than QEMU\'s 20/10',
                    outlook.dirty_cpu_share * 100,
                    'measured guest CPU load'
                    if context.guest_cpu_load is not None
                    else 'assumed: CPU load not measured'))
        return plan_mod.MigrationPlan(
            strategy=self.name,
            flags=flags,
            initial_downtime_ms=int(min(initial_downtime_ms,
                                        context.max_downtime_ms)),
            max_downtime_ms=context.max_downtime_ms,
            bandwidth_mib_s=self.bandwidth_mib_s(context),
            parallel_connections=connections,
            compression=compression,
            escalation=tuple(escalation),
            completion_deadline_s=outlook.deadline_s,
            deadline_action=deadline_action,
            max_pause_ms=(context.limits.max_pause_downtime_ms
                          if deadline_action == plan_mod.ACTION_PAUSE
                          else 0),
            timing=decision,
            prediction=prediction,
            reasons=tuple(reasons),
            inputs=context.inputs_summary(), **steps)
