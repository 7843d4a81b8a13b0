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

"""Notification fields from a plan, a measurement and a report.

Pure: plain objects in, plain dicts out (``notifications.build`` checks
them against the declared fields).
"""

from nova_migtuner.engine import report as report_mod


def _round(value, digits=3):
    return None if value is None else round(float(value), digits)


def _int(value):
    return None if value is None else int(value)


def plan_fields(plan, flag_names):
    """Fields shared by ``.start`` and ``.end`` (nulls when untuned)."""
    if plan is None:
        return dict(flags=list(flag_names), initial_downtime_ms=None,
                    max_downtime_ms=None, bandwidth_mib_s=None,
                    parallel_connections=None, compression=None,
                    completion_deadline_s=None, deadline_action=None,
                    predicted_total_s=None, predicted_bytes=None,
                    predicted_downtime_ms=None, predicted_method=None)
    prediction = plan.prediction
    return dict(
        flags=list(flag_names),
        initial_downtime_ms=int(plan.initial_downtime_ms),
        max_downtime_ms=int(plan.max_downtime_ms),
        bandwidth_mib_s=int(plan.bandwidth_mib_s),
        parallel_connections=int(plan.parallel_connections),
        compression=plan.compression,
        completion_deadline_s=_round(plan.completion_deadline_s),
        deadline_action=plan.deadline_action,
        predicted_total_s=_round(prediction.total_seconds),
        predicted_bytes=_int(prediction.bytes),
        predicted_downtime_ms=_round(prediction.downtime_ms),
        predicted_method=prediction.method)


def measurement_fields(measurement):
    if measurement is None:
        return {'memory_bytes': None, 'touched_bytes': None,
                'dirty_rate_bytes_s': None, 'guest_cpu_load': None,
                'host_cpu_load': None, 'window_s': None, 'notes': []}
    return {'memory_bytes': measurement.memory_bytes,
            'touched_bytes': measurement.touched_bytes,
            'dirty_rate_bytes_s': _round(measurement.dirty_rate),
            'guest_cpu_load': _round(measurement.guest_cpu_load),
            'host_cpu_load': _round(measurement.host_cpu_load),
            'window_s': _round(measurement.window_s),
            'notes': list(measurement.notes)}


def start_fields(plan, flag_names, measurement, waited_s, fallback_reason):
    fields = plan_fields(plan, flag_names)
    if plan is not None:
        fields.update(
            escalation=[step.to_dict() for step in plan.escalation],
            inputs=list(plan.inputs), explain=list(plan.explain()),
            timing_action=plan.timing.action,
            timing_reason=plan.timing.reason)
    else:
        fields.update(escalation=[], inputs=[], explain=[],
                      timing_action=None, timing_reason=None)
    fields.update(measurement=measurement_fields(measurement),
                  waited_s=_round(waited_s), fallback_reason=fallback_reason)
    return fields


def end_fields(*, plan, flag_names, outcome, completed_stats, samples,
               applied, final_downtime_ms, wall_seconds, waited_s,
               fallback_reason, post_copy, error=None,
               guest_left_paused=False, source_completed_stats=None,
               post_copy_recovery=None, post_copy_recovery_attempts=None,
               longest_poll_gap_s=None):
    """Fields of ``.end``; the plan's report when tuned.

    :param completed_stats: the destination's completed job statistics.
    :param source_completed_stats: the statistics the source announced
        when the job completed, for whatever *completed_stats* lacks (all
        of it after post-copy).
    :param applied: ``engine.applier.AppliedAction`` (action, applied,
        error) tuples, in order.
    :param post_copy_recovery: ``recovered`` or ``split`` after a failed
        post-copy, else None; *post_copy_recovery_attempts* the resumes.
    :param longest_poll_gap_s: the longest time between two polls of the
        job by nova's monitor; None if it polled fewer than twice.
    """
    samples = list(samples)
    actions = [a for a, ok, _ in applied if ok]
    escalations = [{'action': a.kind, 'downtime_ms': a.downtime_ms,
                    'source': a.source, 'elapsed_s': round(a.elapsed_s, 3),
                    'reason': a.reason, 'applied': ok, 'error': err}
                   for a, ok, err in applied]
    if plan is not None:
        report = report_mod.report_from_stats(
            completed_stats, samples, plan, actions, outcome, error=error,
            fallback_stats=source_completed_stats,
            wall_seconds=wall_seconds, final_downtime_ms=final_downtime_ms,
            flags=tuple(flag_names), post_copy=post_copy)
        numbers = dict(
            downtime_ms=report.downtime_ms,
            downtime_net_ms=report.downtime_net_ms,
            data_bytes=report.data_bytes, memory_bytes=report.memory_bytes,
            memory_total=report.memory_total, iterations=report.iterations,
            postcopy_requests=report.postcopy_requests,
            total_seconds=report.total_seconds,
            auto_converge_throttle=report.auto_converge_throttle)
        sources = report.sources
    else:
        # Untuned: the same choice of numbers, without a plan to compare.
        measured = report_mod.measured_numbers(
            completed_stats, samples, fallback_stats=source_completed_stats,
            wall_seconds=wall_seconds)
        numbers = dict(measured.values,
                       total_seconds=measured.total_seconds,
                       auto_converge_throttle=measured.auto_converge_throttle)
        sources = measured.sources
    stats_source = ('destination' if dict(sources).get('downtime_ms') ==
                    report_mod.SOURCE_DEST_COMPLETED else
                    'source completed' if dict(sources).get(
                        'data_bytes') == report_mod.SOURCE_SOURCE_COMPLETED
                    else
                    'source' if samples else 'none')
    fields = plan_fields(plan, flag_names)
    fields.update(
        outcome=outcome,
        final_max_downtime_ms=_int(final_downtime_ms),
        escalations_taken=len(actions),
        escalations=escalations,
        post_copy=bool(post_copy),
        downtime_ms=_int(numbers['downtime_ms']),
        downtime_net_ms=_int(numbers['downtime_net_ms']),
        data_bytes_transferred=_int(numbers['data_bytes']),
        memory_bytes_transferred=_int(numbers['memory_bytes']),
        memory_total_bytes=_int(numbers['memory_total']),
        iterations=_int(numbers['iterations']),
        postcopy_requests=_int(numbers['postcopy_requests']),
        total_time_s=_round(numbers['total_seconds']),
        max_auto_converge_throttle=_int(numbers['auto_converge_throttle']),
        waited_s=_round(waited_s),
        stats_source=stats_source,
        fallback_reason=fallback_reason,
        guest_left_paused=bool(guest_left_paused),
        post_copy_recovery=post_copy_recovery,
        post_copy_recovery_attempts=(
            _int(post_copy_recovery_attempts) if post_copy_recovery
            else None),
        monitor_poll_gap_max_ms=(None if longest_poll_gap_s is None else
                                 _int(longest_poll_gap_s * 1000.0)))
    return fields
