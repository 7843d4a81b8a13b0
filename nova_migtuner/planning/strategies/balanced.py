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

"""The default: live pre-copy, escalated step by step, never unbounded."""

from oslo_config import cfg

from nova_migtuner.planning import plan as P
from nova_migtuner.planning.strategies import base
from nova_migtuner import units

CONFIG_OPTS = (
    cfg.IntOpt(
        'max_comfortable_rounds',
        default=30,
        min=1,
        max=1000,
        help="""
Most pre-copy rounds at which a starting max downtime is worth it: a
downtime needing more rounds is not chosen to start with, because every
round re-sends the working set.
"""),
    cfg.FloatOpt(
        'auto_converge_tolerance',
        default=3.0,
        min=1.0,
        max=100.0,
        help="""
How many times longer than post-copy a throttled (auto-converge) migration
may take before post-copy, where permitted, is preferred: auto-converge
slows the guest for the whole migration.
"""),
)


class BalancedStrategy(base.Strategy):
    name = 'balanced'
    CONFIG_OPTS = CONFIG_OPTS
    intent = ('live pre-copy with the smallest downtime that converges, '
              'raised step by step; auto-converge for busy guests; '
              'post-copy only when permitted and stalled')

    def build(self, context):
        o = self.outlook(context)
        cap = context.max_downtime_ms
        stall = context.limits.stall_window_s
        reasons = self.describe_outlook(context, o)
        flags = {P.LIVE}
        ratio = o.dirty_rate / o.bandwidth
        use_auto = context.auto_converge_permitted and (
            ratio >= 0.5 or not o.precopy_converges)
        if use_auto:
            flags.add(P.AUTO_CONVERGE)
            reasons.append('auto-converge armed: QEMU throttles the guest '
                           'only if rounds stop shrinking')
        if context.post_copy_permitted:
            flags.add(P.POSTCOPY)

        initial, prediction = self._smallest_converging(context, o,
                                                        use_auto)
        escalation = []
        if prediction is not None:
            reasons.append(
                'start at %d ms downtime: converges in %d rounds, predicted '
                '%s' % (initial, prediction.rounds,
                        units.format_seconds(prediction.total_seconds)))
            escalation += self.downtime_ladder(
                context, initial, 2, stall,
                'stalled: accept a longer switch-over, up to the cap')
        else:
            initial = cap
            auto, post = o.auto_converge, o.post_copy
            tolerance = self.config.auto_converge_tolerance
            if (o.fits_deadline(auto) and
                    (post is None or auto.total_seconds <=
                     tolerance * post.total_seconds)):
                prediction = auto
                reasons.append(
                    'auto-converge throttles up to %.0f %%: predicted %s, %s'
                    % (auto.max_throttle * 100,
                       units.format_seconds(auto.total_seconds),
                       units.format_size(auto.bytes)))
            elif post is not None:
                prediction = post
                reasons.append(
                    'post-copy permitted -> switch after the first pass, '
                    'predicted %s, %s' % (
                        units.format_seconds(post.total_seconds),
                        units.format_size(post.bytes)))
                escalation.append(P.EscalationStep(
                    P.TRIGGER_ITERATION, 2, P.ACTION_POST_COPY,
                    reason='first pass done, pre-copy cannot converge'))
            else:
                prediction = auto if auto is not None else o.precopy_at_cap
                reasons.append('no permitted method is predicted to '
                               'complete within the %.0f s deadline'
                               % o.deadline_s)
        if context.post_copy_permitted and not any(
                s.action == P.ACTION_POST_COPY for s in escalation):
            escalation.append(P.EscalationStep(
                P.TRIGGER_STALLED, stall, P.ACTION_POST_COPY,
                reason='still stalled at the downtime cap'))
        return self.finish(
            context, o, flags=flags, initial_downtime_ms=initial,
            escalation=escalation,
            deadline_action=self.deadline_action(context, o, prediction),
            prediction=prediction, reasons=reasons)

    def _smallest_converging(self, context, o, auto_converge=False):
        """The smallest starting downtime that converges, predicted as
        QEMU will run it: with auto-converge when the plan arms it.
        """
        cap = context.max_downtime_ms
        candidates = sorted({min(cap, max(base.MIN_INITIAL_DOWNTIME_MS, v))
                             for v in (cap // 10, cap // 4, cap // 2, cap)})
        for downtime_ms in candidates:
            p = self.predict_precopy(context, o, downtime_ms, auto_converge,
                                     time_limit=o.deadline_s)
            if (o.fits_deadline(p) and
                    p.rounds <= self.config.max_comfortable_rounds and
                    self._throttle_tolerable(o, p)):
                return downtime_ms, p
        return cap, None

    def _throttle_tolerable(self, o, p):
        """A prediction that throttles the guest must not take more than
        ``auto_converge_tolerance`` times post-copy, where permitted.
        """
        if not p.max_throttle or o.post_copy is None:
            return True
        return (p.total_seconds <=
                self.config.auto_converge_tolerance *
                o.post_copy.total_seconds)
