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
"""Live progress of migrations: the numbers and how they are drawn."""

import io
import re
import types

import pytest

from nova_migtuner.osc import drain as drain_mod
from nova_migtuner.osc import progress

MIB = 2 ** 20
GIB = 2 ** 30
PLAN = progress.Expectation(predicted_total_s=20.0, initial_downtime_ms=300,
                            max_downtime_ms=500, escalation_steps=2)


def sample(at, processed=None, remaining=None, total=GIB, **disk):
    return progress.Sample(at_s=at, memory_total_bytes=total,
                           memory_processed_bytes=processed,
                           memory_remaining_bytes=remaining, **disk)


# A 1 GiB guest at 100 MiB/s: a first pass, then a second, shorter one.
TWO_PASSES = [
    sample(102.0, 0, None),
    sample(104.0, 200 * MIB, 824 * MIB),
    sample(106.0, 400 * MIB, 624 * MIB),
    sample(108.0, 600 * MIB, 424 * MIB),
    sample(110.0, 800 * MIB, 224 * MIB),
    sample(112.0, 1000 * MIB, 300 * MIB),    # the second pass begins
    sample(114.0, 1200 * MIB, 100 * MIB),
]


def statuses(samples, expectation=PLAN, started_at=100.0):
    tracker = progress.Tracker(started_at, expectation)
    return [tracker.add(s) for s in samples]


# -- the numbers --------------------------------------------------------------


def test_sample_from_novas_migration_fields():
    migration = types.SimpleNamespace(
        memory_total_bytes=GIB, memory_processed_bytes=GIB // 4,
        memory_remaining_bytes=3 * GIB // 4, disk_total_bytes=None,
        disk_processed_bytes=None, disk_remaining_bytes=None)
    s = progress.Sample.from_migration(migration, at_s=5.0)
    assert s.fraction == 0.25
    assert s.remaining_bytes == 3 * GIB // 4
    # Before the compute has filled them in, nova returns nulls.
    empty = progress.Sample.from_migration(types.SimpleNamespace(), 5.0)
    assert not empty.known and empty.fraction is None


def test_iterations_are_counted_when_the_remaining_memory_rises():
    seen = [s.iterations_seen for s in statuses(TWO_PASSES)]
    assert seen == [1, 1, 1, 1, 1, 2, 2]


def test_observed_rate_over_the_last_polls():
    last = statuses(TWO_PASSES)[-1]
    assert last.rate_bytes_s == pytest.approx(100 * MIB)


def test_eta_starts_from_the_model_and_follows_the_observed_rate():
    # The model predicts 20 s in all; the guest really needs 100 s more.
    slow = [sample(100.0 + t, t * MIB, GIB - t * MIB)
            for t in (2, 4, 6, 30, 60)]
    got = statuses(slow)
    # No rate yet: the model's time; its clock starts with the job's first
    # numbers from nova, not with the command.
    assert got[0].eta_s == pytest.approx(20.0)
    assert got[0].eta_basis == 'model'
    assert statuses(slow[1:2])[0].eta_s == pytest.approx(20.0)
    # The longer it runs, the more the observed rate counts ...
    assert got[1].eta_basis == 'model corrected by observed rate'
    assert got[1].eta_s < got[2].eta_s
    # ... and past the predicted time only the observed rate does.
    observed = (GIB - 60 * MIB) / MIB
    assert got[-1].eta_s == pytest.approx(observed)


def test_eta_counts_the_model_from_the_job_not_from_the_command():
    # nova's pre-checks and first refresh took 25 s: the job's first
    # numbers come after the model's 20 s, and still 20 s are predicted.
    first = statuses([sample(127.0, MIB, GIB - MIB)])[0]
    assert first.elapsed_s == pytest.approx(27.0)
    assert (first.eta_s, first.eta_basis) == (pytest.approx(20.0), 'model')


def test_eta_without_a_prediction_is_the_observed_one():
    got = statuses(TWO_PASSES[:3], expectation=progress.Expectation())
    assert got[0].eta_s is None
    assert got[2].eta_basis == 'observed rate'
    assert got[2].eta_s == pytest.approx(624 / 100)
    assert 'ETA unknown' in got[0].line()
    assert 'max downtime' not in got[2].line()


def test_disk_of_a_block_migration_counts_in_the_eta():
    got = statuses([
        sample(102.0, 0, GIB, disk_total_bytes=GIB,
               disk_processed_bytes=0, disk_remaining_bytes=GIB),
        sample(104.0, 100 * MIB, GIB - 100 * MIB, disk_total_bytes=GIB,
               disk_processed_bytes=100 * MIB,
               disk_remaining_bytes=GIB - 100 * MIB)],
        expectation=progress.Expectation())
    assert got[-1].eta_s == pytest.approx((2 * GIB - 200 * MIB) / (
        100 * MIB))
    assert 'disk remaining 924 MiB' in got[-1].line()


def test_the_line_says_where_each_number_comes_from():
    line = statuses(TWO_PASSES)[-1].line()
    assert line.startswith('remaining 100 MiB of 1 GiB, iteration >= 2, ')
    assert ('max downtime 300 ms planned, escalating to 500 ms in up to 2 '
            'steps') in line
    assert re.search(r'ETA ~[0-9.]+ s \(estimate, model corrected by '
                     r'observed rate\)', line)
    assert line.endswith('elapsed 14.0 s')


def test_expectation_from_a_plan():
    plan = types.SimpleNamespace(
        prediction=types.SimpleNamespace(total_seconds=12.5),
        initial_downtime_ms=50, max_downtime_ms=500,
        escalation=('a', 'b', 'c'))
    assert progress.Expectation.from_plan(plan) == progress.Expectation(
        12.5, 50, 500, 3)
    assert progress.Expectation.from_plan(None) == progress.Expectation()


# -- not a terminal: one line per change -------------------------------------


def test_pipe_gets_one_line_per_change():
    out = io.StringIO()
    display = progress.ProgressDisplay(out, is_tty=False)
    # The same numbers polled twice: only the elapsed time differs.
    repeated = TWO_PASSES[:2] + [sample(105.0, 200 * MIB, 824 * MIB)] + \
        TWO_PASSES[2:]
    tracker = progress.Tracker(100.0, PLAN)
    for s in repeated:
        display.update('id-1', 'vm1', tracker.add(s))
    display.message('vm1: moved to b')
    display.close()
    lines = out.getvalue().splitlines()
    assert '\x1b' not in out.getvalue()
    assert len(lines) == len(TWO_PASSES) + 1
    assert all(line.startswith('vm1: ') for line in lines)
    assert lines[1].startswith('vm1: remaining 824 MiB of 1 GiB, ')
    assert lines[-1] == 'vm1: moved to b'


def test_pipe_is_the_default_for_a_stream_that_is_no_terminal():
    assert progress.ProgressDisplay(io.StringIO()).tty is False


# -- a terminal: a live display ----------------------------------------------


def draw_two_passes(width, message=None):
    """TWO_PASSES on a terminal *width* columns wide; (raw, plain) text."""
    out = io.StringIO()
    display = progress.ProgressDisplay(out, is_tty=True, width=width)
    tracker = progress.Tracker(100.0, PLAN)
    for s in TWO_PASSES:
        display.update('id-1', 'vm1', tracker.add(s))
    if message:
        display.message(message)
    display.close()
    text = out.getvalue()
    return text, re.sub(r'\x1b\[[0-9;?]*[A-Za-z]', '', text)


def test_terminal_draws_a_bar_with_the_numbers():
    text, plain = draw_two_passes(150, 'vm1: moved to b')
    # Redrawn in place, not a line per poll.
    assert '\r' in text or '\x1b[1A' in text or '\x1b[2K' in text
    assert 'vm1 ' in plain and '━' in plain
    assert '100 MiB of 1 GiB left | iter >=2 | downtime 300->500 ms (plan, ' \
        '2 steps) | ETA ~' in plain
    assert '(est.)' in plain
    assert 'vm1: moved to b\n' in plain
    # Earlier numbers were drawn over, the last ones stay.
    assert plain.rstrip().endswith('14.0 s')


def test_narrow_terminal_wraps_the_numbers_instead_of_cutting_them():
    _, plain = draw_two_passes(80)
    last = plain.rsplit('vm1 ', 1)[1]
    assert max(len(line) for line in last.splitlines()) <= 80
    words = ' '.join(last.split())
    assert 'ETA ~' in words and words.endswith('14.0 s')


def test_terminal_finish_removes_the_row():
    out = io.StringIO()
    display = progress.ProgressDisplay(out, is_tty=True, width=150)
    status = statuses(TWO_PASSES[:2])[-1]
    display.update('id-1', 'vm1', status)
    display.finish('id-1')
    display.close()
    assert display._tasks == {}


# -- the drain's hook ---------------------------------------------------------


class FakeBackend(drain_mod.MigrationBackend):
    def __init__(self, samples):
        self.samples = samples   # server ID -> list of samples, one a poll
        self.current = {}

    def start(self, candidate):
        self.current[candidate.server_id] = None

    def poll(self, candidate):
        queue = self.samples[candidate.server_id]
        if not queue:
            return drain_mod.MigrationResult(completed=True,
                                             destination='b')
        self.current[candidate.server_id] = queue.pop(0)
        return self.current[candidate.server_id].fraction

    def last_sample(self, server_id):
        return self.current.get(server_id)

    def started_at(self, server_id):
        return 100.0


def test_drain_shows_each_running_migration_and_the_total():
    candidates = [drain_mod.DrainCandidate(server_id='id-%d' % i,
                                           name='vm%d' % i,
                                           memory_bytes=GIB)
                  for i in (1, 2)]
    backend = FakeBackend({'id-1': list(TWO_PASSES[:3]),
                           'id-2': list(TWO_PASSES[:2])})
    out = io.StringIO()
    shown = progress.DrainProgress(
        progress.ProgressDisplay(out, is_tty=False), backend,
        {'id-1': PLAN})
    clock = [100.0]

    def sleep(seconds):
        clock[0] += seconds
    scheduler = drain_mod.DrainScheduler(candidates, max_parallel=2,
                                         spacing_s=0)
    drain_mod.run_drain(scheduler, backend, lambda: clock[0], sleep,
                        poll_interval_s=1.0, on_change=shown.on_change)
    shown.close()
    lines = out.getvalue().splitlines()
    assert 'vm1: migration started' in lines
    assert any(line.startswith('vm1: remaining 624 MiB of 1 GiB') and
               'max downtime 300 ms planned' in line for line in lines)
    # No plan for vm2: no planned downtime shown.
    vm2 = [line for line in lines if line.startswith('vm2: remaining')]
    assert vm2 and all('max downtime' not in line for line in vm2)
    assert lines[-1] == 'drain: 2/2 done, 0 running, 0 failed'
    assert 'drain: 0/2 done, 2 running, 0 failed' in lines
