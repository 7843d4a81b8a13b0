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

import math

import pytest

from nova_migtuner.osc import drain

GiB = 1024 ** 3


def cand(name, seconds=None, memory_gib=1, converges=True):
    return drain.DrainCandidate(
        server_id='id-' + name, name=name, memory_bytes=memory_gib * GiB,
        converges=converges, predicted_seconds=seconds)


class FakeCloud(drain.MigrationBackend):
    """Migrations that take a fixed time on a fake clock."""

    def __init__(self, durations, refuse=(), fail=(), interrupt_at=()):
        self.now = 0.0
        self.durations = durations
        self.refuse = set(refuse)
        self.fail = set(fail)
        self.interrupt_at = sorted(interrupt_at)
        self.started_at = {}
        self.ended_at = {}
        self.max_running = 0

    def clock(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0
        target = self.now + seconds
        if self.interrupt_at and self.interrupt_at[0] <= target:
            self.now = max(self.now, self.interrupt_at.pop(0))
            raise KeyboardInterrupt()
        self.now = target

    def running_count(self):
        return sum(1 for s in self.started_at if s not in self.ended_at)

    def start(self, candidate):
        if candidate.name in self.refuse:
            raise RuntimeError('No valid host was found')
        self.started_at[candidate.name] = self.now
        self.max_running = max(self.max_running, self.running_count())

    def poll(self, candidate):
        name = candidate.name
        elapsed = self.now - self.started_at[name]
        if elapsed < self.durations[name]:
            return elapsed / self.durations[name]
        self.ended_at.setdefault(name, self.started_at[name] +
                                 self.durations[name])
        if name in self.fail:
            return drain.MigrationResult(completed=False,
                                         error='migration failed')
        return drain.MigrationResult(completed=True, destination='dest')


def run(candidates, cloud, max_parallel, spacing, poll=0.5):
    scheduler = drain.DrainScheduler(candidates, max_parallel=max_parallel,
                                     spacing_s=spacing)
    messages = []
    drain.run_drain(scheduler, cloud, cloud.clock, cloud.sleep,
                    poll_interval_s=poll,
                    on_change=lambda s, m: m and messages.append(m))
    return scheduler, messages


def test_cheapest_first_puts_non_converging_servers_last():
    ordered = drain.order_candidates(
        [cand('slow', 30), cand('stuck', None, converges=False),
         cand('quick', 5), cand('mid', 12)], drain.ORDER_CHEAPEST_FIRST)
    assert [c.name for c in ordered] == ['quick', 'mid', 'slow', 'stuck']


def test_largest_first_orders_by_memory():
    ordered = drain.order_candidates(
        [cand('s', 5, 2), cand('l', 50, 16), cand('m', 9, 8)],
        drain.ORDER_LARGEST_FIRST)
    assert [c.name for c in ordered] == ['l', 'm', 's']


def test_unknown_order_is_refused():
    with pytest.raises(drain.DrainError, match='allowed: cheapest-first'):
        drain.order_candidates([], 'random')


@pytest.mark.parametrize('max_parallel,spacing', [(0, 1), (1, -1)])
def test_invalid_limits_are_refused(max_parallel, spacing):
    with pytest.raises(drain.DrainError):
        drain.DrainScheduler([cand('a')], max_parallel, spacing)


@pytest.mark.parametrize('max_parallel,spacing', [
    (1, 0), (1, 10), (2, 5), (3, 0), (3, 4)])
def test_drain_honours_max_parallel_and_spacing(max_parallel, spacing):
    durations = {'a': 20, 'b': 7, 'c': 13, 'd': 3, 'e': 9, 'f': 4}
    cloud = FakeCloud(durations)
    candidates = [cand(n, durations[n]) for n in sorted(durations)]
    scheduler, _ = run(candidates, cloud, max_parallel, spacing)

    assert all(i.status == drain.Status.COMPLETED for i in scheduler.items)
    assert cloud.max_running <= max_parallel
    starts = sorted(cloud.started_at.values())
    for earlier, later in zip(starts, starts[1:]):
        assert later - earlier >= spacing
    for name, start in cloud.started_at.items():
        for other, end in cloud.ended_at.items():
            if end <= start:
                assert start - end >= spacing - 1e-9, (name, other)
    if max_parallel > 1 and spacing == 0:
        # The limit is actually used, not just respected by going serial.
        assert cloud.max_running == max_parallel


def test_serial_drain_with_spacing_takes_the_expected_time():
    cloud = FakeCloud({'a': 10, 'b': 10, 'c': 10})
    run([cand('a'), cand('b'), cand('c')], cloud, 1, 5, poll=1)
    assert cloud.started_at == {'a': 0, 'b': 15, 'c': 30}


def test_a_failed_server_is_reported_and_the_drain_goes_on():
    cloud = FakeCloud({'a': 3, 'b': 3, 'c': 3}, refuse={'a'}, fail={'b'})
    scheduler, messages = run([cand('a'), cand('b'), cand('c')], cloud, 1,
                              1)
    status = {i.candidate.name: i.status for i in scheduler.items}
    assert status == {'a': drain.Status.FAILED, 'b': drain.Status.FAILED,
                      'c': drain.Status.COMPLETED}
    assert scheduler.item('id-a').error == 'No valid host was found'
    assert 'a: could not start: No valid host was found' in messages
    assert 'b: failed: migration failed' in messages


def test_ctrl_c_lets_running_migrations_finish_and_starts_no_more():
    cloud = FakeCloud({'a': 10, 'b': 10, 'c': 10, 'd': 10},
                      interrupt_at=[4])
    scheduler, messages = run([cand(n) for n in 'abcd'], cloud, 2, 2)
    status = {i.candidate.name: i.status for i in scheduler.items}
    assert status == {'a': drain.Status.COMPLETED,
                      'b': drain.Status.COMPLETED,
                      'c': drain.Status.NOT_STARTED,
                      'd': drain.Status.NOT_STARTED}
    assert set(cloud.started_at) == {'a', 'b'}
    assert any(m.startswith('interrupted') for m in messages)


def test_second_ctrl_c_stops_watching_without_aborting():
    cloud = FakeCloud({'a': 100, 'b': 100}, interrupt_at=[4, 8])
    scheduler, _ = run([cand('a'), cand('b')], cloud, 1, 0)
    status = {i.candidate.name: i.status for i in scheduler.items}
    assert status == {'a': drain.Status.UNWATCHED,
                      'b': drain.Status.NOT_STARTED}


def test_decide_waits_for_spacing_after_the_last_end():
    s = drain.DrainScheduler([cand('a'), cand('b')], 2, 10)
    assert s.decide(0).start == ('id-a',)
    s.started('id-a', 0)
    assert s.decide(3) == drain.Decision(wait_s=7)
    s.finished('id-a', 8, drain.MigrationResult(completed=True))
    assert s.decide(12) == drain.Decision(wait_s=6)
    assert s.decide(18).start == ('id-b',)


def test_illegal_transitions_are_refused():
    s = drain.DrainScheduler([cand('a'), cand('b')], 1, 0)
    with pytest.raises(drain.DrainError, match='cannot become completed'):
        s.finished('id-a', 1, drain.MigrationResult(completed=True))
    s.started('id-a', 0)
    with pytest.raises(drain.DrainError, match='already running'):
        s.started('id-b', 0)
    with pytest.raises(drain.DrainError, match='not part of this drain'):
        s.progressed('id-x', 0.5)
    s.stop()
    assert s.decide(5).wait_s == math.inf
    with pytest.raises(drain.DrainError, match='stopping'):
        s.started('id-b', 5)


class FlakyCloud(FakeCloud):
    """FakeCloud whose API fails as a real one does now and then."""

    def __init__(self, durations, poll_errors=(), no_valid_host=None,
                 lost_starts=(), accepted_lost=(), refuse_abort=(),
                 **kwargs):
        super().__init__(durations, **kwargs)
        # name -> number of polls that fail with a connection error
        self.poll_errors = dict(poll_errors)
        # name -> number of starts refused with no valid host
        self.no_valid_host = dict(no_valid_host or {})
        self.lost_starts = set(lost_starts)        # never reached nova
        self.accepted_lost = set(accepted_lost)    # nova took it
        self.refuse_abort = set(refuse_abort)
        self.aborted = []
        self.attempts = {}

    def start(self, candidate):
        name = candidate.name
        self.attempts[name] = self.attempts.get(name, 0) + 1
        if self.no_valid_host.get(name, 0) > 0:
            self.no_valid_host[name] -= 1
            raise drain.RetryLater('No valid host was found')
        if name in self.lost_starts:
            self.lost_starts.discard(name)
            self.started_at.pop(name, None)
            self.never_started = getattr(self, 'never_started', set())
            self.never_started.add(name)
            raise drain.TransientError('connection reset')
        super().start(candidate)
        if name in self.accepted_lost:
            self.accepted_lost.discard(name)
            raise drain.TransientError('504 Gateway Timeout')

    def poll(self, candidate):
        name = candidate.name
        if self.poll_errors.get(name, 0) > 0:
            self.poll_errors[name] -= 1
            raise drain.TransientError('Unable to establish connection')
        if name in getattr(self, 'never_started', set()):
            self.never_started.discard(name)
            raise drain.NotStarted('no migration record and the server '
                                   'is not migrating')
        if name in self.aborted:
            self.ended_at.setdefault(name, self.now)
            return drain.MigrationResult(completed=False,
                                         error='cancelled')
        return super().poll(candidate)

    def abort(self, candidate):
        if candidate.name in self.refuse_abort:
            raise RuntimeError('cannot abort in post-copy')
        self.aborted.append(candidate.name)


def run_with(cloud, candidates, **kwargs):
    scheduler = drain.DrainScheduler(candidates, **kwargs)
    messages = []
    drain.run_drain(scheduler, cloud, cloud.clock, cloud.sleep,
                    poll_interval_s=0.5,
                    on_change=lambda s, m: m and messages.append(m))
    return scheduler, messages


def statuses(scheduler):
    return {i.candidate.name: i.status for i in scheduler.items}


def test_a_failed_poll_is_repeated_and_keeps_the_slot():
    cloud = FlakyCloud({'a': 5, 'b': 5}, poll_errors={'a': 4})
    scheduler, messages = run_with(cloud, [cand('a'), cand('b')],
                                   max_parallel=1, spacing_s=0)
    assert set(statuses(scheduler).values()) == {drain.Status.COMPLETED}
    assert cloud.max_running == 1
    assert cloud.started_at['b'] >= cloud.ended_at['a']
    assert any('a: cannot read the migration (Unable to establish '
               'connection); asking again (1 in a row)' in m
               for m in messages)


def test_no_valid_host_for_one_server_goes_on_and_retries_later():
    cloud = FlakyCloud({'a': 5, 'b': 5, 'c': 5}, no_valid_host={'a': 1})
    scheduler, messages = run_with(cloud, [cand('a'), cand('b'), cand('c')],
                                   max_parallel=1, spacing_s=1,
                                   retry_delay_s=30)
    assert set(statuses(scheduler).values()) == {drain.Status.COMPLETED}
    # b and c went first; a was tried again after the delay.
    assert cloud.started_at['a'] >= 30
    assert cloud.started_at['b'] < cloud.started_at['a']
    assert cloud.attempts['a'] == 2
    assert scheduler.item('id-a').attempts == 2
    assert any('a: not started: No valid host was found; will try again '
               'in 30 s' in m for m in messages)


def test_no_valid_host_every_time_gives_up_within_the_bound():
    cloud = FlakyCloud({'a': 5, 'b': 5}, no_valid_host={'a': 99})
    scheduler, _ = run_with(cloud, [cand('a'), cand('b')], max_parallel=1,
                            spacing_s=0, retry_delay_s=10, max_attempts=3)
    assert statuses(scheduler) == {'a': drain.Status.FAILED,
                                   'b': drain.Status.COMPLETED}
    assert cloud.attempts['a'] == 3
    assert scheduler.item('id-a').error == \
        'No valid host was found (gave up after 3 attempts)'


def test_a_start_nova_accepted_but_whose_answer_was_lost_holds_its_slot():
    cloud = FlakyCloud({'a': 10, 'b': 5}, accepted_lost={'a'})
    scheduler, messages = run_with(cloud, [cand('a'), cand('b')],
                                   max_parallel=1, spacing_s=0)
    assert set(statuses(scheduler).values()) == {drain.Status.COMPLETED}
    # b did not start while nova was migrating a.
    assert cloud.max_running == 1
    assert cloud.started_at['b'] >= cloud.ended_at['a']
    assert any('a: no answer to the start (504 Gateway Timeout)' in m
               for m in messages)


def test_a_start_that_never_reached_nova_is_tried_again():
    cloud = FlakyCloud({'a': 5, 'b': 5}, lost_starts={'a'})
    scheduler, messages = run_with(cloud, [cand('a'), cand('b')],
                                   max_parallel=1, spacing_s=0,
                                   retry_delay_s=5)
    assert set(statuses(scheduler).values()) == {drain.Status.COMPLETED}
    assert cloud.attempts['a'] == 2
    assert any('a: never reached nova' in m for m in messages)


def test_a_migration_past_the_timeout_is_aborted_and_reported():
    cloud = FlakyCloud({'a': 1000, 'b': 5})
    scheduler, messages = run_with(cloud, [cand('a'), cand('b')],
                                   max_parallel=1, spacing_s=0,
                                   migration_timeout_s=60)
    assert statuses(scheduler) == {'a': drain.Status.TIMED_OUT,
                                   'b': drain.Status.COMPLETED}
    assert cloud.aborted == ['a']
    assert 'no end after 60 s' in scheduler.item('id-a').error
    # The slot was freed when nova said the migration ended, not before.
    assert cloud.started_at['b'] >= cloud.ended_at['a'] >= 60


def test_a_refused_abort_keeps_watching_until_nova_ends_it():
    cloud = FlakyCloud({'a': 100, 'b': 5}, refuse_abort={'a'})
    scheduler, messages = run_with(cloud, [cand('a'), cand('b')],
                                   max_parallel=1, spacing_s=0,
                                   migration_timeout_s=30)
    # It completed after all: reported as completed.
    assert statuses(scheduler) == {'a': drain.Status.COMPLETED,
                                   'b': drain.Status.COMPLETED}
    assert cloud.started_at['b'] >= 100
    assert any('nova did not abort it (cannot abort in post-copy)' in m
               for m in messages)


@pytest.mark.parametrize('interval', [0, -1, float('nan')])
def test_run_drain_refuses_a_poll_interval_not_above_zero(interval):
    cloud = FakeCloud({'a': 1})
    with pytest.raises(drain.DrainError, match='poll interval'):
        drain.run_drain(drain.DrainScheduler([cand('a')]), cloud,
                        cloud.clock, cloud.sleep, poll_interval_s=interval)
