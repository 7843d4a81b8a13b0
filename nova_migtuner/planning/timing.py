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

"""When to start a migration: now, after a bounded wait, or not at all.

A migration during peak load and two migrations of a
service close together are what breaks an SLA. A migration therefore waits
(at most ``max_deferral_s``) for the spacing since the instance's and the
host's last migration, and for a quieter moment when the host is busy or
the guest is predicted not to converge.
"""

from nova_migtuner.planning import plan as plan_mod


def _spacing_left(since, spacing):
    if since is None or spacing <= 0:
        return 0.0
    return max(0.0, spacing - since)


def decide(context, prediction, refuse_if_no_convergence=False):
    """Return a ``TimingDecision`` for a context and the chosen prediction.

    :param prediction: what the plan is predicted to do; a plan that is not
        predicted to complete prefers a quieter window.
    :param refuse_if_no_convergence: refuse rather than start a migration
        predicted not to complete when no quieter window can be waited for.
    """
    limits = context.limits
    max_wait = float(limits.max_deferral_s)
    instance_left = _spacing_left(context.seconds_since_instance_migration,
                                  limits.instance_spacing_s)
    host_left = _spacing_left(context.seconds_since_host_migration,
                              limits.host_spacing_s)
    spacing_left = max(instance_left, host_left)
    if spacing_left > 0:
        which = ('instance' if instance_left >= host_left else 'host')
        setting = ('instance_spacing_s %d s' % limits.instance_spacing_s
                   if which == 'instance'
                   else 'host_spacing_s %d s' % limits.host_spacing_s)
        if spacing_left > max_wait:
            return plan_mod.TimingDecision(
                action=plan_mod.TIMING_REFUSE,
                reason='the %s migrated too recently: %.0f s of %s left, '
                       'more than max_deferral_s %d s'
                       % (which, spacing_left, setting,
                          limits.max_deferral_s))
        return plan_mod.TimingDecision(
            action=plan_mod.TIMING_WAIT, max_wait_seconds=spacing_left,
            wait_for=plan_mod.WAIT_FOR_SPACING,
            reason='the %s migrated recently: wait %.0f s (%s)'
                   % (which, spacing_left, setting))

    busy = (context.source_host_load is not None and
            context.source_host_load > limits.busy_host_cpu_load)
    converges = prediction.converges
    if not busy and converges:
        return plan_mod.TimingDecision(
            reason='host not busy and migration predicted to complete')
    why = []
    if busy:
        why.append('source host CPU load %.0f %% above busy_host_cpu_load '
                   '%.0f %%' % (context.source_host_load * 100,
                                limits.busy_host_cpu_load * 100))
    if not converges:
        why.append('predicted not to complete with the permitted methods')
    why = ' and '.join(why)
    if max_wait > 0:
        return plan_mod.TimingDecision(
            action=plan_mod.TIMING_WAIT, max_wait_seconds=max_wait,
            wait_for=plan_mod.WAIT_FOR_QUIET,
            reason='%s: wait up to %d s for a quieter moment'
                   % (why, limits.max_deferral_s))
    if refuse_if_no_convergence and not converges:
        return plan_mod.TimingDecision(
            action=plan_mod.TIMING_REFUSE,
            reason='%s and max_deferral_s is 0' % why)
    return plan_mod.TimingDecision(
        reason='%s, but max_deferral_s is 0: start now, the escalation '
               'ladder and deadline bound it' % why)
