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

import json

import pytest

from nova_migtuner.engine import escalation
from nova_migtuner.engine import report
from nova_migtuner.engine import stats
from nova_migtuner.planning import plan as P
from tests.engine.plans import make_plan

MiB = 1024 ** 2

DEST_COMPLETED = {
    'type': 3, 'time_elapsed': 8000, 'downtime': 100, 'downtime_net': 90,
    'data_processed': 329 * MiB, 'memory_processed': 328 * MiB,
    'memory_total': 256 * MiB, 'memory_iteration': 6,
    'memory_postcopy_requests': 0,
}
SOURCE_COMPLETED_AFTER_POSTCOPY = {
    'type': 3, 'time_elapsed': 6900, 'downtime': 3,
    'data_processed': 320 * MiB, 'memory_processed': 319 * MiB,
    'memory_total': 256 * MiB, 'memory_iteration': 2,
    'memory_postcopy_requests': 17,
}


def polled(n=3, throttle=None):
    return [stats.JobSample.from_job_stats(
        {'type': 2, 'time_elapsed': 1000 * (i + 1),
         'data_processed': 50 * MiB * (i + 1),
         'memory_processed': 50 * MiB * (i + 1), 'memory_iteration': i + 1,
         'auto_converge_throttle': throttle[i] if throttle else None},
        taken_at=float(i)) for i in range(n)]


def test_numbers_from_destination_completed_stats():
    plan = make_plan()
    r = report.report_from_stats(DEST_COMPLETED, polled(), plan, (),
                                 report.OUTCOME_COMPLETED, wall_seconds=9.5)
    assert r.completed and r.error is None
    assert r.total_seconds == 8.0
    assert r.downtime_ms == 100 and r.downtime_net_ms == 90
    assert r.data_bytes == 329 * MiB and r.memory_bytes == 328 * MiB
    assert r.iterations == 6 and r.samples == 3
    assert r.source_of('downtime_ms') == report.SOURCE_DEST_COMPLETED
    assert r.source_of('total_seconds') == report.SOURCE_DEST_COMPLETED
    # Prediction: 10 s, 300 MiB.
    assert r.total_seconds_error == pytest.approx(-0.2)
    assert r.bytes_error == pytest.approx(29 / 300)


def test_post_copy_quirk_falls_back_to_source_stats_and_says_so():
    plan = make_plan(flags=(P.LIVE, P.POSTCOPY))
    action = escalation.Action(kind=P.ACTION_POST_COPY, reason='stalled',
                               elapsed_s=5.0, step=0, iteration=2)
    r = report.report_from_stats(
        {'type': 0}, polled(), plan, [action], report.OUTCOME_COMPLETED,
        fallback_stats=SOURCE_COMPLETED_AFTER_POSTCOPY, wall_seconds=7.4)
    assert r.post_copy
    assert r.downtime_ms == 3 and r.postcopy_requests == 17
    assert r.total_seconds == 6.9
    assert r.source_of('downtime_ms') == report.SOURCE_SOURCE_COMPLETED
    assert r.source_of('data_bytes') == report.SOURCE_SOURCE_COMPLETED
    # Missing everywhere but in the samples? not here: downtime_net absent.
    assert r.downtime_net_ms is None
    assert r.source_of('downtime_net_ms') == report.SOURCE_NONE
    assert r.escalations[0]['kind'] == P.ACTION_POST_COPY
    assert r.escalations[0]['elapsed_s'] == 5.0


def test_no_completed_stats_uses_wall_clock_and_last_sample():
    plan = make_plan()
    zero = {'type': 3, 'time_elapsed': 0, 'data_processed': 0}
    r = report.report_from_stats(zero, polled(throttle=[None, 20, 30]),
                                 plan, (), report.OUTCOME_FAILED,
                                 error='connection reset',
                                 fallback_stats={'type': 0},
                                 wall_seconds=3.3)
    assert r.outcome == 'failed' and r.error == 'connection reset'
    assert r.total_seconds == 3.3
    assert r.source_of('total_seconds') == report.SOURCE_WALL_CLOCK
    assert r.data_bytes == 150 * MiB
    assert r.source_of('data_bytes') == report.SOURCE_LAST_SAMPLE
    assert r.downtime_ms is None
    assert r.auto_converge_throttle == 30


def test_nothing_at_all():
    r = report.report_from_stats(None, [], make_plan(), (),
                                 report.OUTCOME_ABORTED)
    assert r.total_seconds is None and r.data_bytes is None
    assert r.samples == 0
    assert dict(r.sources) == {'final_downtime_ms': report.SOURCE_PLAN}
    assert r.final_downtime_ms == 100


def test_final_downtime_from_escalations_and_to_dict_is_json():
    plan = make_plan(initial_downtime_ms=100)
    actions = [escalation.Action(kind=P.ACTION_RAISE_DOWNTIME, reason='x',
                                 elapsed_s=t, downtime_ms=d)
               for t, d in ((4.0, 300), (8.0, 500))]
    r = report.report_from_stats(DEST_COMPLETED, [], plan, actions,
                                 report.OUTCOME_COMPLETED)
    assert r.final_downtime_ms == 500 and not r.post_copy
    d = r.to_dict()
    json.dumps(d)
    for key in ('outcome', 'error', 'downtime_ms', 'downtime_net_ms',
                'data_bytes', 'memory_bytes', 'memory_total', 'iterations',
                'postcopy_requests', 'total_seconds',
                'auto_converge_throttle', 'strategy', 'flags',
                'initial_downtime_ms', 'final_downtime_ms', 'escalations',
                'predicted_total_seconds', 'predicted_bytes',
                'predicted_downtime_ms', 'samples', 'sources',
                'total_seconds_error'):
        assert key in d
    assert d['sources']['downtime_ms'] == report.SOURCE_DEST_COMPLETED
    assert [e['downtime_ms'] for e in d['escalations']] == [300, 500]


def test_unknown_outcome_rejected():
    with pytest.raises(ValueError):
        report.report_from_stats(None, [], make_plan(), (), 'done')


def test_expected_downtime_of_a_running_job_is_not_reported_as_measured():
    running = stats.JobSample.from_job_stats(
        {'type': 2, 'time_elapsed': 6500, 'downtime': 4044,
         'data_processed': 200 * MiB}, taken_at=6.5)
    r = report.report_from_stats({'type': 0}, [running], make_plan(), (),
                                 report.OUTCOME_ABORTED)
    assert r.downtime_ms is None
    assert r.data_bytes == 200 * MiB
