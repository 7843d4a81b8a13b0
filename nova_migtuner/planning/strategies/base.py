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
from typing import Optional

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

    def outlook(self, context):
        dirty = self.dirty_rate(context)
        bandwidth = context.effective_bandwidth
        deadline = self.deadline(context)
        common = dict(memory=context.memory_bytes, dirty_rate=dirty,
                      bandwidth=bandwidth, touched=context.touched,
                      working_set=context.working_set)
        cap_s = context.max_downtime_ms / 1000.0
        precopy = model.predict_precopy(downtime_limit=cap_s,
                                        time_limit=deadline, **common)
        auto = None
        if context.auto_converge_permitted:
            auto = model.predict_precopy(downtime_limit=cap_s,
                                         auto_converge=True,
                                         time_limit=deadline, **common)
        post = None
        if context.post_copy_permitted:
            post = model.predict_postcopy(**common)
        paused = model.predict_paused(context.memory_bytes, bandwidth,
                                      touched=context.touched)
        return Outlook(dirty_rate=dirty, bandwidth=bandwidth,
                       precopy_at_cap=precopy, auto_converge=auto,
                       post_copy=post, paused=paused, deadline_s=deadline)

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
        if compression:
            flags += (plan_mod.COMPRESSED,)
        decision = timing.decide(context, prediction,
                                 refuse_if_no_convergence)
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
            inputs=context.inputs_summary())
