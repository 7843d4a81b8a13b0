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

"""Sampling a guest's dirty rate and waiting for its quiet window."""

from nova_migtuner.engine import dirtyrate
from nova_migtuner.planning import plan as P
from nova_migtuner import units

MiB = units.MiB


class FakeGuest:
    """A dirty rate per second of a clock; measuring takes 1 s."""

    def __init__(self, rates, fail_after=None):
        self.rates = rates
        self.now = 0.0
        self.fail_after = fail_after

    def clock(self):
        return self.now

    def measure(self, domain, period, libvirt_module=None, _sleep=None,
                mode=None):
        second = int(self.now)
        self.now += period
        if self.fail_after is not None and second >= self.fail_after:
            return dirtyrate.DirtyRateMeasurement(None, period,
                                                  reason='gone')
        return dirtyrate.DirtyRateMeasurement(
            self.rates[second % len(self.rates)], period)


def test_samples_cover_the_window_with_clock_times(monkeypatch):
    guest = FakeGuest([0, 0, 90 * MiB])
    monkeypatch.setattr(dirtyrate, 'measure_dirty_rate', guest.measure)
    samples = dirtyrate.sample_dirty_rates(None, 5, clock=guest.clock)
    assert [(s.start_s, s.end_s) for s in samples] == [
        (0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]
    assert [s.bytes_per_second for s in samples] == [
        0, 0, 90 * MiB, 0, 0]


def test_sampling_stops_when_the_rate_cannot_be_measured(monkeypatch):
    guest = FakeGuest([0], fail_after=2)
    monkeypatch.setattr(dirtyrate, 'measure_dirty_rate', guest.measure)
    assert len(dirtyrate.sample_dirty_rates(None, 10,
                                            clock=guest.clock)) == 2


class Plan:
    def __init__(self, waiting):
        self.timing = P.TimingDecision(
            action=P.TIMING_WAIT if waiting else P.TIMING_START,
            wait_for=P.WAIT_FOR_QUIET_WINDOW if waiting else None)


def test_wait_ends_when_the_replan_stops_waiting(monkeypatch):
    # Busy for seconds 0..3, quiet from 4 on.
    guest = FakeGuest([90 * MiB] * 4 + [0] * 20)
    monkeypatch.setattr(dirtyrate, 'measure_dirty_rate', guest.measure)
    seen = []

    def replan(samples):
        seen.append(len(samples))
        return Plan(waiting=samples[-1].bytes_per_second > 0)

    first = dirtyrate.sample_dirty_rates(None, 2, clock=guest.clock)
    plan, samples, waited = dirtyrate.wait_for_quiet_window(
        None, first, replan, max_wait_s=60, window_s=3, clock=guest.clock)
    assert plan.timing.action == P.TIMING_START
    assert samples[-1].bytes_per_second == 0
    assert waited == 3
    # Samples older than the window are dropped.
    assert seen == [2, 3, 4, 4]


def test_wait_is_bounded(monkeypatch):
    guest = FakeGuest([90 * MiB])
    monkeypatch.setattr(dirtyrate, 'measure_dirty_rate', guest.measure)
    plan, _, waited = dirtyrate.wait_for_quiet_window(
        None, (), lambda s: Plan(waiting=True), max_wait_s=5, window_s=30,
        clock=guest.clock)
    assert plan.timing.action == P.TIMING_WAIT
    assert waited == 5


def test_nova_measure_adds_the_window_then_one_sample(monkeypatch):
    import types

    from nova_migtuner.engine import measure
    from nova_migtuner.nova import ops as ops_mod

    guest = FakeGuest([90 * MiB, 0, 0, 0])
    monkeypatch.setattr(dirtyrate, 'measure_dirty_rate', guest.measure)
    real_sample = dirtyrate.sample_dirty_rates
    monkeypatch.setattr(
        dirtyrate, 'sample_dirty_rates',
        lambda *a, **k: real_sample(*a, **dict(k, clock=guest.clock)))
    mt = types.SimpleNamespace(quiet_window_sampling_s=3,
                               dirty_rate_calc_s=1)
    monkeypatch.setattr(ops_mod, '_conf',
                        lambda: types.SimpleNamespace(migtuner=mt))
    ops = object.__new__(ops_mod.NovaOps)
    session = types.SimpleNamespace(libvirt=None)
    first = ops._with_dirty_rate_samples(
        session, None, measure.Measurement(memory_bytes=MiB))
    assert [s.bytes_per_second for s in first.dirty_rate_samples] == [
        90 * MiB, 0, 0]
    assert first.dirty_rate == 0
    again = ops._with_dirty_rate_samples(
        session, None, measure.Measurement(memory_bytes=MiB), first)
    assert len(again.dirty_rate_samples) == 4
    mt.quiet_window_sampling_s = 0
    off = measure.Measurement(memory_bytes=MiB, dirty_rate=5.0)
    assert ops._with_dirty_rate_samples(session, None, off, first) is off
