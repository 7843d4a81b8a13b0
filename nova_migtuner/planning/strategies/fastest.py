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

"""Shortest total time: post-copy after the first pass where permitted."""

from oslo_config import cfg

from nova_migtuner.planning import plan as P
from nova_migtuner.planning.strategies import base
from nova_migtuner import units

CONFIG_OPTS = (
    cfg.FloatOpt(
        'post_copy_gain',
        default=1.1,
        min=1.0,
        max=100.0,
        help="""
How many times longer than post-copy pre-copy must take before post-copy,
where permitted, is chosen: pre-copy is safer (a failure during post-copy
loses the guest).
"""),
)


class FastestStrategy(base.Strategy):
    name = 'fastest'
    CONFIG_OPTS = CONFIG_OPTS
    intent = ('shortest total time: the downtime cap from the start; '
              'post-copy after the first pass where permitted and faster')

    def build(self, context):
        o = self.outlook(context)
        cap = context.max_downtime_ms
        reasons = self.describe_outlook(context, o)
        flags = {P.LIVE}
        escalation = []
        pre = o.precopy_at_cap
        post = o.post_copy
        if context.auto_converge_permitted and not pre.converges:
            flags.add(P.AUTO_CONVERGE)
            pre = o.auto_converge
        gain = self.config.post_copy_gain
        if post is not None and (
                not o.fits_deadline(pre) or
                pre.total_seconds > gain * post.total_seconds):
            flags.add(P.POSTCOPY)
            prediction = post
            escalation.append(P.EscalationStep(
                P.TRIGGER_ITERATION, 2, P.ACTION_POST_COPY,
                reason='post-copy after the first pass: predicted %s '
                       'against %s for pre-copy' % (
                           units.format_seconds(post.total_seconds),
                           units.format_seconds(pre.total_seconds))))
        else:
            prediction = pre
            if post is not None:
                flags.add(P.POSTCOPY)
                escalation.append(P.EscalationStep(
                    P.TRIGGER_STALLED, context.limits.stall_window_s,
                    P.ACTION_POST_COPY,
                    reason='pre-copy stalled against its prediction'))
            reasons.append('pre-copy at the %d ms cap from the start: '
                           'predicted %s' % (
                               cap, units.format_seconds(
                                   prediction.total_seconds)
                               if prediction.converges
                               else 'not to converge'))
        return self.finish(
            context, o, flags=flags, initial_downtime_ms=cap,
            escalation=escalation,
            deadline_action=self.deadline_action(context, o, prediction),
            prediction=prediction, reasons=reasons)
