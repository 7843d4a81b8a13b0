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

"""Host spacing reserved atomically; the link shared by migrations in
flight."""

import threading
import time
import types

from oslo_config import fixture as config_fixture
import pytest

import nova.conf
from nova_migtuner.nova import flow
from nova_migtuner.nova import host_state as host_state_mod
from nova_migtuner.nova import ops as ops_mod
from nova_migtuner.planning import inputs
from nova_migtuner.planning import notification_schema as notif


class _Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_reservation_checks_and_records_in_one_step():
    clock = _Clock()
    state = host_state_mod.HostState(clock)
    assert state.reserve_start('a', spacing_s=30) == 0.0
    clock.now += 10
    assert state.reserve_start('b', spacing_s=30) == pytest.approx(20.0)
    assert state.in_flight() == 1
    clock.now += 20
    assert state.reserve_start('b', spacing_s=30) == 0.0
    assert state.in_flight() == 2 and state.in_flight(exclude='a') == 1


def test_a_reservation_never_used_is_given_back():
    clock = _Clock()
    state = host_state_mod.HostState(clock)
    state.reserve_start('a', spacing_s=30)
    clock.now += 40
    state.reserve_start('b', spacing_s=30)
    state.end('b', started=False)
    # The spacing counts from a's start again, not from b's reservation.
    assert state.since_last_start() == pytest.approx(40.0)
    assert state.in_flight() == 1


@pytest.fixture
def conf():
    fixture = config_fixture.Config(nova.conf.CONF)
    fixture.setUp()
    import nova_migtuner.conf  # noqa: F401  (registers [migtuner])
    yield fixture
    fixture.cleanUp()


def _session(uuid):
    sent = []
    return types.SimpleNamespace(
        instance_uuid=uuid, instance=None, fallback_reason=None,
        start_requested=False, abort_requested=False,
        wake=threading.Event(), clock=time.monotonic,
        plan_fields=lambda plan: dict(tuned=True, strategy='balanced'),
        notify=lambda event, **fields: sent.append((event, fields)),
        sent=sent)


def _go(tuned=True):
    """The timing task's decision to start (a plan: tuned)."""
    return flow.Timing(flow.GO, plan=object() if tuned else None)


def _reserve(ops, s, tuned=True):
    return ops.reserve_start(s, _go(tuned))


def test_concurrent_starts_keep_the_host_spacing(conf):
    conf.config(host_spacing_s=60, max_deferral_s=0, group='migtuner')
    ops = ops_mod.NovaOps(driver=None, parent_live_migration=None)
    sessions = [_session('u%d' % i) for i in range(8)]
    barrier = threading.Barrier(len(sessions))
    results = {}

    def start(s):
        barrier.wait()
        results[s.instance_uuid] = _reserve(ops, s)

    threads = [threading.Thread(target=start, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    actions = sorted(t.action for t in results.values())
    assert actions == [flow.REFUSED] * 7 + [flow.GO]
    refused = [t for t in results.values() if t.action == flow.REFUSED]
    assert 'host_spacing_s 60 s' in refused[0].reason


def test_a_start_waits_for_the_spacing_within_the_deferral(conf):
    conf.config(host_spacing_s=1, max_deferral_s=30, group='migtuner')
    ops = ops_mod.NovaOps(driver=None, parent_live_migration=None)
    assert _reserve(ops, _session('a')).action == flow.GO
    began = time.monotonic()
    second = _reserve(ops, _session('b'))
    assert second.action == flow.GO
    assert time.monotonic() - began >= 0.9
    assert second.waited_s >= 0.9


def test_a_wait_for_the_host_spacing_is_notified_as_deferred(conf):
    conf.config(host_spacing_s=1, max_deferral_s=30, group='migtuner')
    ops = ops_mod.NovaOps(driver=None, parent_live_migration=None)
    first, second = _session('a'), _session('b')
    assert _reserve(ops, first).action == flow.GO
    assert _reserve(ops, second).action == flow.GO
    assert first.sent == []
    [(event, fields)] = second.sent
    assert event == notif.DEFERRED
    assert fields['wait_for'] == 'spacing'
    assert 0 < fields['max_wait_s'] <= 1
    assert 'host_spacing_s 1 s' in fields['reason']
    assert fields['tuned'] and fields['strategy'] == 'balanced'


def test_untuned_migrations_never_wait(conf):
    conf.config(host_spacing_s=60, max_deferral_s=0, group='migtuner')
    ops = ops_mod.NovaOps(driver=None, parent_live_migration=None)
    assert _reserve(ops, _session('a')).action == flow.GO
    assert _reserve(ops, _session('b'), tuned=False).action == flow.GO


def test_plans_divide_the_link_among_migrations_in_flight():
    link = inputs.given(1.25e9)
    assert inputs.share_of_link(link, 0) is link
    third = inputs.share_of_link(link, 2)
    assert third.value == pytest.approx(1.25e9 / 3)
    assert third.provenance == inputs.GIVEN


def test_a_shared_rate_is_not_stored_as_the_link_rate():
    state = host_state_mod.HostState(_Clock())
    payload = {'outcome': notif.OUTCOME_COMPLETED,
               'data_bytes_transferred': 10e9, 'total_time_s': 20.0}
    state.reserve_start('a')
    state.reserve_start('b')
    assert state.shared_link('a') and state.shared_link('b')
    state.note_end(payload, shared_link=state.shared_link('a'))
    assert state.observed_bandwidth is None
    state.end('a')
    state.end('b')
    state.reserve_start('c')
    assert not state.shared_link('c')
    state.note_end(payload, shared_link=state.shared_link('c'))
    assert state.observed_bandwidth == pytest.approx(0.5e9)


def test_forget_gives_back_only_a_reservation_nova_never_used(conf):
    conf.config(host_spacing_s=60, max_deferral_s=0, group='migtuner')
    ops = ops_mod.NovaOps(driver=None, parent_live_migration=None)
    unused = _session('a')
    unused.armed = False
    assert _reserve(ops, unused).action == flow.GO
    ops.forget(unused)
    # The spacing counts from the start before it: none.
    started = _session('b')
    started.armed = True
    assert _reserve(ops, started).action == flow.GO
    ops.forget(started)
    assert _reserve(ops, _session('c')).action == flow.REFUSED
