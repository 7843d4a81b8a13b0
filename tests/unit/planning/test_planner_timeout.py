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

"""A strategy plugin that hangs is bounded; the default one plans instead."""

import threading
import time

import pytest

from nova_migtuner.planning import context as ctx
from nova_migtuner.planning import planner
from nova_migtuner import units

TIMEOUT_S = 0.2


class HangingStrategy:
    """Blocks in build() until released (so the test leaves no thread)."""

    def __init__(self, name):
        self.name = name
        self.release = threading.Event()
        self.calls = 0

    def build(self, context):
        self.calls += 1
        self.release.wait(30)
        return planner.get_strategy('balanced').build(context)


class FailingStrategy:
    name = 'failing'

    def build(self, context):
        raise ZeroDivisionError('bug in the plugin')


@pytest.fixture
def plugins(monkeypatch):
    extra = {}
    real = planner.get_strategy

    def get_strategy(name, strategies=None):
        return extra[name] if name in extra else real(name, strategies)
    monkeypatch.setattr(planner, 'get_strategy', get_strategy)
    yield extra
    for strategy in extra.values():
        if isinstance(strategy, HangingStrategy):
            strategy.release.set()


def inputs():
    return ctx.MigrationInputs(memory_bytes=2 * units.GiB,
                               link_bandwidth=110e6, dirty_rate=0.0)


def test_a_hanging_operator_strategy_is_replaced_by_the_default(plugins):
    plugins['hangs-1'] = hanging = HangingStrategy('hangs-1')
    started = time.monotonic()
    plan = planner.build_plan(inputs(), 'balanced', 'hangs-1',
                              timeout_s=TIMEOUT_S)
    assert time.monotonic() - started < 5
    assert plan.strategy == 'balanced'
    assert plan.explain()[0] == (
        'strategy hangs-1 did not return a plan within 0.2 s (chosen by '
        'operator); the default strategy balanced planned instead')
    # Called again while its first build still runs: not called, at once.
    started = time.monotonic()
    plan = planner.build_plan(inputs(), 'balanced', 'hangs-1',
                              timeout_s=TIMEOUT_S)
    assert time.monotonic() - started < TIMEOUT_S
    assert plan.strategy == 'balanced'
    assert 'not called again until it returns' in plan.explain()[0]
    assert hanging.calls == 1
    # Once it returns, it is called again.
    hanging.release.set()
    for _ in range(100):
        if not any(t.name == 'migtuner-strategy-hangs-1' and t.is_alive()
                   for t in threading.enumerate()):
            break
        time.sleep(0.05)
    assert planner.build_plan(inputs(), 'balanced', 'hangs-1',
                              timeout_s=TIMEOUT_S).strategy == 'balanced'
    assert hanging.calls == 2


def test_a_hanging_default_strategy_raises_a_clear_error(plugins):
    plugins['hangs-2'] = HangingStrategy('hangs-2')
    with pytest.raises(planner.StrategyTimeoutError,
                       match='strategy hangs-2 did not return a plan within '
                             '0.2 s'):
        planner.build_plan(inputs(), 'hangs-2', timeout_s=TIMEOUT_S)


def test_a_strategy_error_reaches_the_caller_unchanged(plugins):
    plugins['failing'] = FailingStrategy()
    with pytest.raises(ZeroDivisionError, match='bug in the plugin'):
        planner.build_plan(inputs(), 'balanced', 'failing',
                           timeout_s=TIMEOUT_S)


def test_the_installed_strategies_plan_well_within_the_bound():
    for name in planner.available_strategies():
        started = time.monotonic()
        plan = planner.build_plan(inputs(), name)
        assert plan.strategy == name
        assert time.monotonic() - started < planner.STRATEGY_TIMEOUT_S / 10
