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

"""Bursts, quiet periods and the quiet-window timing forecast."""

import pytest

from nova_migtuner.planning import context as ctx_mod
from nova_migtuner.planning import dirty_pattern as dp
from nova_migtuner.planning import plan as P
from nova_migtuner.planning import timing
from nova_migtuner import units

BW = 32 * units.MiB


def series(pattern, start=0.0, period=1.0):
    """Samples from a string: 'B' a burst second (96 MiB/s), '.' quiet."""
    out = []
    t = start
    for ch in pattern:
        rate = 3 * BW if ch == 'B' else 0.0
        out.append(dp.DirtySample(t, t + period, rate))
        t += period
    return out


def test_detect_splits_bursts_and_quiet_periods():
    p = dp.detect(series('..BBBB' + '.' * 10 + 'BBBB' + '...'), BW)
    kinds = [(x.kind, x.seconds, x.complete) for x in p.periods]
    assert kinds == [('quiet', 2, False), ('burst', 4, True),
                     ('quiet', 10, True), ('burst', 4, True),
                     ('quiet', 3, False)]
    assert p.typical_quiet_s() == (10, True)
    assert p.typical_burst_s() == (4, True)
    assert p.bursty
    assert p.mean_rate(dp.BURST) == pytest.approx(3 * BW)
    assert p.mean_rate(dp.QUIET) == 0


def test_detect_steady_guest_has_no_pattern():
    assert not dp.detect(series('BBBBBB'), BW).bursty
    assert not dp.detect(series('......'), BW).bursty


@pytest.mark.parametrize('samples, fragment', [
    ([], 'no dirty-rate samples'),
    ([dp.DirtySample(2, 3, 0), dp.DirtySample(1, 2, 0)], 'out of order'),
])
def test_detect_refuses_bad_series(samples, fragment):
    with pytest.raises(dp.PatternInputError, match=fragment):
        dp.detect(samples, BW)


def test_sample_refuses_negative_rate_and_empty_span():
    with pytest.raises(dp.PatternInputError, match='>= 0'):
        dp.DirtySample(0, 1, -1)
    with pytest.raises(dp.PatternInputError, match='not after'):
        dp.DirtySample(1, 1, 0)


def window(text, needed, max_wait=120):
    return timing.quiet_window(dp.detect(series(text), BW), needed,
                               max_wait)


def test_starts_when_a_long_quiet_period_just_began():
    d = window('BBBB' + '.' * 12 + 'BBBB.', needed=6)
    assert d.action == P.TIMING_START
    assert 'about 11 s left' in d.reason


def test_waits_through_a_burst_for_the_next_quiet_period():
    d = window('.' * 12 + 'BBBBB' + '.' * 12 + 'BB', needed=6)
    assert d.action == P.TIMING_WAIT
    assert d.wait_for == P.WAIT_FOR_QUIET_WINDOW
    assert d.expected_wait_seconds == pytest.approx(3)
    assert d.max_wait_seconds == 120
    assert 'expected in about 3 s' in d.reason


def test_waits_when_the_quiet_period_ends_too_soon():
    d = window('BBBB' + '.' * 10 + 'BBBB' + '.' * 8, needed=6)
    assert d.action == P.TIMING_WAIT
    # 2 s left of this quiet period, then a 4 s burst.
    assert d.expected_wait_seconds == pytest.approx(6)


def test_starts_now_when_quiet_periods_are_too_short():
    d = window('BBBB...BBBB...BB', needed=6)
    assert d.action == P.TIMING_START
    assert 'waiting would not help' in d.reason


def test_starts_now_when_the_next_quiet_period_is_beyond_the_bound():
    d = window('BBBB' + '.' * 12 + 'BBBB', needed=6, max_wait=0)
    assert d.action == P.TIMING_START
    assert 'beyond max_deferral_s 0 s' in d.reason


def test_first_quiet_period_not_yet_known_long_enough_waits():
    d = window('BBBB...', needed=6)
    assert d.action == P.TIMING_WAIT
    assert 'not yet known' in d.reason


def context_with(samples, **limits):
    return ctx_mod.MigrationInputs(
        memory_bytes=256 * units.MiB, link_bandwidth=BW,
        touched_bytes=190 * units.MiB, dirty_rate=0.0,
        dirty_rate_samples=tuple((s.start_s, s.end_s, s.bytes_per_second)
                                 for s in samples),
        limits=ctx_mod.AdminLimits(max_deferral_s=120, **limits))


def test_decide_forecasts_from_the_context_samples():
    from nova_migtuner.planning import model
    ctx = context_with(series('.' * 20 + 'BBBBB'))
    pred = model.predict_precopy(ctx.memory_bytes, 0.0, BW, 0.5,
                                 touched=ctx.touched)
    d = timing.decide(ctx, pred)
    assert d.action == P.TIMING_WAIT
    assert d.wait_for == P.WAIT_FOR_QUIET_WINDOW
    # 190 MiB at 32 MiB/s: ~5.9 s, x1.25 + one 1 s sample.
    assert 'needs 8 s' in d.reason
    steady = context_with(series('BBBBBBBB'))
    assert timing.decide(steady, pred).wait_for != P.WAIT_FOR_QUIET_WINDOW


def test_context_refuses_unordered_samples():
    with pytest.raises(ctx_mod.InputsError, match='dirty_rate_samples'):
        ctx_mod.MigrationInputs(
            memory_bytes=units.GiB, link_bandwidth=BW,
            dirty_rate_samples=((2, 3, 0.0), (0, 1, 0.0)))
