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

"""What the guest's application felt during a migration.

From the workload's progress lines (``testbed.progress``), stamped by the
host when it read them, on whichever host ran the guest:

``work_lost_s``
    the normal rate x the window, minus the work done in it, in seconds of
    normal work; the window runs from the start of the migration until
    ``AFTER_END_S`` after its end, so the recovery counts too;
``slowest_1s_fraction``
    the least work done in any 1 s of that window, as a fraction of the
    normal rate;
``p99_request_gap_ms``
    the 99th percentile of the gaps between completed requests in that
    window (the SLA view), with the longest one beside it.

The normal rate is the rate over the ``BASELINE_S`` before the migration.
The work is the pages dirtied for a workload that dirties at a constant
rate, the completed requests otherwise (an idle or bursty guest's pages
follow its own pattern, not the migration).

Gaps between requests come at the lines' resolution (100 ms): within a
line's interval, completions are taken as evenly spaced over the time the
guest's own clock ran, except the longest gap the guest measured itself;
the time the host saw pass beyond the guest's clock (a stopped guest's
clock stands still) is added to that longest gap.
"""

import bisect

AFTER_END_S = 5.0
BASELINE_S = 3.0
WINDOW_S = 1.0
# Step of the sliding 1 s window and bin of the throughput series.
STEP_S = 0.1
SERIES_BIN_S = 0.5
PAGES, REQUESTS = 'pages', 'requests'


def unit_for(workload):
    """The work that measures ``workload`` (a ``testbed.Workload``), or
    None when it does none the bench can count.
    """
    if workload.kind == 'constant' and workload.rate_mib_s > 0:
        return PAGES
    if workload.request_rate > 0:
        return REQUESTS
    return None


def ordered(samples):
    """Samples by read time, dropping any whose counters go backwards (a
    line read late from the host the guest left).
    """
    result = []
    for s in sorted(samples, key=lambda x: x.time):
        if result and (s.pages < result[-1].pages or
                       s.requests < result[-1].requests):
            continue
        result.append(s)
    return result


def _count(sample, unit):
    return sample.pages if unit == PAGES else sample.requests


def cumulative_at(samples, unit, t):
    """Work done by time ``t``, interpolated between the lines around it
    (``samples`` ordered).
    """
    times = [s.time for s in samples]
    i = bisect.bisect_right(times, t)
    if i == 0:
        return float(_count(samples[0], unit))
    if i == len(samples):
        return float(_count(samples[-1], unit))
    a, b = samples[i - 1], samples[i]
    share = (t - a.time) / (b.time - a.time) if b.time > a.time else 1.0
    return _count(a, unit) + share * (_count(b, unit) - _count(a, unit))


def normal_rate(samples, unit, start, baseline_s=BASELINE_S):
    """Work per second over the ``baseline_s`` before ``start``, or None."""
    before = [s for s in samples if start - baseline_s <= s.time <= start]
    if len(before) < 2 or before[-1].time <= before[0].time:
        return None
    return ((_count(before[-1], unit) - _count(before[0], unit)) /
            (before[-1].time - before[0].time))


def request_gaps(samples, start, stop):
    """Reconstructed gaps (s) between completed requests whose interval
    ends in (start, stop]; see the module's docstring.
    """
    gaps = []
    carried = 0.0
    for a, b in zip(samples, samples[1:]):
        if b.time <= start or b.time > stop:
            continue
        host = b.time - a.time
        guest = max(0.0, (b.uptime_ms - a.uptime_ms) / 1000.0)
        n = b.requests - a.requests
        if n <= 0:
            carried += host
            continue
        unseen = max(0.0, host - guest)
        even = guest / n
        longest = b.max_gap_us / 1e6
        if n >= 2 and longest > even:
            rest = max(0.0, guest - longest) / (n - 1)
        else:
            longest, rest = even, even
        gaps.append(carried + unseen + longest)
        gaps.extend([rest] * (n - 1))
        carried = 0.0
    return gaps


def percentile(values, fraction):
    """Nearest-rank percentile of ``values`` (None when empty)."""
    if not values:
        return None
    ordered_values = sorted(values)
    rank = max(1, int(-(-fraction * len(ordered_values) // 1)))
    return ordered_values[min(rank, len(ordered_values)) - 1]


def measure(samples, unit, start, end, after_s=AFTER_END_S,
            silent_until=None):
    """The application's view of a migration from ``start`` to ``end``
    (host monotonic times); a dict for results.json.

    :param silent_until: for a guest known to run nowhere (lost), the time
        up to which the console was read: the time after its last line
        then counts as time without work, and the open gap since its last
        request as a request gap. Without it a window the lines do not
        reach is measured only as far as they go.
    """
    samples = ordered(samples)
    result = {'unit': unit, 'work_lost_s': None,
              'slowest_1s_fraction': None, 'slowest_1s_at_s': None,
              'p99_request_gap_ms': None, 'max_request_gap_ms': None,
              'normal_rate_per_s': None, 'window_s': None,
              'progress_lines': len(samples), 'window_covered': False}
    if unit is None or start is None or end is None or len(samples) < 2:
        return result
    stop = end + after_s
    last = samples[-1].time
    if silent_until is not None:
        stop = min(stop, max(silent_until, last))
        silence = stop - last
    else:
        silence = 0.0
    # A window the lines do not reach is measured as far as they go.
    result['window_covered'] = last + silence >= stop - 2 * STEP_S
    stop = min(stop, last + silence)
    normal = normal_rate(samples, unit, start)
    result['normal_rate_per_s'] = normal and round(normal, 2)
    if stop <= start:
        return result
    window = stop - start
    result['window_s'] = round(window, 2)
    gaps = request_gaps(samples, start, stop)
    if silence > 0:
        gaps.append(silence)
    if gaps:
        result['p99_request_gap_ms'] = round(percentile(gaps, 0.99) * 1e3, 1)
        result['max_request_gap_ms'] = round(max(gaps) * 1e3, 1)
    if not normal:
        return result
    done = cumulative_at(samples, unit, stop) - cumulative_at(
        samples, unit, start)
    result['work_lost_s'] = round(window - done / normal, 2)
    width = min(WINDOW_S, window)
    slowest = None
    t = start
    while t + width <= stop + 1e-9:
        work = (cumulative_at(samples, unit, t + width) -
                cumulative_at(samples, unit, t))
        fraction = work / (normal * width)
        if slowest is None or fraction < slowest[0]:
            slowest = (fraction, t - start)
        t += STEP_S
    if slowest is not None:
        result['slowest_1s_fraction'] = round(slowest[0], 3)
        result['slowest_1s_at_s'] = round(slowest[1], 1)
    return result


def throughput_series(samples, unit, start, end, after_s=AFTER_END_S,
                      before_s=BASELINE_S, bin_s=SERIES_BIN_S):
    """[(seconds since start, fraction of the normal rate)] in bins of
    ``bin_s``, from ``before_s`` before the start to ``after_s`` after the
    end: the throughput-over-time panel.
    """
    samples = ordered(samples)
    if unit is None or start is None or end is None or len(samples) < 2:
        return []
    normal = normal_rate(samples, unit, start, before_s)
    if not normal:
        return []
    series = []
    t = max(start - before_s, samples[0].time)
    stop = min(end + after_s, samples[-1].time)
    while t + bin_s <= stop + 1e-9:
        work = (cumulative_at(samples, unit, t + bin_s) -
                cumulative_at(samples, unit, t))
        series.append((round(t + bin_s / 2 - start, 2),
                       round(work / (normal * bin_s), 3)))
        t += bin_s
    return series


def markers(start, end, switch_at=None):
    """The migration's start, switch-over and end, in seconds since start,
    for the panel (switch-over None when the guest never moved).
    """
    if start is None:
        return {}
    return {'start_s': 0.0,
            'switch_s': None if switch_at is None else round(
                switch_at - start, 2),
            'end_s': None if end is None else round(end - start, 2)}


def switch_time(beats, source, dest):
    """Host time of the last heartbeat on ``source`` before the first on
    ``dest`` (the switch-over as the heartbeat saw it), or None.
    """
    ordered_beats = sorted(beats, key=lambda s: s.time)
    first_dest = next((s for s in ordered_beats if s.host == dest), None)
    if first_dest is None:
        return None
    before = [s.time for s in ordered_beats
              if s.host == source and s.time <= first_dest.time]
    return before[-1] if before else None


def application_impact(progress, beats, unit, start, end, source, dest,
                       silent_until=None):
    """Everything the bench records of the application for one run:
    ``impact`` (see ``measure``, and its *silent_until*),
    ``throughput_series`` and ``markers``.
    """
    switch_at = switch_time(beats, source, dest)
    return {'impact': measure(progress, unit, start, end,
                              silent_until=silent_until),
            'throughput_series': throughput_series(progress, unit, start,
                                                   end),
            'markers': markers(start, end, switch_at)}
