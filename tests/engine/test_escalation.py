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

import pytest

from nova_migtuner.engine import escalation
from nova_migtuner.engine import stats
from nova_migtuner.planning import plan as P
from tests.engine.plans import make_plan

MiB = 1024 ** 2
PAGE = 4096


def sample(t, iteration=1, remaining=100 * MiB, bps=32 * MiB, dirty=None,
           job_type=2, throttle=None):
    raw = {'type': job_type, 'memory_iteration': iteration,
           'memory_remaining': remaining, 'memory_bps': bps,
           'memory_page_size': PAGE}
    if dirty is not None:
        raw['memory_dirty_rate'] = dirty // PAGE
    if throttle is not None:
        raw['auto_converge_throttle'] = throttle
    return stats.JobSample.from_job_stats(raw, taken_at=t)


def precopy_samples(total, dirty, bandwidth, working_set, seconds,
                    interval=0.5):
    """Samples of a simulated QEMU pre-copy (never switching over).

    Each round sends what is dirty at its start at *bandwidth*; pages the
    guest dirties during it (at most the working set) form the next round.
    QEMU reports the dirty rate from the second round on.
    """
    out = []
    t = 0.0
    iteration = 1
    round_start = float(total)
    round_began = 0.0
    while t <= seconds:
        sent = (t - round_began) * bandwidth
        if sent >= round_start:
            round_time = round_start / bandwidth
            round_began += round_time
            round_start = max(PAGE, min(dirty * round_time, working_set))
            iteration += 1
            sent = (t - round_began) * bandwidth
        out.append(sample(t, iteration=iteration,
                          remaining=int(max(0.0, round_start - sent)),
                          bps=bandwidth,
                          dirty=dirty if iteration > 1 else 0))
        t += interval
    return out


def observe(escalator, sample):
    """Feed one sample; libvirt takes every action (confirmed)."""
    actions = escalator.observe(sample)
    for action in actions:
        escalator.confirm(action)
    return actions


def run(escalator, samples):
    actions = []
    for s in samples:
        actions.extend(observe(escalator, s))
    return actions


STALL = P.EscalationStep(P.TRIGGER_STALLED, 3, P.ACTION_RAISE_DOWNTIME,
                         downtime_ms=300, reason='stalled')
STALL2 = P.EscalationStep(P.TRIGGER_STALLED, 3, P.ACTION_RAISE_DOWNTIME,
                          downtime_ms=500, reason='still stalled')
POST = P.EscalationStep(P.TRIGGER_STALLED, 3, P.ACTION_POST_COPY)


def test_stalled_workload_escalates_each_step_after_its_own_window():
    plan = make_plan(flags=(P.LIVE, P.POSTCOPY),
                     escalation=(STALL, STALL2, POST))
    esc = escalation.Escalator(plan, started_at=0.0)
    # The test bed's stalled case: 100 MiB/s over 128 MiB, 32 MiB/s cap.
    samples = precopy_samples(256 * MiB, 100 * MiB, 32 * MiB, 128 * MiB,
                              seconds=40)
    actions = run(esc, samples)
    assert [a.kind for a in actions] == [
        P.ACTION_RAISE_DOWNTIME, P.ACTION_RAISE_DOWNTIME, P.ACTION_POST_COPY]
    assert [a.downtime_ms for a in actions[:2]] == [300, 500]
    # First pass: 8 s; stall counted from the second round's start (12 s)
    # at the latest; each later step needs a full window after the previous.
    first, second, third = (a.elapsed_s for a in actions)
    assert 8.0 <= first <= 12.0 + 3.0 + 0.5
    assert second - first == pytest.approx(3.0, abs=0.51)
    assert third - second == pytest.approx(3.0, abs=0.51)
    assert esc.post_copy_started and esc.finished
    assert esc.taken == tuple(actions)
    assert esc.current_downtime_ms == 500


def test_converging_workload_never_counts_as_stalled():
    plan = make_plan(escalation=(STALL,))
    esc = escalation.Escalator(plan, started_at=0.0)
    # Dirty rate half the bandwidth: every round half the previous one.
    samples = precopy_samples(256 * MiB, 16 * MiB, 32 * MiB, 256 * MiB,
                              seconds=15.9, interval=0.25)
    assert samples[-1].memory_iteration >= 4
    assert run(esc, samples) == []
    assert esc.stalled_for_s < 3.0


def test_dirty_rate_above_transfer_rate_is_never_progress():
    plan = make_plan(escalation=(STALL,))
    esc = escalation.Escalator(plan, started_at=0.0)
    # Rounds shrink on paper but QEMU says the guest dirties faster than
    # the link copies: not progress.
    samples = [sample(0, 1, 200 * MiB, dirty=0),
               sample(1, 2, 100 * MiB, dirty=64 * MiB),
               sample(2, 3, 80 * MiB, dirty=64 * MiB),
               sample(3, 4, 60 * MiB, dirty=64 * MiB),
               sample(4, 5, 40 * MiB, dirty=64 * MiB)]
    actions = run(esc, samples)
    assert [a.kind for a in actions] == [P.ACTION_RAISE_DOWNTIME]
    assert actions[0].elapsed_s == 3.0


def test_first_pass_falling_remaining_is_progress():
    plan = make_plan(escalation=(STALL,))
    esc = escalation.Escalator(plan, started_at=0.0)
    samples = [sample(t, 1, (100 - 10 * t) * MiB) for t in range(10)]
    assert run(esc, samples) == []
    # ...and a first pass that stops moving is a stall.
    more = [sample(10 + t, 1, 5 * MiB) for t in range(4)]
    # Last progress at 10 s (10 -> 5 MiB), window 3 s.
    assert [a.elapsed_s for a in run(esc, more)] == [13.0]


def test_stall_window_override():
    plan = make_plan(escalation=(P.EscalationStep(
        P.TRIGGER_STALLED, 60, P.ACTION_ABORT),))
    esc = escalation.Escalator(plan, stall_window_s=2, started_at=0.0)
    # Round after round of the same size (one round per poll).
    actions = run(esc, [sample(t, 2 + t, 50 * MiB, dirty=0)
                        for t in range(4)])
    assert [(a.kind, a.elapsed_s) for a in actions] == [(P.ACTION_ABORT,
                                                         2.0)]
    with pytest.raises(ValueError):
        escalation.Escalator(plan, stall_window_s=0)


def test_iteration_step_fires_once_at_threshold():
    plan = make_plan(flags=(P.LIVE, P.POSTCOPY), escalation=(
        P.EscalationStep(P.TRIGGER_ITERATION, 2, P.ACTION_POST_COPY),))
    esc = escalation.Escalator(plan, started_at=0.0)
    assert observe(esc, sample(1, iteration=1)) == []
    actions = observe(esc, sample(2, iteration=2))
    assert [(a.kind, a.step, a.iteration) for a in actions] == [
        (P.ACTION_POST_COPY, 0, 2)]
    assert observe(esc, sample(3, iteration=3)) == []


def test_ladder_is_walked_in_order():
    plan = make_plan(escalation=(
        P.EscalationStep(P.TRIGGER_ELAPSED, 10, P.ACTION_RAISE_DOWNTIME,
                         downtime_ms=200),
        P.EscalationStep(P.TRIGGER_ITERATION, 2, P.ACTION_RAISE_DOWNTIME,
                         downtime_ms=400)))
    esc = escalation.Escalator(plan, started_at=0.0)
    # Step 1's trigger holds, but step 0 has not fired yet.
    assert observe(esc, sample(5, iteration=5)) == []
    actions = observe(esc, sample(10, iteration=6))
    assert [(a.step, a.downtime_ms) for a in actions] == [(0, 200), (1, 400)]


def test_raise_below_current_downtime_and_post_copy_without_flag_skipped():
    plan = make_plan(initial_downtime_ms=400, flags=(P.LIVE,), escalation=(
        P.EscalationStep(P.TRIGGER_ELAPSED, 1, P.ACTION_RAISE_DOWNTIME,
                         downtime_ms=300),
        P.EscalationStep(P.TRIGGER_ELAPSED, 1, P.ACTION_POST_COPY),
        P.EscalationStep(P.TRIGGER_ELAPSED, 1, P.ACTION_RAISE_DOWNTIME,
                         downtime_ms=500)))
    esc = escalation.Escalator(plan, started_at=0.0)
    actions = observe(esc, sample(1))
    assert [(a.kind, a.step) for a in actions] == [
        (P.ACTION_RAISE_DOWNTIME, 2)]
    assert [s.step for s in esc.skipped] == [0, 1]
    assert 'VIR_MIGRATE_POSTCOPY' in esc.skipped[1].reason


def test_nothing_after_post_copy_not_even_the_deadline():
    plan = make_plan(flags=(P.LIVE, P.POSTCOPY), deadline_s=10,
                     deadline_action=P.ACTION_ABORT, escalation=(
                         P.EscalationStep(P.TRIGGER_ELAPSED, 1,
                                          P.ACTION_POST_COPY),
                         P.EscalationStep(P.TRIGGER_ELAPSED, 2,
                                          P.ACTION_ABORT)))
    esc = escalation.Escalator(plan, started_at=0.0)
    assert [a.kind for a in observe(esc, sample(1))] == [P.ACTION_POST_COPY]
    assert observe(esc, sample(5)) == []
    assert observe(esc, sample(60)) == []
    assert len(esc.taken) == 1


def test_deadline_abort_fires_once():
    plan = make_plan(deadline_s=30, deadline_action=P.ACTION_ABORT)
    esc = escalation.Escalator(plan, started_at=100.0)
    assert observe(esc, sample(129.5, remaining=0)) == []
    actions = observe(esc, sample(130.0))
    assert [(a.kind, a.source, a.elapsed_s) for a in actions] == [
        (P.ACTION_ABORT, 'deadline', 30.0)]
    assert observe(esc, sample(131.0)) == []


def rounds_then(last, start=24 * MiB):
    """Two rounds of *start* bytes (the working set), then *last*."""
    return [sample(0, 2, start), sample(0.5, 3, start), last]


def test_deadline_pause_when_short_else_abort():
    plan = make_plan(deadline_s=10, deadline_action=P.ACTION_PAUSE,
                     max_pause_ms=2000)
    short = escalation.Escalator(plan, started_at=0.0)
    # 8 MiB left + 24 MiB dirtied again at 32 MiB/s: 1000 ms <= 2000 ms.
    actions = run(short, rounds_then(sample(10, 3, remaining=8 * MiB)))
    assert [a.kind for a in actions] == [P.ACTION_PAUSE]
    assert 'estimated pause 1000 ms' in actions[0].reason
    assert short.paused
    long_ = escalation.Escalator(plan, started_at=0.0)
    # 32 MiB left + a 64 MiB working set: 3000 ms > 2000 ms.
    actions = run(long_, rounds_then(sample(10, 3, remaining=32 * MiB),
                                     start=64 * MiB))
    assert [a.kind for a in actions] == [P.ACTION_ABORT]
    assert '3000 ms > max_pause_ms 2000' in actions[0].reason
    # Bandwidth unknown (no bps, no plan cap): cannot bound the pause.
    blind = escalation.Escalator(
        make_plan(deadline_s=10, deadline_action=P.ACTION_PAUSE,
                  max_pause_ms=2000, bandwidth_mib_s=0), started_at=0.0)
    assert [a.kind for a in observe(blind, sample(10, bps=None))] == [
        P.ACTION_ABORT]


def test_pause_during_first_pass_counts_sent_memory_as_dirty_again():
    plan = make_plan(deadline_s=1, deadline_action=P.ACTION_PAUSE,
                     max_pause_ms=2000)
    esc = escalation.Escalator(plan, started_at=0.0)
    first_pass = stats.JobSample.from_job_stats(
        {'type': 2, 'memory_iteration': 1, 'memory_remaining': 16 * MiB,
         'memory_total': 256 * MiB, 'memory_bps': 32 * MiB}, taken_at=1.0)
    actions = observe(esc, first_pass)
    assert [a.kind for a in actions] == [P.ACTION_ABORT]
    assert '256 MiB' in actions[0].reason


def test_pause_watchdog_aborts_a_pause_that_lasts_too_long():
    plan = make_plan(deadline_s=10, deadline_action=P.ACTION_PAUSE,
                     max_pause_ms=2000)
    esc = escalation.Escalator(plan, started_at=0.0)
    run(esc, rounds_then(sample(10, 3, remaining=8 * MiB)))
    assert esc.paused
    assert observe(esc, sample(13.5, remaining=30 * MiB)) == []
    actions = observe(esc, sample(14.5, remaining=30 * MiB))
    assert [(a.kind, a.source) for a in actions] == [
        (P.ACTION_ABORT, 'pause-watchdog')]


def test_post_copy_deadline_without_flag_aborts():
    plan = make_plan(flags=(P.LIVE,), deadline_s=5,
                     deadline_action=P.ACTION_POST_COPY)
    esc = escalation.Escalator(plan, started_at=0.0)
    assert [a.kind for a in observe(esc, sample(5))] == [P.ACTION_ABORT]


def test_inactive_samples_are_ignored_and_throttle_tracked():
    plan = make_plan(deadline_s=1)
    esc = escalation.Escalator(plan)
    assert observe(esc, sample(50, job_type=stats.JOB_COMPLETED)) == []
    assert esc.taken == ()
    observe(esc, sample(0.5, throttle=40))
    assert esc.max_throttle == 40


def test_start_time_derived_from_libvirt_elapsed():
    plan = make_plan(deadline_s=10)
    esc = escalation.Escalator(plan)
    first = stats.JobSample.from_job_stats(
        {'type': 2, 'time_elapsed': 9000}, taken_at=1000.0)
    assert observe(esc, first) == []
    assert esc.started_at == 991.0
    second = stats.JobSample.from_job_stats({'type': 2}, taken_at=1001.0)
    assert [a.kind for a in observe(esc, second)] == [P.ACTION_ABORT]


def test_one_long_round_is_not_a_stall():
    plan = make_plan(escalation=(STALL,))
    esc = escalation.Escalator(plan, started_at=0.0)
    # Round 2 of a big guest on a slow link: 20 s, remaining falls slowly.
    samples = [sample(t, 2, (4000 - 10 * t) * MiB, bps=10 * MiB,
                      dirty=5 * MiB) for t in range(20)]
    assert run(esc, samples) == []
    assert esc.stalled_for_s == 19
    # Two more rounds, no smaller than that one: now it is a stall.
    actions = run(esc, [sample(20, 3, 4000 * MiB, bps=10 * MiB),
                        sample(21, 4, 4000 * MiB, bps=10 * MiB)])
    assert [(a.kind, a.elapsed_s) for a in actions] == [
        (P.ACTION_RAISE_DOWNTIME, 21)]


def test_round_start_is_estimated_independent_of_polling_phase():
    plan = make_plan(escalation=(STALL,))
    esc = escalation.Escalator(plan, started_at=0.0)
    # Every round is 64 MiB at 32 MiB/s (2 s), but the polls land at
    # different points of each round: the first poll of a round reads
    # 48, 40, 56, 32 MiB. Not progress: the rounds do not shrink.
    samples = [sample(0.0, 2, 64 * MiB), sample(1.5, 2, 16 * MiB),
               sample(2.5, 3, 48 * MiB), sample(3.9, 3, 3.2 * MiB),
               sample(4.75, 4, 40 * MiB), sample(5.9, 4, 3.2 * MiB),
               sample(6.5, 5, 56 * MiB), sample(7.9, 5, 11.2 * MiB),
               sample(9.0, 6, 32 * MiB)]
    actions = run(esc, samples)
    assert [a.kind for a in actions] == [P.ACTION_RAISE_DOWNTIME]
    assert actions[0].elapsed_s == 4.75


def moving(t, processed, iteration=1, remaining=100 * MiB):
    return stats.JobSample.from_job_stats(
        {'type': 2, 'memory_iteration': iteration,
         'memory_remaining': remaining, 'memory_bps': 32 * MiB,
         'data_processed': processed}, taken_at=t)


def test_post_copy_is_held_while_the_link_moves_nothing():
    plan = make_plan(flags=(P.LIVE, P.POSTCOPY), escalation=(
        P.EscalationStep(P.TRIGGER_ELAPSED, 2, P.ACTION_POST_COPY),))
    esc = escalation.Escalator(plan, started_at=0.0)
    observe(esc, moving(1, 10 * MiB))
    observe(esc, moving(1.5, 20 * MiB))
    # Link cut: processed bytes stop growing.
    assert observe(esc, moving(2, 20 * MiB)) == []
    assert observe(esc, moving(3, 20 * MiB)) == []
    assert not esc.post_copy_started
    # Data moves again: the step fires.
    actions = observe(esc, moving(4, 30 * MiB))
    assert [a.kind for a in actions] == [P.ACTION_POST_COPY]


def test_post_copy_deadline_over_a_dead_link_waits_for_data_to_move():
    plan = make_plan(flags=(P.LIVE, P.POSTCOPY), deadline_s=3,
                     deadline_action=P.ACTION_POST_COPY)
    esc = escalation.Escalator(plan, started_at=0.0)
    observe(esc, moving(1, 10 * MiB))
    assert observe(esc, moving(3, 10 * MiB)) == []
    assert observe(esc, moving(4, 10 * MiB)) == []
    # The link is back: the deadline's switch fires over a live link.
    actions = observe(esc, moving(5, 20 * MiB))
    assert [a.kind for a in actions] == [P.ACTION_POST_COPY]
    assert 'held while no data moved' in actions[0].reason


def test_a_dead_link_holds_every_abort_and_leaves_the_guest_running():
    # The cut link of the fault runs through nova: QEMU 7.2 cancels a job
    # whose link is down only once the link is back, and the guest is
    # frozen until then; held, the guest runs on the source.
    plan = make_plan(flags=(P.LIVE, P.POSTCOPY), deadline_s=20,
                     deadline_action=P.ACTION_ABORT, escalation=(
                         P.EscalationStep(P.TRIGGER_ELAPSED, 5,
                                          P.ACTION_POST_COPY),
                         P.EscalationStep(P.TRIGGER_ELAPSED, 10,
                                          P.ACTION_ABORT)))
    esc = escalation.Escalator(plan, started_at=0.0)
    observe(esc, moving(1, 10 * MiB))
    observe(esc, moving(2, 20 * MiB))
    for t in range(3, 200):
        assert observe(esc, moving(t, 20 * MiB)) == [], t
    assert not esc.post_copy_started and not esc.aborted
    # Data moves again: the held post-copy step fires first.
    actions = observe(esc, moving(200, 30 * MiB))
    assert [a.kind for a in actions] == [P.ACTION_POST_COPY]


def test_a_dead_link_holds_the_abort_deadline_until_data_moves():
    plan = make_plan(deadline_s=20, deadline_action=P.ACTION_ABORT)
    esc = escalation.Escalator(plan, started_at=0.0)
    observe(esc, moving(1, 10 * MiB))
    for t in range(2, 60):
        assert observe(esc, moving(t, 10 * MiB)) == [], t
    actions = observe(esc, moving(60, 11 * MiB))
    assert [(a.kind, a.source) for a in actions] == [
        (P.ACTION_ABORT, escalation.SOURCE_DEADLINE)]


def test_a_dead_link_still_raises_the_downtime_at_the_deadline():
    plan = make_plan(deadline_s=5, deadline_action=P.ACTION_RAISE_DOWNTIME,
                     max_downtime_ms=2000)
    esc = escalation.Escalator(plan, started_at=0.0)
    observe(esc, moving(1, 10 * MiB))
    actions = observe(esc, moving(6, 10 * MiB))
    assert [a.kind for a in actions] == [P.ACTION_RAISE_DOWNTIME]


def test_a_link_that_comes_back_restarts_the_dead_link_clock():
    plan = make_plan(deadline_s=600)
    esc = escalation.Escalator(plan, started_at=0.0)
    observe(esc, moving(1, 10 * MiB))
    for t in range(2, 30):
        observe(esc, moving(t, 10 * MiB))
    observe(esc, moving(30, 11 * MiB))     # one byte count more: alive
    for t in range(31, 60):
        assert observe(esc, moving(t, 11 * MiB)) == [], t
    assert not esc.aborted


# -- the escalator follows what libvirt took, not what it asked for --------

def test_refused_post_copy_step_leaves_the_ladder_running():
    plan = make_plan(flags=(P.LIVE, P.POSTCOPY), escalation=(
        P.EscalationStep(P.TRIGGER_ELAPSED, 1, P.ACTION_POST_COPY),
        P.EscalationStep(P.TRIGGER_ELAPSED, 2, P.ACTION_ABORT)))
    esc = escalation.Escalator(plan, started_at=0.0)
    [switch] = esc.observe(sample(1))
    assert switch.kind == P.ACTION_POST_COPY
    esc.refuse(switch, 'libvirt refused the switch')
    assert not esc.post_copy_started and not esc.finished
    assert [r.action for r in esc.refused] == [switch]
    assert esc.taken == ()
    # The next step still fires: the guest is not left to run unbounded.
    assert [a.kind for a in observe(esc, sample(2))] == [P.ACTION_ABORT]
    assert esc.aborted and esc.finished


def test_refused_post_copy_deadline_aborts_at_the_next_poll():
    plan = make_plan(flags=(P.LIVE, P.POSTCOPY), deadline_s=10,
                     deadline_action=P.ACTION_POST_COPY)
    esc = escalation.Escalator(plan, started_at=0.0)
    [switch] = esc.observe(sample(10))
    assert (switch.kind, switch.source) == (P.ACTION_POST_COPY,
                                            escalation.SOURCE_DEADLINE)
    esc.refuse(switch, 'refused')
    [abort] = observe(esc, sample(10.5))
    assert (abort.kind, abort.source) == (P.ACTION_ABORT,
                                          escalation.SOURCE_DEADLINE)
    assert 'refused post-copy' in abort.reason
    assert esc.aborted


def test_failed_abort_is_retried_until_libvirt_takes_it():
    plan = make_plan(deadline_s=10, deadline_action=P.ACTION_ABORT)
    esc = escalation.Escalator(plan, started_at=0.0)
    [abort] = esc.observe(sample(10))
    esc.refuse(abort, 'abortJob failed')
    assert not esc.aborted and not esc.finished
    [again] = esc.observe(sample(10.5))
    assert again.kind == P.ACTION_ABORT
    esc.refuse(again, 'abortJob failed')
    [third] = observe(esc, sample(11))
    assert third.kind == P.ACTION_ABORT and esc.aborted
    assert len(esc.refused) == 2 and esc.taken == (third,)


def test_refused_raise_keeps_the_downtime_and_the_next_step_fires():
    plan = make_plan(initial_downtime_ms=100, escalation=(
        P.EscalationStep(P.TRIGGER_ELAPSED, 1, P.ACTION_RAISE_DOWNTIME,
                         downtime_ms=300),
        P.EscalationStep(P.TRIGGER_ELAPSED, 2, P.ACTION_RAISE_DOWNTIME,
                         downtime_ms=200)))
    esc = escalation.Escalator(plan, started_at=0.0)
    [raise_300] = esc.observe(sample(1))
    esc.refuse(raise_300, 'no')
    assert esc.current_downtime_ms == 100
    # 200 ms is still a raise over the 100 ms in force.
    [raise_200] = observe(esc, sample(2))
    assert raise_200.downtime_ms == 200
    assert esc.current_downtime_ms == 200


def test_refused_pause_deadline_aborts_instead():
    plan = make_plan(deadline_s=10, deadline_action=P.ACTION_PAUSE,
                     max_pause_ms=10000)
    esc = escalation.Escalator(plan, started_at=0.0)
    [pause] = esc.observe(sample(10, remaining=1 * MiB))
    assert pause.kind == P.ACTION_PAUSE
    esc.refuse(pause, 'suspend failed')
    assert not esc.paused
    assert [a.kind for a in observe(esc, sample(10.5))] == [P.ACTION_ABORT]


def test_nothing_is_emitted_after_a_switch_until_libvirt_answers():
    plan = make_plan(flags=(P.LIVE, P.POSTCOPY), escalation=(
        P.EscalationStep(P.TRIGGER_ELAPSED, 1, P.ACTION_POST_COPY),
        P.EscalationStep(P.TRIGGER_ELAPSED, 1, P.ACTION_ABORT)))
    esc = escalation.Escalator(plan, started_at=0.0)
    assert [a.kind for a in esc.observe(sample(1))] == [P.ACTION_POST_COPY]
    with pytest.raises(RuntimeError):
        esc.observe(sample(1.5))
