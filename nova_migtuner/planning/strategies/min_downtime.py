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

"""Smallest pause first: throttle the guest or post-copy, not longer pauses."""

from oslo_config import cfg

from nova_migtuner.planning import model
from nova_migtuner.planning import plan as P
from nova_migtuner.planning.strategies import base
from nova_migtuner import units

CONFIG_OPTS = (
    cfg.FloatOpt(
        'compression_max_host_load',
        default=0.5,
        min=0.0,
        max=1.0,
        help="""
Highest source host CPU load (0..1) at which XBZRLE compression is used,
where permitted: compression costs CPU on both hosts.
"""),
)


class MinDowntimeStrategy(base.Strategy):
    name = 'min_downtime'
    CONFIG_OPTS = CONFIG_OPTS
    intent = ('smallest switch-over pause: small downtime limit, '
              'auto-converge early, post-copy before raising the downtime')

    def build(self, context):
        o = self.outlook(context)
        cap = context.max_downtime_ms
        stall = context.limits.stall_window_s
        reasons = self.describe_outlook(context, o)
        initial = min(cap, max(base.MIN_INITIAL_DOWNTIME_MS, cap // 5))
        flags = {P.LIVE}
        auto = context.auto_converge_permitted
        if auto:
            flags.add(P.AUTO_CONVERGE)
            reasons.append('auto-converge armed: throttling the guest is '
                           'preferred to a longer pause')
        prediction = self.predict_precopy(context, o, initial, auto,
                                          time_limit=o.deadline_s)
        escalation = []
        if context.post_copy_permitted:
            flags.add(P.POSTCOPY)
            escalation.append(P.EscalationStep(
                P.TRIGGER_STALLED, stall, P.ACTION_POST_COPY,
                reason='post-copy pauses the guest for ~%.0f ms only'
                       % (model.POST_COPY_SWITCH_SECONDS * 1000)))
            if not prediction.converges:
                prediction = o.post_copy
        escalation += self.downtime_ladder(
            context, initial, 4, stall,
            'stalled: raise the pause slowly, in quarter steps')
        reasons.append('start at %d ms downtime (a fifth of the %d ms cap): '
                       'predicted %s' % (
                           initial, cap,
                           'to converge in %s' % units.format_seconds(
                               prediction.total_seconds)
                           if prediction.converges else
                           'not to converge there'))
        compression = None
        host_load = context.source_host_load
        if (context.limits.permit_compression and host_load is not None and
                host_load < self.config.compression_max_host_load and
                o.dirty_rate >= 0.25 * o.bandwidth):
            compression = P.COMPRESSION_XBZRLE
            reasons.append('XBZRLE compression: source host load %.0f %% '
                           'leaves CPU for it, and re-sent pages shrink'
                           % (host_load * 100))
        return self.finish(
            context, o, flags=flags, initial_downtime_ms=initial,
            escalation=escalation,
            deadline_action=self.deadline_action(context, o, prediction,
                                                 pause=False),
            prediction=prediction, reasons=reasons, compression=compression)
