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

"""Bursts and quiet periods in a series of dirty-rate samples.

A guest whose load comes in bursts (a batch job, a web service's busy
minutes) migrates cheaply in its quiet periods and expensively, or not at
all, in its bursts. ``detect`` splits a window of consecutive dirty-rate
samples into alternating burst and quiet periods; ``timing`` then forecasts
when the next quiet period long enough for the migration begins.

A sample is quiet when its rate is at most ``quiet_fraction`` of the
migration bandwidth (default 0.25: pre-copy then re-sends at most a third
more than it must, and converges in a few short rounds); otherwise it is a
burst. A period is *complete* when the window saw both its start and its
end (a period of the other kind on each side); only complete periods say
how long a period of that kind lasts, the first and the last period of the
window are cut by its edges.

Pure: plain values in, frozen dataclasses out.
"""

import dataclasses
from typing import Optional, Tuple

QUIET = 'quiet'
BURST = 'burst'
DEFAULT_QUIET_FRACTION = 0.25


class PatternInputError(ValueError):
    """A dirty-rate sample series is not usable; the message says why."""


@dataclasses.dataclass(frozen=True)
class DirtySample:
    """The dirty rate measured over ``[start_s, end_s]`` (any clock)."""
    start_s: float
    end_s: float
    bytes_per_second: float

    def __post_init__(self):
        if not self.end_s > self.start_s:
            raise PatternInputError(
                'dirty-rate sample ends at %r s, not after its start %r s'
                % (self.end_s, self.start_s))
        if self.bytes_per_second < 0:
            raise PatternInputError('dirty-rate sample rate must be >= 0 '
                                    'bytes/s, got %r' % self.bytes_per_second)


@dataclasses.dataclass(frozen=True)
class Period:
    kind: str
    start_s: float
    end_s: float
    mean_rate: float
    complete: bool

    @property
    def seconds(self):
        return self.end_s - self.start_s


@dataclasses.dataclass(frozen=True)
class DirtyPattern:
    """The periods of one sampling window, oldest first."""
    periods: Tuple[Period, ...]
    threshold: float          # bytes/s: at most this is quiet

    @property
    def now_s(self):
        return self.periods[-1].end_s

    @property
    def window_s(self):
        return self.periods[-1].end_s - self.periods[0].start_s

    @property
    def current(self):
        return self.periods[-1]

    def _of(self, kind):
        return [p for p in self.periods if p.kind == kind]

    @property
    def bursty(self):
        """Both kinds were seen: there is a pattern to time against."""
        return bool(self._of(QUIET)) and bool(self._of(BURST))

    def typical_quiet_s(self):
        """``(seconds, exact)``: the shortest complete quiet period.

        Without a complete one, the longest quiet stretch seen is a lower
        bound (``exact`` False). None when nothing was quiet.
        """
        return self._typical(QUIET, min)

    def typical_burst_s(self):
        """``(seconds, exact)``: the longest complete burst, or a lower
        bound from the longest burst stretch seen.
        """
        return self._typical(BURST, max)

    def _typical(self, kind, pick):
        periods = self._of(kind)
        if not periods:
            return None, False
        complete = [p.seconds for p in periods if p.complete]
        if complete:
            return pick(complete), True
        return max(p.seconds for p in periods), False

    def mean_rate(self, kind):
        periods = self._of(kind)
        total = sum(p.seconds for p in periods)
        if not total:
            return None
        return sum(p.mean_rate * p.seconds for p in periods) / total

    def describe(self):
        parts = []
        for kind, (secs, exact) in ((QUIET, self.typical_quiet_s()),
                                    (BURST, self.typical_burst_s())):
            if secs is not None:
                parts.append('%s periods %s%.0f s' % (
                    kind, '' if exact else '>= ', secs))
        return ', '.join(parts) or 'no periods'


def detect(samples, bandwidth, quiet_fraction=DEFAULT_QUIET_FRACTION):
    """Split consecutive *samples* into burst and quiet ``Period``s.

    :param samples: ``DirtySample``s in time order; a gap between two
        samples of the same kind is counted as that kind.
    :param bandwidth: the migration bandwidth, bytes/s.
    :raises PatternInputError: no samples, samples out of order, or a bad
        bandwidth or fraction.
    """
    samples = tuple(samples)
    if not samples:
        raise PatternInputError('no dirty-rate samples to detect a pattern '
                                'in')
    if bandwidth <= 0:
        raise PatternInputError('bandwidth must be > 0 bytes/s, got %r'
                                % bandwidth)
    if not 0 < quiet_fraction < 1:
        raise PatternInputError('quiet_fraction must be within 0..1 '
                                '(exclusive), got %r' % quiet_fraction)
    _check_order(samples)
    threshold = quiet_fraction * bandwidth
    runs = []        # [kind, start, end, bytes]
    for s in samples:
        kind = QUIET if s.bytes_per_second <= threshold else BURST
        if runs and runs[-1][0] == kind:
            run = runs[-1]
            run[3] += s.bytes_per_second * (s.end_s - run[2])
            run[2] = s.end_s
        else:
            runs.append([kind, s.start_s, s.end_s,
                         s.bytes_per_second * (s.end_s - s.start_s)])
    periods = []
    for i, (kind, start, end, amount) in enumerate(runs):
        periods.append(Period(kind=kind, start_s=start, end_s=end,
                              mean_rate=amount / (end - start),
                              complete=0 < i < len(runs) - 1))
    return DirtyPattern(periods=tuple(periods), threshold=threshold)


def samples_from(values):
    """``DirtySample``s from ``(start_s, end_s, bytes_per_second)``.

    :raises PatternInputError: a bad sample, or samples out of order.
    """
    samples = tuple(v if isinstance(v, DirtySample) else DirtySample(*v)
                    for v in values)
    _check_order(samples)
    return samples


def _check_order(samples):
    for a, b in zip(samples, samples[1:]):
        if b.start_s < a.end_s - 1e-9:
            raise PatternInputError(
                'dirty-rate samples overlap or are out of order: one ends '
                'at %.3f s, the next starts at %.3f s' % (a.end_s,
                                                          b.start_s))


def latest_rate(samples) -> Optional[float]:
    return samples[-1].bytes_per_second if samples else None
