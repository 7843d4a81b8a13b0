"""Shortest total time: post-copy after the first pass where permitted."""

from nova_migtuner import plan as P
from nova_migtuner.strategies import base
from nova_migtuner import units

# Pre-copy is safer than post-copy (a failure during post-copy loses the
# guest): keep pre-copy unless post-copy is clearly faster.
POST_COPY_GAIN = 1.1


class FastestStrategy(base.Strategy):
    name = 'fastest'
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
        if post is not None and (
                not o.fits_deadline(pre) or
                pre.total_seconds > POST_COPY_GAIN * post.total_seconds):
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
