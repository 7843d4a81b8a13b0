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

"""Never post-copy, never pause: abort rather than risk the guest."""

from nova_migtuner.planning import plan as P
from nova_migtuner.planning.strategies import base
from nova_migtuner import units


class ConservativeStrategy(base.Strategy):
    name = 'conservative'
    intent = ('never post-copy and never pause; auto-converge where '
              'permitted; refuse what is predicted not to converge')

    def build(self, context):
        o = self.outlook(context)
        cap = context.max_downtime_ms
        reasons = self.describe_outlook(context, o)
        initial = min(cap, max(base.MIN_INITIAL_DOWNTIME_MS, cap // 4))
        flags = {P.LIVE}
        prediction = o.precopy_at_cap
        if context.auto_converge_permitted:
            flags.add(P.AUTO_CONVERGE)
            prediction = o.auto_converge
        reasons.append('post-copy and pausing are never used by this '
                       'strategy: a failure cannot lose the guest')
        reasons.append('predicted %s' % (
            'to complete in %s' % units.format_seconds(
                prediction.total_seconds)
            if prediction.converges else 'not to converge'))
        escalation = self.downtime_ladder(
            context, initial, 3, context.limits.stall_window_s,
            'stalled: raise the downtime towards the cap')
        return self.finish(
            context, o, flags=flags, initial_downtime_ms=initial,
            escalation=escalation,
            deadline_action=P.ACTION_ABORT,
            prediction=prediction, reasons=reasons,
            refuse_if_no_convergence=True)
