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

"""The bench's plans for nova's behaviour, from nova's own code."""

import libvirt
import pytest

from nova_migtuner.bench import methods
from nova_migtuner.bench import output
from nova_migtuner.bench import runs
from nova_migtuner.planning import plan as P
from nova_migtuner.testbed.heartbeat import HeartbeatSample

MiB = 1024 ** 2

pytest.importorskip('nova')


def test_stock_nova_flags_are_novas_defaults():
    flags = methods.nova_flags(libvirt)
    assert flags == (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER
                     | libvirt.VIR_MIGRATE_PERSIST_DEST |
                     libvirt.VIR_MIGRATE_UNDEFINE_SOURCE)
    tuning, base = methods.split_flags(flags, libvirt)
    assert tuning == (P.LIVE,)
    assert base == (libvirt.VIR_MIGRATE_PEER2PEER |
                    libvirt.VIR_MIGRATE_PERSIST_DEST)


def test_nova_prefers_post_copy_over_auto_converge():
    flags = methods.nova_flags(libvirt, permit_post_copy=True,
                               permit_auto_converge=True)
    assert flags & libvirt.VIR_MIGRATE_POSTCOPY
    assert not flags & libvirt.VIR_MIGRATE_AUTO_CONVERGE
    # Overrides do not leak into the next computation.
    assert not methods.nova_flags(libvirt) & libvirt.VIR_MIGRATE_POSTCOPY


def test_stock_plan_follows_novas_downtime_steps_and_caps_timeout():
    plan, base = methods.nova_plan(methods.STOCK, libvirt, 256 * MiB, 90.0,
                                   64 * MiB, 190 * MiB, 32)
    # nova 34 defaults: 500 ms in 10 steps, 75 s/GiB -> 18 s at 0.25 GiB.
    assert plan.initial_downtime_ms == 50
    assert [(s.threshold, s.downtime_ms) for s in plan.escalation] == [
        (18, 95), (36, 140), (54, 185), (72, 230)]
    # 800 s/GiB x 0.25 = 200 s, capped at 90 s; default action abort.
    assert plan.completion_deadline_s == 90.0
    assert plan.deadline_action == P.ACTION_ABORT
    assert plan.flags == (P.LIVE,)
    assert any('200 s' in r for r in plan.reasons)


def test_best_static_plan_force_completes_with_post_copy():
    plan, _ = methods.nova_plan(methods.NOVA_BEST, libvirt, 256 * MiB, 30.0,
                                64 * MiB, 190 * MiB, 32)
    assert plan.flags == (P.LIVE, P.POSTCOPY)
    assert plan.deadline_action == P.ACTION_POST_COPY
    assert plan.completion_deadline_s == 30.0
    assert [s.threshold for s in plan.escalation] == [18]


def test_migtuner_plan_is_the_planners_with_a_capped_deadline():
    plan, base = methods.migtuner_plan(libvirt, 256 * MiB, 30.0, 64 * MiB,
                                       190 * MiB, 32)
    assert plan.strategy == methods.MIGTUNER_STRATEGY
    assert plan.completion_deadline_s == 30.0
    assert plan.bandwidth_mib_s == 32
    assert P.POSTCOPY in plan.flags


def test_heartbeat_switch_gap_and_source_gaps():
    beats = ([HeartbeatSample(t / 100.0, 'a', t) for t in range(10)] +
             [HeartbeatSample(0.5, 'a', 99)] +
             [HeartbeatSample(0.09 + 0.25 + t / 100.0, 'b', 100 + t)
              for t in range(5)])
    # Source beats every 10 ms up to 0.09 s; the destination from 0.34 s.
    hb = runs.heartbeat_downtime(beats)
    assert hb['switch_gap_ms'] == pytest.approx(250)
    assert hb['longest_source_gap_ms'] == pytest.approx(10)
    assert hb['beats_dest'] == 5
    never = runs.heartbeat_downtime([HeartbeatSample(0.0, 'a', 1),
                                     HeartbeatSample(0.5, 'a', 2)])
    assert never['switch_gap_ms'] is None
    assert never['longest_source_gap_ms'] == pytest.approx(500)


def test_table_renders_a_row_per_case():
    case = {'workload': 'idle', 'method': methods.MIGTUNER,
            'heartbeat': {'switch_gap_ms': 61.0},
            'report': {'outcome': 'completed', 'total_seconds': 4.2,
                       'downtime_ms': 44, 'data_bytes': 119 * MiB,
                       'iterations': 3, 'auto_converge_throttle': None,
                       'escalations': [{'kind': 'post_copy',
                                        'elapsed_s': 6.1,
                                        'downtime_ms': None}],
                       'predicted_total_seconds': 4.0,
                       'total_seconds_error': 0.05}}
    text = output.table([case])
    lines = text.splitlines()
    assert len(lines) == 3
    assert 'postcopy@6s' in lines[2] and '+5%' in lines[2]
    assert '119' in lines[2] and '61' in lines[2]
