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

"""The application's view of a migration, from progress lines."""

import pytest

from nova_migtuner.bench import impact
from nova_migtuner.testbed import progress
from nova_migtuner.testbed import Workload

RATE = 1000.0       # pages per second
REQ_RATE = 100.0    # requests per second


def lines(until, stall_at=None, stall_s=0.0, slow=None, period=0.1):
    """Progress lines every ``period`` of host time from 0 to ``until``.

    A stall (the guest stopped: no line, its clock stands still) of
    ``stall_s`` at ``stall_at``; ``slow`` = (from, to, fraction): the guest
    runs but does that fraction of its work (its clock keeps going).
    """
    samples, pages, reqs, uptime = [], 0.0, 0.0, 0.0
    t, host = 0.0, 'a'
    while t <= until + 1e-9:
        samples.append(progress.ProgressSample(
            round(t, 3), host, int(pages), int(reqs), int(uptime * 1000),
            int(1e6 / REQ_RATE)))
        step = period
        share = 1.0
        if slow and slow[0] <= t < slow[1]:
            share = slow[2]
        if stall_at is not None and t < stall_at <= t + period:
            t += stall_s      # host time passes, the guest's does not
            host = 'b'
        t += step
        pages += RATE * step * share
        reqs += REQ_RATE * step * share
        uptime += step
    return samples


def test_an_undisturbed_run_loses_no_work():
    result = impact.measure(lines(30), impact.PAGES, start=10, end=15)
    assert result['normal_rate_per_s'] == pytest.approx(RATE, rel=0.01)
    assert result['work_lost_s'] == pytest.approx(0, abs=0.05)
    assert result['slowest_1s_fraction'] == pytest.approx(1, abs=0.02)
    assert result['window_s'] == pytest.approx(10)
    assert result['window_covered']
    assert result['p99_request_gap_ms'] == pytest.approx(10, abs=1)


def test_a_stopped_guest_loses_the_stop_and_shows_it_as_a_gap():
    samples = lines(30, stall_at=12, stall_s=0.5)
    result = impact.measure(samples, impact.PAGES, start=10, end=13)
    assert result['work_lost_s'] == pytest.approx(0.5, abs=0.05)
    # The 1 s window that holds the stop did half its work.
    assert result['slowest_1s_fraction'] == pytest.approx(0.5, abs=0.1)
    assert 1.5 <= result['slowest_1s_at_s'] <= 2.1
    assert result['max_request_gap_ms'] == pytest.approx(510, abs=15)
    # One gap in ~800 is not the 99th percentile.
    assert result['p99_request_gap_ms'] < 20


def test_a_throttled_guest_loses_work_over_the_throttled_time():
    samples = lines(40, slow=(12, 16, 0.25))
    result = impact.measure(samples, impact.PAGES, start=10, end=20)
    assert result['work_lost_s'] == pytest.approx(4 * 0.75, abs=0.1)
    assert result['slowest_1s_fraction'] == pytest.approx(0.25, abs=0.02)


def test_the_guest_measured_gap_counts_where_its_clock_ran():
    samples = lines(30)
    # One interval in which the guest itself saw a 300 ms gap.
    i = 120
    s = samples[i]
    samples[i] = progress.ProgressSample(s.time, s.host, s.pages,
                                         s.requests, s.uptime_ms, 300000)
    result = impact.measure(samples, impact.REQUESTS, start=10, end=15)
    assert result['max_request_gap_ms'] == pytest.approx(300, abs=1)


def test_window_beyond_the_last_line_is_measured_as_far_as_it_goes():
    result = impact.measure(lines(16), impact.PAGES, start=10, end=15)
    assert not result['window_covered']
    assert result['window_s'] == pytest.approx(6)


def test_a_guest_that_runs_nowhere_lost_the_time_after_its_last_line():
    # Killed 12 s in (its QEMU gone): the console was read until 40 s.
    samples = lines(12)
    result = impact.measure(samples, impact.PAGES, start=10, end=15,
                            silent_until=40)
    assert result['window_covered']
    assert result['window_s'] == pytest.approx(10)
    assert result['work_lost_s'] == pytest.approx(8, abs=0.05)
    assert result['slowest_1s_fraction'] == pytest.approx(0, abs=0.01)
    assert result['max_request_gap_ms'] == pytest.approx(8000, abs=15)


def test_without_a_baseline_there_is_no_normal_rate():
    result = impact.measure(lines(30), impact.PAGES, start=0, end=5)
    assert result['normal_rate_per_s'] is None
    assert result['work_lost_s'] is None


def test_lines_read_late_from_the_left_host_are_ignored():
    samples = lines(30)
    stale = progress.ProgressSample(20.05, 'a', 10, 1, 10, 0)
    result = impact.measure(samples + [stale], impact.PAGES, 10, 15)
    assert result['work_lost_s'] == pytest.approx(0, abs=0.05)


def test_throughput_series_is_a_fraction_of_normal_around_the_migration():
    series = impact.throughput_series(
        lines(30, stall_at=12, stall_s=1.0), impact.PAGES, 10, 13)
    times = [t for t, _ in series]
    assert times[0] == pytest.approx(-2.75)
    assert times[-1] <= 8
    assert all(f == pytest.approx(1, abs=0.05) for t, f in series if t < 1.5)
    assert min(f for _, f in series) < 0.5


def test_unit_follows_the_workload():
    assert impact.unit_for(Workload('constant', 64, 10.0)) == impact.PAGES
    assert impact.unit_for(Workload('idle')) == impact.REQUESTS
    assert impact.unit_for(Workload('bursty', 64, 10.0)) == impact.REQUESTS
    assert impact.unit_for(Workload('idle', request_rate=0)) is None


def test_markers_are_relative_to_the_start():
    assert impact.markers(100.0, 112.5, 111.0) == {
        'start_s': 0.0, 'switch_s': 11.0, 'end_s': 12.5}
    assert impact.markers(100.0, 112.5)['switch_s'] is None


def test_percentile_is_nearest_rank():
    assert impact.percentile(list(range(1, 101)), 0.99) == 99
    assert impact.percentile([5], 0.99) == 5
    assert impact.percentile([], 0.99) is None


def test_progress_lines_are_parsed_and_other_lines_ignored():
    text = ('[    0.1] kernel line\nh12\np10 r2 u100 g5000\n'
            'p1h13\nmtw rate_mib_s=1.0 target_mib_s=1.0 phase=on '
            'uptime_s=2.0\np20 r4 u200 g9000\n')
    samples = progress.parse_text(text, 'a')
    assert [(s.pages, s.requests, s.uptime_ms, s.max_gap_us)
            for s in samples] == [(10, 2, 100, 5000), (20, 4, 200, 9000)]
    assert samples[1].time == pytest.approx(0.2)
