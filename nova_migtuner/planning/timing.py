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

A guest whose dirty rate comes in bursts is timed by a forecast instead of
"wait and look again": ``dirty_pattern.detect`` splits the dirty-rate
samples taken before the migration (``MigrationInputs.dirty_rate_samples``)
into bursts and quiet periods, and ``quiet_window`` starts the migration
when a quiet period long enough for it (the migration predicted at the
quiet rate, with a margin) has just begun, or waits for the next one when
it is forecast to begin within ``max_deferral_s``. A guest whose quiet
periods are too short, or whose next one is too far away, starts at once:
waiting would not make it cheaper.
"""

from nova_migtuner.planning import dirty_pattern
from nova_migtuner.planning import model
from nova_migtuner.planning import plan as plan_mod
from nova_migtuner import units

# A quiet period must last this much longer than the migration predicted in
# it (the prediction's error, and the dirty-rate sample that has to see the
# quiet period begin before the migration can start).
QUIET_MARGIN = 1.25


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
    if not busy and context.dirty_rate_samples:
        decision = forecast(context, max_wait)
        if decision is not None:
            return decision
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


def _sample_period(samples):
    return max(s.end_s - s.start_s for s in samples)


def quiet_migration_seconds(context, quiet_rate):
    """The migration's predicted time at *quiet_rate*, or None when it
    would not converge even then (quiet periods do not help).
    """
    p = model.predict_precopy(
        context.memory_bytes, quiet_rate, context.effective_bandwidth,
        context.max_downtime_ms / 1000.0, touched=context.touched,
        working_set=context.working_set)
    return p.total_seconds if p.converges else None


def forecast(context, max_wait_s):
    """The quiet-window decision for *context*'s samples, or None when
    its samples show no bursts (nothing to time against).
    """
    samples = context.dirty_rate_samples
    pattern = dirty_pattern.detect(samples, context.effective_bandwidth)
    if not pattern.bursty:
        return None
    migration_s = quiet_migration_seconds(context,
                                          pattern.mean_rate(
                                              dirty_pattern.QUIET))
    if migration_s is None:
        return None
    needed = migration_s * QUIET_MARGIN + _sample_period(samples)
    return quiet_window(pattern, needed, max_wait_s)


def quiet_window(pattern, needed_s, max_wait_s):
    """Start now, or wait for the next quiet period of at least *needed_s*.

    :param pattern: a bursty ``dirty_pattern.DirtyPattern``.
    :param needed_s: how long a quiet period must last for the migration.
    :param max_wait_s: the longest wait allowed (``max_deferral_s``).
    :returns: a ``TimingDecision``; a wait has ``wait_for``
        ``WAIT_FOR_QUIET_WINDOW`` and the forecast wait in
        ``expected_wait_seconds``.
    """
    quiet_s, quiet_exact = pattern.typical_quiet_s()
    burst_s, burst_exact = pattern.typical_burst_s()
    current = pattern.current
    seen = ('%s in the last %.0f s (quiet: at most %s)'
            % (pattern.describe(), pattern.window_s,
               units.format_rate(pattern.threshold)))
    growing = (not quiet_exact and current.kind == dirty_pattern.QUIET)
    if quiet_s < needed_s and not growing:
        return plan_mod.TimingDecision(
            reason='%s: no quiet period seen is as long as the %.0f s the '
                   'migration needs, so waiting would not help: start now'
                   % (seen, needed_s))
    if growing and quiet_s < needed_s:
        # The first quiet period seen whole may yet be long enough; the
        # next one is what the migration can count on.
        expected = max(0.0, needed_s - current.seconds) + (burst_s or 0.0)
        now_what = ('quiet for %.0f s so far, not yet known to last %.0f s'
                    % (current.seconds, needed_s))
    elif current.kind == dirty_pattern.QUIET:
        left = quiet_s - current.seconds
        if left >= needed_s:
            return plan_mod.TimingDecision(
                reason='%s: quiet for %.0f s, about %.0f s left, the '
                       'migration needs %.0f s: start now'
                       % (seen, current.seconds, left, needed_s))
        expected = max(0.0, left) + (burst_s or 0.0)
        now_what = ('this quiet period ends in about %.0f s, too soon'
                    % max(0.0, left))
    else:
        expected = max(0.0, burst_s - current.seconds)
        if not burst_exact:
            # Only a lower bound: the burst may go on past it.
            expected = max(expected, _sample_period_of(pattern))
        now_what = 'in a burst for %.0f s' % current.seconds
    if expected > max_wait_s:
        return plan_mod.TimingDecision(
            reason='%s: %s; the next quiet period is expected in %.0f s, '
                   'beyond max_deferral_s %.0f s: start now'
                   % (seen, now_what, expected, max_wait_s))
    return plan_mod.TimingDecision(
        action=plan_mod.TIMING_WAIT, max_wait_seconds=max_wait_s,
        wait_for=plan_mod.WAIT_FOR_QUIET_WINDOW,
        expected_wait_seconds=round(expected, 3),
        reason='%s: %s; the next quiet period (%s%.0f s, the migration '
               'needs %.0f s) is expected in about %.0f s: wait for it, at '
               'most max_deferral_s %.0f s'
               % (seen, now_what, '' if quiet_exact else '>= ', quiet_s,
                  needed_s, expected, max_wait_s))


def _sample_period_of(pattern):
    return min(p.seconds for p in pattern.periods)
