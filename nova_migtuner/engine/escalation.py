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

"""Walk a plan's escalation ladder and deadline from job samples.

Pure decision code: ``Escalator.observe(sample)`` takes a ``JobSample`` and
returns the ``Action`` objects the caller must apply (the runner turns them
into ``migrateSetMaxDowntime``, ``migrateStartPostCopy``, ``suspend`` and
``abortJob``). It never calls libvirt, never sleeps and never reads the
clock: time comes from the samples' ``taken_at``. Unit tests feed it plain
dicts through ``JobSample.from_job_stats``.

Rules:

* The ladder (``plan.escalation``) is walked in order; each step fires at
  most once, and a step is only considered once every step before it has
  fired (or was skipped, see below).
* Triggers: ``iteration`` fires when ``memory_iteration >= threshold``;
  ``elapsed`` when the time since the start ``>= threshold`` s; ``stalled``
  when the migration has made no progress for ``threshold`` s (or for
  ``stall_window_s`` when given, which overrides every step's window).
* Progress, judged from the samples only (QEMU's rounds are not reported
  one by one): during the first pass every fall of the remaining memory by
  more than ``PROGRESS_FRACTION`` is progress. From the second round on,
  pre-copy converges only if rounds shrink until one fits in
  ``bandwidth x max downtime``; falls within a round say nothing (every
  round runs down to zero). So progress is a round that starts
  ``PROGRESS_FRACTION`` smaller than every round before (its start
  estimated from the first poll in it, the bandwidth and the previous
  poll), and a ``stalled`` step also needs ``MIN_STALLED_ROUNDS`` rounds
  without progress. A round seen while QEMU's dirty rate is at or above
  the transfer rate is never progress. Every action restarts the window,
  so the next ``stalled`` step judges the new setting on its own.
* Skipped steps (recorded in ``skipped``): a ``raise_downtime`` that would
  not raise the current limit, a ``post_copy`` when the plan's flags lack
  ``VIR_MIGRATE_POSTCOPY`` (libvirt would refuse the switch), a ``pause``
  whose pause (remaining bytes / current bandwidth) would exceed
  ``plan.max_pause_ms`` or whose length cannot be estimated.
* Deadline: at ``plan.completion_deadline_s`` the plan's ``deadline_action``
  fires once. A ``pause`` deadline becomes ``abort`` when the pause would
  exceed ``plan.max_pause_ms`` (the pause sends the remaining bytes plus
  what was dirtied again since the round began, see ``_pause_estimate``);
  a ``post_copy`` deadline becomes ``abort`` when the plan cannot
  post-copy; ``raise_downtime`` raises to
  ``plan.max_downtime_ms``.
* After a ``pause`` the guest is stopped: if the job still runs after twice
  the pause it was allowed (at least ``MIN_PAUSE_WATCHDOG_S``), ``abort``
  (the runner resumes the guest on the source).
* Link check: ``post_copy``, ``pause`` and ``abort`` need a link that
  carries data. After a post-copy switch or a pause over a dead link the
  guest runs nowhere; and QEMU 7.2 cancels a migration whose link is down
  only once the link is back, with the guest frozen meanwhile (measured
  through nova: a link cut for 40 s and aborted at 28-34 s froze the guest
  until the link returned, 13-27 s, while the same cut without an abort
  leaves the guest running). When no byte moved since the previous poll
  (``data_processed`` unchanged), a ladder step with those actions and the
  deadline action are held until data moves again; the guest runs on the
  source meanwhile. A link that never comes back ends the job when the
  kernel gives up on its TCP connection, or when libvirt's keepalive
  between the daemons does; an operator's abort (``openstack server
  migration abort``) still works.
* Terminal states: after ``post_copy`` nothing ever fires again (post-copy
  cannot be aborted without losing the guest); after ``abort`` nothing
  fires either.
* Confirmation: the escalator's state (current max downtime, paused,
  post-copy, aborted) changes only when the caller reports that libvirt
  took the action (``confirm(action)``); ``refuse(action, error)`` says it
  did not. A refused action leaves the ladder and the deadline running:
  a refused ``raise_downtime``, ``post_copy`` or ``pause`` step is recorded
  in ``refused`` and the next step is considered at the next poll (with
  the stall window the refused step found); a refused deadline action
  fires again at the next poll, as ``abort`` when it was a ``post_copy``
  or ``pause`` that libvirt refused; a refused ``abort`` is retried at
  every poll until libvirt takes it. Within one ``observe`` call nothing
  is emitted after a ``post_copy``, ``pause`` or ``abort``: the caller
  must learn first whether it took.
"""

import dataclasses
import logging
from typing import Optional

from nova_migtuner.planning import plan as plan_mod
from nova_migtuner import units

LOG = logging.getLogger(__name__)

# Remaining memory must fall by more than this fraction to count as progress:
# QEMU's counters wobble by a few pages between polls.
PROGRESS_FRACTION = 0.02
# From the second round on, a stall needs this many rounds without progress
# as well as the window: one long round (a big guest on a slow link) is
# not a stall. QEMU's auto-converge waits for two bad rounds too.
MIN_STALLED_ROUNDS = 2
# Shortest time a paused guest may stay paused before the watchdog aborts.
MIN_PAUSE_WATCHDOG_S = 1.0
# How long without a byte moved before the held actions are logged as held
# over a dead link (once per outage).
DEAD_LINK_WARNING_S = 30.0


def pause_allowed_s(plan):
    """How long the guest may stay paused before the watchdog aborts."""
    return max(MIN_PAUSE_WATCHDOG_S, 2 * plan.max_pause_ms / 1000.0)


SOURCE_LADDER = 'escalation'
# Actions that only end well if the migration link still carries data.
_NEEDS_LINK = (plan_mod.ACTION_POST_COPY, plan_mod.ACTION_PAUSE,
               plan_mod.ACTION_ABORT)
SOURCE_DEADLINE = 'deadline'
SOURCE_WATCHDOG = 'pause-watchdog'


@dataclasses.dataclass(frozen=True)
class Action:
    """One thing the runner must do now.

    :ivar kind: ``plan.ACTION_*`` (raise_downtime, post_copy, pause, abort).
    :ivar downtime_ms: the new max downtime, for raise_downtime only.
    :ivar reason: why, with the numbers that triggered it.
    :ivar step: index in ``plan.escalation``; None for deadline/watchdog.
    :ivar source: 'escalation', 'deadline' or 'pause-watchdog'.
    :ivar elapsed_s: seconds since the migration started.
    :ivar iteration: QEMU memory iteration when it fired (None if unknown).
    :ivar remaining_bytes: memory still to send when it fired.
    """
    kind: str
    reason: str
    elapsed_s: float
    step: Optional[int] = None
    source: str = SOURCE_LADDER
    downtime_ms: Optional[int] = None
    iteration: Optional[int] = None
    remaining_bytes: Optional[int] = None

    def __post_init__(self):
        if self.kind not in plan_mod.ACTIONS:
            raise ValueError('action kind %r unknown; allowed: %s'
                             % (self.kind, ', '.join(plan_mod.ACTIONS)))
        if (self.kind == plan_mod.ACTION_RAISE_DOWNTIME) != (
                self.downtime_ms is not None):
            raise ValueError('downtime_ms goes with raise_downtime only')

    def describe(self):
        what = ('raise max downtime to %d ms' % self.downtime_ms
                if self.kind == plan_mod.ACTION_RAISE_DOWNTIME
                else self.kind.replace('_', '-'))
        return '%.1f s: %s (%s: %s)' % (self.elapsed_s, what, self.source,
                                        self.reason)

    def to_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class RefusedAction:
    """An action the caller could not apply (libvirt refused or failed)."""
    action: Action
    error: str

    def to_dict(self):
        return {'action': self.action.to_dict(), 'error': self.error}


@dataclasses.dataclass(frozen=True)
class SkippedStep:
    """A ladder step that was reached but not applied, and why."""
    step: int
    elapsed_s: float
    reason: str

    def to_dict(self):
        return dataclasses.asdict(self)


class Escalator:
    """State machine over one migration; feed it every sample in order.

    :param plan: the frozen ``MigrationPlan`` being executed.
    :param stall_window_s: if given, the stall window of every ``stalled``
        step (the test bed and bench use short windows); otherwise each
        step's own threshold.
    :param started_at: ``time.monotonic()`` when ``migrateToURI3`` was
        called; if None, derived from the first sample (its ``taken_at``
        minus libvirt's ``time_elapsed`` when reported).
    """

    def __init__(self, plan, stall_window_s=None, started_at=None):
        if stall_window_s is not None and stall_window_s <= 0:
            raise ValueError('stall_window_s must be > 0, got %r'
                             % stall_window_s)
        self.plan = plan
        self.stall_window_s = stall_window_s
        self.started_at = started_at
        self.current_downtime_ms = plan.initial_downtime_ms
        self._next_step = 0
        self._taken = []
        self._skipped = []
        self._refused = []
        # Emitted, neither confirmed nor refused yet.
        self._pending = []
        # Kinds libvirt refused: a deadline of that kind aborts instead.
        self._refused_kinds = set()
        self._abort_to_retry = None
        self._deadline_fired = False
        self.post_copy_started = False
        self.aborted = False
        self.paused_at_s = None
        self._pause_allowed_s = None
        # Progress tracking (see module docstring).
        self._progress_at_s = None
        self._in_round_mark = None
        self._best_round_start = None
        self._iteration = None
        self._previous = None
        self._rounds_since_progress = 0
        self._max_round_start = None
        self._last_processed = None
        # False when no byte moved since the previous poll (a cut link).
        self.link_moving = True
        # Elapsed s of the last poll that saw bytes move (or the first).
        self._moved_at_s = None
        self._held_step = None
        self._deadline_held = False
        self._dead_link_logged = False
        self.last_elapsed_s = 0.0
        self.max_throttle = 0

    # -- read-only views ---------------------------------------------------

    @property
    def taken(self):
        """Tuple of the confirmed ``Action`` objects, in order."""
        return tuple(self._taken)

    @property
    def refused(self):
        """Tuple of ``RefusedAction``: what libvirt did not take."""
        return tuple(self._refused)

    @property
    def skipped(self):
        return tuple(self._skipped)

    @property
    def finished(self):
        """True once nothing can fire any more (post-copy or abort)."""
        return self.post_copy_started or self.aborted

    @property
    def paused(self):
        return self.paused_at_s is not None

    @property
    def stalled_for_s(self):
        """Seconds since the last progress (or action), 0 before samples."""
        if self._progress_at_s is None:
            return 0.0
        return max(0.0, self.last_elapsed_s - self._progress_at_s)

    # -- the state machine -------------------------------------------------

    def elapsed(self, sample):
        if self.started_at is None:
            self.started_at = sample.taken_at - (sample.elapsed_s or 0.0)
        return max(0.0, sample.taken_at - self.started_at)

    def observe(self, sample):
        """Take one ``JobSample``; return the list of ``Action`` to apply.

        Samples of a job that is not running (type none/completed/failed/
        cancelled) are ignored and return ``[]``.
        """
        if self._pending:
            raise RuntimeError(
                'confirm or refuse every action before the next sample; '
                'pending: %s' % ', '.join(a.describe()
                                          for a, _ in self._pending))
        if not sample.active:
            return []
        elapsed = self.elapsed(sample)
        self.last_elapsed_s = elapsed
        if sample.auto_converge_throttle:
            self.max_throttle = max(self.max_throttle,
                                    sample.auto_converge_throttle)
        if self.finished:
            return []
        self._track_link(sample)
        self._track_progress(sample, elapsed)
        actions = []
        if self._abort_to_retry is not None:
            failed, self._abort_to_retry = self._abort_to_retry, None
            actions.append(self._act(
                plan_mod.ACTION_ABORT, sample, elapsed, step=failed.step,
                source=failed.source,
                reason='retrying the abort libvirt refused (%s)'
                       % failed.reason))
            return actions
        if self._moved_at_s is None or self.link_moving:
            self._moved_at_s = elapsed
        still_s = elapsed - self._moved_at_s
        if still_s >= DEAD_LINK_WARNING_S and not self._dead_link_logged:
            self._dead_link_logged = True
            LOG.warning('No data moved for %(s).1f s: the destination or the '
                        'migration link is not answering. Post-copy, pause '
                        'and abort are held until data moves again (an '
                        'abort now would freeze the guest until the link is '
                        'back); the guest runs on the source.',
                        {'s': still_s})
        elif self.link_moving:
            self._dead_link_logged = False
        if self.paused:
            if elapsed - self.paused_at_s > self._pause_allowed_s:
                actions.append(self._act(
                    plan_mod.ACTION_ABORT, sample, elapsed,
                    source=SOURCE_WATCHDOG,
                    reason='guest paused %.1f s, more than the %.1f s '
                           'allowed' % (elapsed - self.paused_at_s,
                                        self._pause_allowed_s)))
            return actions
        actions.extend(self._walk_ladder(sample, elapsed))
        if (not self.finished and not self.paused and
                not self._awaiting_outcome and
                not self._deadline_fired and
                elapsed >= self.plan.completion_deadline_s and
                self._deadline_can_act()):
            self._deadline_fired = True
            action = self._deadline_action(sample, elapsed)
            if action is not None:
                actions.append(action)
        return actions

    def _walk_ladder(self, sample, elapsed):
        actions = []
        steps = self.plan.escalation
        while (self._next_step < len(steps) and not self.finished and
               not self.paused and not self._awaiting_outcome):
            index = self._next_step
            step = steps[index]
            why = self._triggered(step, sample, elapsed)
            if why is None:
                break
            if step.action in _NEEDS_LINK and not self.link_moving:
                # Post-copy or a pause over a link that moves nothing would
                # leave the guest stopped (or split across hosts), and an
                # abort would freeze it until the link is back: hold the
                # step until data moves again.
                if self._held_step != index:
                    self._held_step = index
                    LOG.warning('Escalation step %(index)d (%(action)s) '
                                'held: no data moved since the previous '
                                'poll', {'index': index,
                                         'action': step.action})
                break
            self._next_step += 1
            action = self._step_action(index, step, sample, elapsed, why)
            if action is not None:
                actions.append(action)
        return actions

    @property
    def _awaiting_outcome(self):
        # After a post-copy switch, a pause or an abort the next action
        # depends on whether libvirt took it.
        return any(a.kind != plan_mod.ACTION_RAISE_DOWNTIME
                   for a, _ in self._pending)

    @property
    def _planned_downtime_ms(self):
        """The max downtime once every pending raise is confirmed."""
        raises = [a.downtime_ms for a, _ in self._pending
                  if a.kind == plan_mod.ACTION_RAISE_DOWNTIME]
        return max([self.current_downtime_ms] + raises)

    def _triggered(self, step, sample, elapsed):
        """Return the trigger's reason text if *step* fires now, else None."""
        if step.trigger == plan_mod.TRIGGER_ITERATION:
            if (sample.memory_iteration is not None and
                    sample.memory_iteration >= step.threshold):
                return 'memory iteration %d >= %g' % (
                    sample.memory_iteration, step.threshold)
        elif step.trigger == plan_mod.TRIGGER_ELAPSED:
            if elapsed >= step.threshold:
                return '%.1f s elapsed >= %g s' % (elapsed, step.threshold)
        elif step.trigger == plan_mod.TRIGGER_STALLED:
            window = (self.stall_window_s if self.stall_window_s is not None
                      else step.threshold)
            rounds_ok = (sample.memory_iteration is None or
                         sample.memory_iteration <= 1 or
                         self._rounds_since_progress >= MIN_STALLED_ROUNDS)
            if self.stalled_for_s >= window and rounds_ok:
                return ('no progress for %.1f s >= %g s window (%s '
                        'remaining, dirty %s, transfer %s)' % (
                            self.stalled_for_s, window,
                            _size(sample.remaining_bytes),
                            _rate(sample.dirty_rate_bytes_s),
                            _rate(sample.memory_bps)))
        return None

    def _step_action(self, index, step, sample, elapsed, why):
        reason = '%s; %s' % (why, step.reason) if step.reason else why
        if step.action == plan_mod.ACTION_RAISE_DOWNTIME:
            if step.downtime_ms <= self._planned_downtime_ms:
                return self._skip(index, elapsed,
                                  'downtime already %d ms >= %d ms'
                                  % (self._planned_downtime_ms,
                                     step.downtime_ms))
            return self._act(plan_mod.ACTION_RAISE_DOWNTIME, sample, elapsed,
                             reason=reason, step=index,
                             downtime_ms=step.downtime_ms)
        if step.action == plan_mod.ACTION_POST_COPY:
            if not self.plan.may_post_copy:
                return self._skip(index, elapsed,
                                  'plan flags lack %s: libvirt cannot '
                                  'switch to post-copy' % plan_mod.POSTCOPY)
            return self._act(plan_mod.ACTION_POST_COPY, sample, elapsed,
                             reason=reason, step=index)
        if step.action == plan_mod.ACTION_PAUSE:
            pause_s, why_not = self._pause_estimate(sample)
            if why_not:
                return self._skip(index, elapsed, why_not)
            return self._act(plan_mod.ACTION_PAUSE, sample, elapsed,
                             reason='%s; estimated pause %.0f ms'
                                    % (reason, pause_s * 1000), step=index)
        return self._act(plan_mod.ACTION_ABORT, sample, elapsed,
                         reason=reason, step=index)

    def _deadline_can_act(self):
        """Whether the deadline may fire now: every deadline action other
        than a downtime raise may end in an abort, held while the link
        moves nothing.
        """
        if self.link_moving:
            return True
        if self.plan.deadline_action == plan_mod.ACTION_RAISE_DOWNTIME:
            return True
        if not self._deadline_held:
            self._deadline_held = True
            LOG.warning('Completion deadline %(d).0f s reached; its '
                        '%(action)s is held: no data moved since the '
                        'previous poll', {'d': self.plan.completion_deadline_s,
                                          'action': self.plan.deadline_action})
        return False

    def _deadline_action(self, sample, elapsed):
        kind = self.plan.deadline_action
        why = 'completion deadline %.0f s reached at %.1f s' % (
            self.plan.completion_deadline_s, elapsed)
        if self._deadline_held:
            why += ' (held while no data moved)'
        if kind in self._refused_kinds:
            return self._act(plan_mod.ACTION_ABORT, sample, elapsed,
                             source=SOURCE_DEADLINE,
                             reason='%s; libvirt refused %s earlier, abort '
                                    'instead' % (why, kind.replace('_', '-')))
        if kind == plan_mod.ACTION_POST_COPY:
            if self.plan.may_post_copy:
                return self._act(kind, sample, elapsed, reason=why,
                                 source=SOURCE_DEADLINE)
            return self._act(plan_mod.ACTION_ABORT, sample, elapsed,
                             source=SOURCE_DEADLINE,
                             reason='%s; post-copy not in the plan flags, '
                                    'abort instead' % why)
        if kind == plan_mod.ACTION_PAUSE:
            pause_s, why_not = self._pause_estimate(sample)
            if why_not:
                return self._act(plan_mod.ACTION_ABORT, sample, elapsed,
                                 source=SOURCE_DEADLINE,
                                 reason='%s; pausing refused (%s), abort '
                                        'instead' % (why, why_not))
            return self._act(kind, sample, elapsed, source=SOURCE_DEADLINE,
                             reason='%s; estimated pause %.0f ms'
                                    % (why, pause_s * 1000))
        if kind == plan_mod.ACTION_RAISE_DOWNTIME:
            if self.plan.max_downtime_ms <= self._planned_downtime_ms:
                return None
            return self._act(kind, sample, elapsed, source=SOURCE_DEADLINE,
                             reason=why,
                             downtime_ms=self.plan.max_downtime_ms)
        return self._act(plan_mod.ACTION_ABORT, sample, elapsed,
                         source=SOURCE_DEADLINE, reason=why)

    def _pause_estimate(self, sample):
        """Return ``(pause_seconds, None)`` or ``(None, why_not)``.

        A paused guest still has to send the rest of the current round
        *and* every page dirtied since the round began, which QEMU only
        learns at the next bitmap sync: up to a whole working set. The
        largest round seen after the first pass estimates that; during the
        first pass, what was already sent may all be dirty again. (On the
        test bed, remaining/bandwidth alone predicted 2.5 s for a pause
        that took 6.6 s.)
        """
        remaining = sample.remaining_bytes
        bandwidth = sample.memory_bps or (
            self.plan.bandwidth_mib_s * units.MiB)
        if remaining is None or not bandwidth:
            return None, ('pause length unknown: remaining %s, bandwidth %s'
                          % (_size(remaining), _rate(bandwidth)))
        if self._max_round_start is not None:
            redirtied = self._max_round_start
        elif sample.memory_total:
            redirtied = max(0, sample.memory_total - remaining)
        else:
            redirtied = remaining
        to_send = remaining + redirtied
        pause_s = to_send / float(bandwidth)
        if pause_s * 1000.0 > self.plan.max_pause_ms:
            return None, ('pause would send %s (%s remaining + %s dirtied '
                          'again) at %s: %.0f ms > max_pause_ms %d' % (
                              _size(to_send), _size(remaining),
                              _size(redirtied), _rate(bandwidth),
                              pause_s * 1000, self.plan.max_pause_ms))
        return pause_s, None

    def _act(self, kind, sample, elapsed, reason, step=None,
             source=SOURCE_LADDER, downtime_ms=None):
        action = Action(kind=kind, reason=reason, elapsed_s=elapsed,
                        step=step, source=source, downtime_ms=downtime_ms,
                        iteration=sample.memory_iteration,
                        remaining_bytes=sample.remaining_bytes)
        # A new setting deserves a full window of its own; the window the
        # action found comes back if libvirt refuses it.
        self._pending.append((action, self._progress_at_s))
        self._progress_at_s = elapsed
        LOG.info('Migration escalation (%(strategy)s): %(what)s',
                 {'strategy': self.plan.strategy, 'what': action.describe()})
        return action

    def _resolve(self, action):
        for index, (pending, window) in enumerate(self._pending):
            if pending is action:
                del self._pending[index]
                return window
        raise ValueError('action %s was not emitted by this escalator or '
                         'was already confirmed or refused'
                         % action.describe())

    def confirm(self, action):
        """libvirt took *action*: the escalator's state follows it."""
        self._resolve(action)
        self._taken.append(action)
        kind = action.kind
        if kind == plan_mod.ACTION_RAISE_DOWNTIME:
            self.current_downtime_ms = max(self.current_downtime_ms,
                                           action.downtime_ms)
        elif kind == plan_mod.ACTION_POST_COPY:
            self.post_copy_started = True
        elif kind == plan_mod.ACTION_ABORT:
            self.aborted = True
        elif kind == plan_mod.ACTION_PAUSE:
            self.paused_at_s = action.elapsed_s
            self._pause_allowed_s = pause_allowed_s(self.plan)

    def refuse(self, action, error):
        """libvirt did not take *action*: keep the ladder and deadline."""
        window = self._resolve(action)
        self._refused.append(RefusedAction(action, str(error)))
        if self._progress_at_s == action.elapsed_s:
            self._progress_at_s = window
        kind = action.kind
        if kind == plan_mod.ACTION_ABORT:
            self._abort_to_retry = action
        elif kind in (plan_mod.ACTION_POST_COPY, plan_mod.ACTION_PAUSE):
            self._refused_kinds.add(kind)
        if action.source == SOURCE_DEADLINE:
            self._deadline_fired = False
        LOG.warning('Migration escalation (%(strategy)s): libvirt refused '
                    '%(what)s: %(error)s; the ladder and the deadline go '
                    'on', {'strategy': self.plan.strategy,
                           'what': action.describe(), 'error': error})

    def _skip(self, index, elapsed, reason):
        self._skipped.append(SkippedStep(index, elapsed, reason))
        LOG.info('Migration escalation step %(index)d skipped at %(t).1f s: '
                 '%(reason)s', {'index': index, 't': elapsed,
                                'reason': reason})
        return None

    def _track_link(self, sample):
        processed = (sample.data_processed if sample.data_processed
                     is not None else sample.memory_processed)
        if processed is None or self._last_processed is None:
            self.link_moving = True
        else:
            self.link_moving = processed > self._last_processed
        if processed is not None:
            self._last_processed = processed

    def _track_progress(self, sample, elapsed):
        remaining = sample.remaining_bytes
        if self._progress_at_s is None:
            self._progress_at_s = elapsed
        if remaining is None:
            return
        iteration = sample.memory_iteration
        dirty = sample.dirty_rate_bytes_s
        bps = sample.memory_bps
        hopeless = bool(dirty and bps and dirty >= bps)
        progress = False
        if iteration is None or iteration <= 1:
            # First pass (iteration 0 is libvirt's setup, remaining 0):
            # every page sent is progress.
            mark = self._in_round_mark
            if mark is None or remaining > mark:
                self._in_round_mark = remaining
            elif remaining < mark * (1 - PROGRESS_FRACTION):
                self._in_round_mark = remaining
                progress = True
        elif self._iteration is None or iteration > self._iteration:
            # A new round: only rounds that start smaller than every round
            # before are progress (QEMU's own test before it throttles).
            self._rounds_since_progress += iteration - (self._iteration or 1)
            start = self._round_start(sample, remaining, bps)
            self._max_round_start = max(self._max_round_start or 0, start)
            best = self._best_round_start
            if best is None or start < best * (1 - PROGRESS_FRACTION):
                self._best_round_start = start
                progress = not hopeless
        self._iteration = iteration
        self._previous = (sample.taken_at, remaining)
        if progress:
            self._progress_at_s = elapsed
            self._rounds_since_progress = 0

    def _round_start(self, sample, remaining, bps):
        """Estimate the size of the round *sample* is the first poll of.

        The poll comes up to one interval after the round began: add what
        was sent since the previous round ran out, or the estimate varies
        with the polling phase by ``bps x interval``.
        """
        if self._previous is None or not bps:
            return remaining
        taken_at, previous_remaining = self._previous
        sent = (sample.taken_at - taken_at) * bps - previous_remaining
        start = remaining + max(0.0, sent)
        if sample.memory_total:
            start = min(start, sample.memory_total)
        return start


def _size(value):
    return 'unknown' if value is None else units.format_size(value)


def _rate(value):
    return 'unknown' if value is None else units.format_rate(value)
