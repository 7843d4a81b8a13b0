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

"""Notifications never block nova's monitor, even with a broker down."""

import threading
import time

from nova import rpc
import pytest

from nova_migtuner.nova import notifications
from nova_migtuner.nova import session as session_mod
from nova_migtuner.planning import plan as P
from tests.engine.plans import make_plan
from tests.unit.nova import fakes

# The longest a monitor poll may take with a hanging broker (s).
BOUND_S = 1.0


class HangingNotifier:
    """A versioned notifier whose sends block until released.

    As with a broker that does not answer: oslo.messaging retries forever
    by default.
    """

    def __init__(self):
        self.release = threading.Event()
        self.sent = []
        self.retry = None

    def prepare(self, publisher_id=None, retry=None):
        self.retry = retry
        return self

    def is_enabled(self):
        return True

    def _send(self, ctxt, event_type, payload):
        self.release.wait(30)
        self.sent.append(event_type)

    info = error = _send


@pytest.fixture
def hanging(monkeypatch):
    notifier = HangingNotifier()
    monkeypatch.setattr(rpc, 'NOTIFIER', notifier)
    monkeypatch.setattr(rpc, 'get_versioned_notifier',
                        lambda publisher_id: notifier)
    monkeypatch.setattr(notifications, '_versioned_enabled', lambda: True)
    yield notifier
    notifier.release.set()


def within_bound(func, *args):
    """Run *func*; True if it returned within ``BOUND_S``."""
    done = threading.Event()

    def call():
        func(*args)
        done.set()

    threading.Thread(target=call, daemon=True).start()
    return done.wait(BOUND_S)


def test_emit_returns_while_the_broker_hangs(hanging):
    assert within_bound(notifications.emit, None, 'src', 'start',
                        {'x': 1})
    hanging.release.set()
    deadline = time.monotonic() + 5
    while not hanging.sent and time.monotonic() < deadline:
        time.sleep(0.05)
    assert hanging.sent == ['migtuner.live_migration.start']


def test_monitor_poll_that_escalates_returns_while_the_broker_hangs(
        hanging):
    # Every poll past 1 s raises the downtime: each sends ``.escalated``.
    plan = make_plan(deadline_s=600, escalation=tuple(
        P.EscalationStep(P.TRIGGER_ELAPSED, t, P.ACTION_RAISE_DOWNTIME,
                         downtime_ms=100 + 50 * t) for t in (1, 2, 3)))
    clock = fakes.Clock()
    s = fakes.make_session(clock=clock)
    s.arm(plan)
    domain = session_mod.TunedDomain(fakes.Domain(), s)
    domain._mt_domain.jobStats = lambda flags=0: fakes.job(
        processed=int(clock.now * 1024 ** 2))
    for t in (0.0, 1.0, 2.0, 3.0):
        clock.now = t
        assert within_bound(domain.jobStats), 'poll at %s s blocked' % t
