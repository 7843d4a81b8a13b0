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

"""The per-migration flow with fake nova operations (no nova services)."""

import dataclasses

import pytest

from nova_migtuner.engine import measure
from nova_migtuner.nova import flow
from nova_migtuner.nova import notifications
from nova_migtuner.planning import notification_schema as notif
from nova_migtuner.planning import plan as P
from tests.engine.plans import make_plan
from tests.unit.nova import fakes


class Ops:
    """The operations the flow's tasks call, recorded."""

    enabled = True
    report_untuned = True
    max_deferral_s = 0

    def __init__(self, plan=None, recover_error=None, nova_error=None,
                 nova_status='completed', spacing=None):
        self._plan = plan or make_plan()
        # What host spacing makes of the timing task's decision.
        self.spacing = spacing or {}
        self.recover_error = recover_error
        self.nova_error = nova_error
        self.nova_status = nova_status
        self.calls = []

    def measure(self, s, *args):
        self.calls.append('measure')
        return measure.Measurement(memory_bytes=2048 * 1024 ** 2)

    def take_operator_strategy(self, s):
        return None

    def plan(self, s, *args):
        self.calls.append('plan')
        return self._plan

    def recover(self, s, status):
        self.calls.append(('recover', status))
        if self.recover_error is not None:
            raise self.recover_error

    def reserve_start(self, s, timing):
        self.calls.append('reserve_start')
        return dataclasses.replace(timing, **self.spacing)

    def run_nova(self, s):
        self.calls.append('run_nova')
        if self.nova_error is not None:
            s.migration.status = 'error'
            raise self.nova_error
        s.migration.status = self.nova_status

    def destination_stats(self, s):
        return None

    def note_end(self, s, payload):
        self.calls.append('note_end')


@pytest.fixture
def emitted(monkeypatch):
    recorder = fakes.Emitted()
    monkeypatch.setattr(notifications, 'emit', recorder)
    return recorder


def test_completed_migration_notifies_start_and_end(emitted):
    s = fakes.make_session()
    ops = Ops()
    flow.run(s, ops)
    assert ops.calls == ['measure', 'plan', 'reserve_start', 'run_nova',
                         'note_end']
    assert emitted.events() == [notif.START, notif.END]
    assert emitted.last(notif.END)['outcome'] == 'completed'
    assert emitted.last(notif.END)['tuned']


def test_abort_whose_rollback_raises_never_starts_nova(emitted):
    s = fakes.make_session()
    assert s.request_abort()
    ops = Ops(recover_error=RuntimeError('rollback broke'))
    with pytest.raises(RuntimeError, match='rollback broke'):
        flow.run(s, ops)
    assert 'run_nova' not in ops.calls
    assert ('recover', 'cancelled') in ops.calls


def test_refusal_whose_rollback_raises_never_starts_nova(emitted):
    refuse = P.TimingDecision(action=P.TIMING_REFUSE, reason='too busy')
    plan = make_plan()
    plan = type(plan)(**dict(plan.__dict__, timing=refuse))
    s = fakes.make_session()
    ops = Ops(plan=plan, recover_error=RuntimeError('rollback broke'))
    with pytest.raises(RuntimeError, match='rollback broke'):
        flow.run(s, ops)
    assert 'run_nova' not in ops.calls
    assert ('recover', 'failed') in ops.calls


def test_migration_that_raises_still_notifies_end(emitted):
    s = fakes.make_session()
    error = RuntimeError('destination QEMU killed')
    ops = Ops(nova_error=error)
    with pytest.raises(RuntimeError) as raised:
        flow.run(s, ops)
    assert raised.value is error
    assert emitted.events() == [notif.START, notif.ERROR, notif.END]
    end = emitted.last(notif.END)
    assert end['outcome'] == 'error'
    assert notif.validate(notif.END, end) == []


HOST_SPACING_REFUSAL = ('another migration started from this host: 40 s of '
                        'host_spacing_s 60 s left, more than the 2 s left '
                        'of max_deferral_s')


def test_host_spacing_refusal_says_why_in_end_and_the_action_event(emitted):
    s = fakes.make_session()
    ops = Ops(spacing=dict(action=flow.REFUSED, waited_s=2.5,
                           reason=HOST_SPACING_REFUSAL))
    endings = []
    flow.run(s, ops, on_end=endings.append)
    assert 'run_nova' not in ops.calls
    assert ('recover', 'failed') in ops.calls
    end = emitted.last(notif.END)
    assert end['outcome'] == notif.OUTCOME_REFUSED
    assert end['fallback_reason'] == HOST_SPACING_REFUSAL
    assert end['waited_s'] == 2.5
    assert notif.validate(notif.END, end) == []
    assert endings == [flow.Ending(notif.OUTCOME_REFUSED,
                                   HOST_SPACING_REFUSAL)]


def test_plan_refusal_says_why_in_end(emitted):
    refuse = P.TimingDecision(action=P.TIMING_REFUSE, reason='too busy')
    plan = make_plan()
    plan = type(plan)(**dict(plan.__dict__, timing=refuse))
    s = fakes.make_session()
    endings = []
    flow.run(s, Ops(plan=plan), on_end=endings.append)
    end = emitted.last(notif.END)
    assert end['outcome'] == notif.OUTCOME_REFUSED
    assert end['fallback_reason'] == 'too busy'
    assert endings == [flow.Ending(notif.OUTCOME_REFUSED, 'too busy')]


def test_wait_for_host_spacing_counts_in_end(emitted):
    s = fakes.make_session()
    flow.run(s, Ops(spacing=dict(waited_s=3.0)))
    assert emitted.last(notif.START)['waited_s'] == 3.0
    end = emitted.last(notif.END)
    assert end['outcome'] == 'completed'
    assert end['waited_s'] == 3.0
    assert end['fallback_reason'] is None


def test_migration_that_raises_after_waiting_for_host_spacing(emitted):
    s = fakes.make_session()
    ops = Ops(nova_error=RuntimeError('link cut'),
              spacing=dict(waited_s=3.0))
    with pytest.raises(RuntimeError, match='link cut'):
        flow.run(s, ops)
    end = emitted.last(notif.END)
    assert end['outcome'] == 'error'
    assert end['waited_s'] == 3.0


class QuietWindowOps(Ops):
    """Waits once for a quiet window, then starts; re-measures in between."""

    max_deferral_s = 60

    def __init__(self):
        super().__init__()
        self.previous = []

    def measure(self, s, previous=None):
        self.calls.append('measure')
        self.previous.append(previous)
        return measure.Measurement(memory_bytes=2048 * 1024 ** 2,
                                   notes=('sample %d' % len(self.previous),))

    def plan(self, s, measurement, *args):
        self.calls.append('plan')
        plan = make_plan()
        if len(self.previous) > 1:
            return plan
        wait = P.TimingDecision(action=P.TIMING_WAIT, max_wait_seconds=30.0,
                                wait_for=P.WAIT_FOR_QUIET_WINDOW,
                                reason='a burst; next quiet window in 4 s')
        return type(plan)(**dict(plan.__dict__, timing=wait))


def test_waiting_for_a_quiet_window_re_measures_on_the_last_measurement(
        emitted):
    s = fakes.make_session()
    ops = QuietWindowOps()
    flow.run(s, ops)
    assert ops.calls[:4] == ['measure', 'plan', 'measure', 'plan']
    first, again = ops.previous
    assert first is None
    assert again is not None and again.notes == ('sample 1',)
    assert emitted.events() == [notif.DEFERRED, notif.START, notif.END]
    assert emitted.last(notif.DEFERRED)['wait_for'] == 'quiet-window'
