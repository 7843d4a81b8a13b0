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

"""Payload fields built from a plan and the job's statistics."""

import json

from nova_migtuner.engine import escalation
from nova_migtuner.engine import measure
from nova_migtuner.engine import stats as stats_mod
from nova_migtuner.planning import context as ctx_mod
from nova_migtuner.planning import notification_schema as notif
from nova_migtuner.planning import payloads
from nova_migtuner.planning import planner
from nova_migtuner import units


GiB = units.GiB


def _plan(**overrides):
    values = dict(memory_bytes=2 * GiB, link_bandwidth=125e6,
                  limits=ctx_mod.AdminLimits(permit_post_copy=True))
    values.update(overrides)
    return planner.build_plan(ctx_mod.MigrationInputs(**values))


def _common():
    return dict(instance_uuid='u', migration_uuid='m', source_host='a',
                destination_host='b', tuned=True, strategy='balanced',
                flavor_name='m1.small')


def test_start_fields_validate():
    plan = _plan()
    fields = payloads.start_fields(plan, ['VIR_MIGRATE_LIVE'],
                                   measure.Measurement(memory_bytes=GiB),
                                   0.0, None)
    payload = notif.build(notif.START, **dict(_common(), **fields))
    assert payload['escalation'] == [s.to_dict() for s in plan.escalation]
    assert payload['initial_downtime_ms'] == plan.initial_downtime_ms
    json.dumps(payload)


def test_end_fields_prefer_destination_stats_over_samples():
    plan = _plan()
    sample = stats_mod.JobSample.from_job_stats(
        {'type': 2, 'memory_processed': 100, 'data_processed': 100,
         'memory_total': 2 * GiB, 'memory_iteration': 1,
         'time_elapsed': 1000}, taken_at=1.0)
    action = escalation.Action(kind='raise_downtime', reason='stalled',
                               elapsed_s=12.5, downtime_ms=300)
    fields = payloads.end_fields(
        plan=plan, flag_names=['VIR_MIGRATE_LIVE'], outcome='completed',
        completed_stats={'type': 3, 'downtime': 42, 'downtime_net': 40,
                         'data_processed': 3 * GiB,
                         'memory_processed': 2 * GiB,
                         'memory_total': 2 * GiB, 'memory_iteration': 5,
                         'time_elapsed': 20500},
        samples=[sample], applied=[(action, True, None)],
        final_downtime_ms=300, wall_seconds=25.0, waited_s=0.0,
        fallback_reason=None, post_copy=False)
    payload = notif.build(notif.END, **dict(_common(), **fields))
    assert payload['downtime_ms'] == 42
    assert payload['data_bytes_transferred'] == 3 * GiB
    assert payload['iterations'] == 5
    assert payload['total_time_s'] == 20.5
    assert payload['stats_source'] == 'destination'
    assert payload['escalations_taken'] == 1
    assert payload['escalations'][0]['downtime_ms'] == 300
    assert payload['final_max_downtime_ms'] == 300
    assert payload['predicted_bytes'] == plan.prediction.bytes


def test_end_fields_untuned_fall_back_to_the_last_sample():
    # A running job's 'downtime' is QEMU's expected downtime, never the
    # measured one: it must not be reported, tuned or not.
    sample = stats_mod.JobSample.from_job_stats(
        {'type': 2, 'memory_processed': 100, 'data_processed': 150,
         'memory_total': GiB, 'memory_iteration': 2, 'downtime': 4044},
        taken_at=1.0)
    fields = payloads.end_fields(
        plan=None, flag_names=['VIR_MIGRATE_LIVE'], outcome='failed',
        completed_stats=None, samples=[sample], applied=[],
        final_downtime_ms=None, wall_seconds=3.0, waited_s=0.0,
        fallback_reason='plan: RuntimeError: boom', post_copy=False)
    values = dict(_common(), tuned=False, strategy='stock', **fields)
    payload = notif.build(notif.END, **values)
    assert payload['data_bytes_transferred'] == 150
    assert payload['total_time_s'] == 3.0
    assert payload['downtime_ms'] is None
    assert payload['stats_source'] == 'source'
    assert payload['initial_downtime_ms'] is None


def test_end_fields_after_post_copy_take_the_sources_final_numbers():
    # After post-copy the destination keeps only {'type': 0}; the source's
    # job-completed event has the whole job, past the last poll.
    sample = stats_mod.JobSample.from_job_stats(
        {'type': 2, 'memory_processed': 100, 'data_processed': 150,
         'memory_total': GiB, 'memory_iteration': 2}, taken_at=1.0)
    announced = {'type': 3, 'time_elapsed': 4200, 'downtime': 43,
                 'data_processed': 330, 'memory_processed': 320,
                 'memory_iteration': 3}
    plan = _plan()
    fields = payloads.end_fields(
        plan=plan, flag_names=['VIR_MIGRATE_LIVE'], outcome='completed',
        completed_stats={'type': 0}, source_completed_stats=announced,
        samples=[sample], applied=[], final_downtime_ms=None,
        wall_seconds=5.0, waited_s=0.0, fallback_reason=None,
        post_copy=True)
    payload = notif.build(notif.END, **dict(_common(), **fields))
    assert payload['data_bytes_transferred'] == 330
    assert payload['downtime_ms'] == 43
    assert payload['total_time_s'] == 4.2
    assert payload['stats_source'] == 'source completed'
