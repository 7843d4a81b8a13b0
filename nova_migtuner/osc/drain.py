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

"""Draining a host: which server to move next, and when. Pure code.

``order_candidates`` sorts the servers of a host by predicted cost;
``DrainScheduler`` is the state machine that decides when the next live
migration may start; ``run_drain`` drives it with a ``MigrationBackend``
(the openstack API in ``osc.client``, a fake in the unit tests), a clock and
a sleep function.

Spacing ("Cost of Virtual Machine Live Migration in Clouds", Voorsluys
et al., 2009): response times peak right after a migration's switch-over and
take about 5 s to recover, and two migrations close together broke even a
90th-percentile SLA. So a new migration starts only ``spacing`` seconds after
the previous start AND after the previous end: with one migration at a time
that is a quiet gap between two migrations, with several in parallel the
starts are staggered and every switch-over is followed by a recovery window.

Per server the states are::

    pending --start--> running --finish--> completed | failed
    pending --start failed--> failed
    pending|running --retry later--> pending (after a delay; at most
                                     max_attempts starts, then failed)
    running --timeout--> aborting --finish--> timed out | completed
    pending --stop--> not_started
    running|aborting --stop watching--> unwatched  (still running in nova)

A slot (``max_parallel``) is held by every running and aborting migration:
it is freed only when nova's records show that the migration ended, or that
it never started.

Errors of the compute API are of three sorts (``MigrationBackend``):
``RetryLater`` (nova refused the start for now: no valid host, the server is
busy; nothing started), ``TransientError`` (the call failed on the way, a
connection error or a 5xx: whether nova accepted the start is unknown, so
the migration holds its slot until the backend knows, and a failed poll is
repeated) and ``NotStarted`` (a start whose answer was lost never reached
nova). Any other error of a start fails that server only.
"""

import dataclasses
import enum
import math
from typing import Callable, Optional, Tuple

ORDER_CHEAPEST_FIRST = 'cheapest-first'
ORDER_LARGEST_FIRST = 'largest-first'
ORDERS = (ORDER_CHEAPEST_FIRST, ORDER_LARGEST_FIRST)
# Twice the ~5 s the paper measured for response times to recover after a
# switch-over: the recovery of one migration must not overlap the next.
DEFAULT_SPACING_S = 10.0
DEFAULT_MAX_PARALLEL = 1
DEFAULT_POLL_INTERVAL_S = 2.0
# A server nova could not place now (no valid host) is tried again after
# the others, at most this many starts in all, this long after the refusal.
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_RETRY_DELAY_S = 60.0


class DrainError(ValueError):
    """An invalid drain parameter or state transition."""


class RetryLater(Exception):
    """Nova refused to start the migration for now; nothing started."""


class TransientError(Exception):
    """An API call failed on the way (connection, 5xx); may be repeated."""


class NotStarted(Exception):
    """A start whose answer was lost never reached nova."""


class Status(enum.Enum):
    PENDING = 'pending'
    RUNNING = 'running'
    COMPLETED = 'completed'
    FAILED = 'failed'
    NOT_STARTED = 'not started'
    UNWATCHED = 'still running in nova'
    ABORTING = 'aborting'
    TIMED_OUT = 'timed out'


FINAL = frozenset((Status.COMPLETED, Status.FAILED, Status.NOT_STARTED,
                   Status.UNWATCHED, Status.TIMED_OUT))
# Statuses that hold a slot: nova may be migrating the server.
IN_FLIGHT = (Status.RUNNING, Status.ABORTING)


@dataclasses.dataclass(frozen=True)
class DrainCandidate:
    """A server on the host being drained, with its predicted cost."""
    server_id: str
    name: str
    memory_bytes: int
    flavor: str = ''
    strategy: str = ''
    converges: bool = True
    predicted_seconds: Optional[float] = None
    predicted_bytes: Optional[int] = None
    predicted_downtime_ms: Optional[float] = None


@dataclasses.dataclass(frozen=True)
class MigrationResult:
    """What the backend reports about a migration that ended."""
    completed: bool
    destination: Optional[str] = None
    error: Optional[str] = None
    # Measured by the compute (the .end notification), when available.
    total_seconds: Optional[float] = None
    downtime_ms: Optional[float] = None
    data_bytes: Optional[int] = None
    measured: bool = False


@dataclasses.dataclass(frozen=True)
class DrainItem:
    candidate: DrainCandidate
    status: Status = Status.PENDING
    started_at: Optional[float] = None
    finished_at: Optional[float] = None
    result: Optional[MigrationResult] = None
    error: Optional[str] = None
    progress: Optional[float] = None     # 0..1 while running, if known
    attempts: int = 0                    # starts tried
    not_before: Optional[float] = None   # a retry waits until then
    poll_errors: int = 0                 # failed polls in a row

    @property
    def observed_seconds(self):
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at


@dataclasses.dataclass(frozen=True)
class Decision:
    """What to do now: start these servers, then wait at most wait_s."""
    start: Tuple[str, ...] = ()
    wait_s: float = 0.0
    done: bool = False


def _cost_key(candidate):
    seconds = (candidate.predicted_seconds
               if candidate.converges and
               candidate.predicted_seconds is not None else math.inf)
    return (not candidate.converges, seconds, candidate.memory_bytes,
            candidate.name, candidate.server_id)


def order_candidates(candidates, order=ORDER_CHEAPEST_FIRST):
    """Sort servers for a drain.

    cheapest-first: shortest predicted migration first, servers predicted
    not to converge last - the most servers leave the host soonest and the
    risky ones are tried when the host is least loaded.
    largest-first: most memory first - frees the most memory soonest (memory
    is what limits the destinations: real memory must not be overcommitted).
    """
    if order == ORDER_CHEAPEST_FIRST:
        return tuple(sorted(candidates, key=_cost_key))
    if order == ORDER_LARGEST_FIRST:
        return tuple(sorted(candidates, key=lambda c: (
            -c.memory_bytes, c.name, c.server_id)))
    raise DrainError('order %r unknown; allowed: %s'
                     % (order, ', '.join(ORDERS)))


class DrainScheduler:
    """The drain state machine; every time is given by the caller."""

    def __init__(self, candidates, max_parallel=DEFAULT_MAX_PARALLEL,
                 spacing_s=DEFAULT_SPACING_S,
                 max_attempts=DEFAULT_MAX_ATTEMPTS,
                 retry_delay_s=DEFAULT_RETRY_DELAY_S,
                 migration_timeout_s=0.0):
        if max_parallel < 1:
            raise DrainError('max-parallel must be at least 1, got %r'
                             % max_parallel)
        if spacing_s < 0:
            raise DrainError('spacing must not be negative, got %r'
                             % spacing_s)
        if max_attempts < 1:
            raise DrainError('attempts must be at least 1, got %r'
                             % max_attempts)
        if retry_delay_s < 0 or migration_timeout_s < 0:
            raise DrainError('retry delay and migration timeout must not be '
                             'negative, got %r and %r'
                             % (retry_delay_s, migration_timeout_s))
        ids = [c.server_id for c in candidates]
        if len(set(ids)) != len(ids):
            raise DrainError('a server is listed twice')
        self.max_parallel = max_parallel
        self.spacing_s = float(spacing_s)
        self.max_attempts = max_attempts
        self.retry_delay_s = float(retry_delay_s)
        # 0: wait for every migration as long as nova takes.
        self.migration_timeout_s = float(migration_timeout_s)
        self._order = tuple(ids)
        self._items = {c.server_id: DrainItem(c) for c in candidates}
        self._last_start = None
        self._last_end = None
        self.stopping = False

    # Views.
    @property
    def items(self):
        """All items in drain order."""
        return tuple(self._items[i] for i in self._order)

    def item(self, server_id):
        return self._items[server_id]

    def with_status(self, *statuses):
        return tuple(i for i in self.items if i.status in statuses)

    @property
    def running(self):
        """The migrations that hold a slot (running or aborting)."""
        return self.with_status(*IN_FLIGHT)

    def timed_out(self, now):
        """Running migrations past the per-migration timeout."""
        if not self.migration_timeout_s:
            return ()
        return tuple(i for i in self.with_status(Status.RUNNING)
                     if now - i.started_at >= self.migration_timeout_s)

    @property
    def done(self):
        return all(i.status in FINAL for i in self.items)

    # Decisions.
    def earliest_start(self):
        """When spacing allows the next start (None: right away)."""
        marks = [t + self.spacing_s for t in (self._last_start,
                                              self._last_end)
                 if t is not None]
        return max(marks) if marks else None

    def decide(self, now):
        if self.done:
            return Decision(done=True)
        waiting = self.with_status(Status.PENDING)
        # Retries go after the servers not tried yet, each after its delay.
        pending = sorted((i for i in waiting
                          if i.not_before is None or i.not_before <= now),
                         key=lambda i: i.attempts)
        free = self.max_parallel - len(self.running)
        if self.stopping or not waiting or free <= 0:
            return Decision(wait_s=math.inf)
        if not pending:
            return Decision(wait_s=min(i.not_before for i in waiting) - now)
        earliest = self.earliest_start()
        if earliest is not None and now < earliest:
            return Decision(wait_s=earliest - now)
        # With spacing, starts are staggered one at a time; without it,
        # every free slot is filled at once.
        count = 1 if self.spacing_s > 0 else free
        start = tuple(i.candidate.server_id for i in pending[:count])
        return Decision(start=start,
                        wait_s=self.spacing_s if self.spacing_s else 0.0)

    # Transitions.
    def _move(self, server_id, allowed_from, **changes):
        item = self._items.get(server_id)
        if item is None:
            raise DrainError('server %s is not part of this drain'
                             % server_id)
        if item.status not in allowed_from:
            raise DrainError('server %s is %s; cannot become %s'
                             % (server_id, item.status.value,
                                changes['status'].value))
        self._items[server_id] = dataclasses.replace(item, **changes)

    def started(self, server_id, now):
        if self.stopping:
            raise DrainError('drain is stopping; %s must not start'
                             % server_id)
        if len(self.running) >= self.max_parallel:
            raise DrainError('%d migrations already running'
                             % len(self.running))
        item = self._items.get(server_id)
        self._move(server_id, (Status.PENDING,), status=Status.RUNNING,
                   started_at=now, not_before=None, poll_errors=0,
                   attempts=(item.attempts if item else 0) + 1)
        self._last_start = now

    def start_failed(self, server_id, now, error):
        # Nothing moved, so no recovery time is needed before the next.
        self._move(server_id, (Status.PENDING,), status=Status.FAILED,
                   finished_at=now, error=error)

    def retry_later(self, server_id, now, error):
        """Nothing started (refused for now, or never reached nova).

        Try again after ``retry_delay_s``, or fail after ``max_attempts``;
        returns whether it will be tried again.
        """
        item = self._items.get(server_id)
        attempts = item.attempts if item is not None else 0
        if item is not None and item.status == Status.PENDING:
            attempts += 1       # refused at the start itself
        if attempts >= self.max_attempts:
            self._move(server_id, (Status.PENDING, Status.RUNNING),
                       status=Status.FAILED, finished_at=now,
                       attempts=attempts,
                       error='%s (gave up after %d attempts)'
                       % (error, attempts))
            return False
        self._move(server_id, (Status.PENDING, Status.RUNNING),
                   status=Status.PENDING, attempts=attempts, error=error,
                   not_before=now + self.retry_delay_s, started_at=None,
                   progress=None)
        return True

    def progressed(self, server_id, fraction):
        item = self._items.get(server_id)
        status = item.status if item is not None else Status.RUNNING
        self._move(server_id, IN_FLIGHT, status=status, progress=fraction,
                   poll_errors=0)

    def poll_failed(self, server_id):
        """A poll of a running migration failed; returns the count in a row.

        The migration keeps its slot: nova may still be running it.
        """
        item = self._items[server_id]
        self._move(server_id, IN_FLIGHT, status=item.status,
                   poll_errors=item.poll_errors + 1)
        return item.poll_errors + 1

    def aborting(self, server_id, error):
        """Past the timeout; the abort was asked for (or refused)."""
        self._move(server_id, (Status.RUNNING,), status=Status.ABORTING,
                   error=error)

    def finished(self, server_id, now, result):
        item = self._items.get(server_id)
        if result.completed:
            status, error = Status.COMPLETED, result.error
        elif item is not None and item.status == Status.ABORTING:
            status, error = Status.TIMED_OUT, item.error
        else:
            status, error = Status.FAILED, result.error
        self._move(server_id, IN_FLIGHT, status=status,
                   finished_at=now, result=result, error=error,
                   progress=1.0 if result.completed else None,
                   poll_errors=0)
        self._last_end = now

    def stop(self):
        """Ctrl-C: start nothing more; running migrations are watched on."""
        self.stopping = True
        for item in self.with_status(Status.PENDING):
            self._move(item.candidate.server_id, (Status.PENDING,),
                       status=Status.NOT_STARTED)

    def stop_watching(self):
        """Second Ctrl-C: leave running migrations to nova, unwatched."""
        self.stop()
        for item in self.running:
            self._move(item.candidate.server_id, IN_FLIGHT,
                       status=Status.UNWATCHED)


class MigrationBackend:
    """What ``run_drain`` needs from the cloud."""

    def start(self, candidate):
        """Start the live migration; raise on refusal (message shown)."""
        raise NotImplementedError

    def poll(self, candidate):
        """Return a ``MigrationResult`` once ended, else progress 0..1 or
        None. Raise ``TransientError`` if nova could not be asked, and
        ``NotStarted`` if nova's records show the start never arrived.
        """
        raise NotImplementedError

    def abort(self, candidate):
        """Ask nova to abort the running migration (after the timeout)."""
        raise NotImplementedError


# After this many failed polls in a row, say so again.
POLL_ERRORS_REPORTED_EVERY = 10


def _poll_running(scheduler, backend, clock, on_change):
    """Poll every migration holding a slot; time out the slow ones."""
    for item in scheduler.running:
        server_id, name = item.candidate.server_id, item.candidate.name
        try:
            polled = backend.poll(item.candidate)
        except NotStarted as e:
            retried = scheduler.retry_later(server_id, clock(), str(e))
            on_change(scheduler, '%s: never reached nova (%s); %s' % (
                name, e, 'will try again' if retried else 'giving up'))
            continue
        except TransientError as e:
            # Nova may still be migrating it: keep the slot, ask again.
            count = scheduler.poll_failed(server_id)
            if count == 1 or count % POLL_ERRORS_REPORTED_EVERY == 0:
                on_change(scheduler, '%s: cannot read the migration (%s); '
                          'asking again (%d in a row)' % (name, e, count))
            continue
        if isinstance(polled, MigrationResult):
            scheduler.finished(server_id, clock(), polled)
            done = scheduler.item(server_id)
            on_change(scheduler, '%s: %s' % (
                name, 'moved to %s' % polled.destination
                if polled.completed else
                '%s: %s' % (done.status.value, done.error)))
        elif polled is not None:
            scheduler.progressed(server_id, polled)
            on_change(scheduler, None)
    for item in scheduler.timed_out(clock()):
        candidate = item.candidate
        reason = ('no end after %.0f s (--migration-timeout)'
                  % scheduler.migration_timeout_s)
        try:
            backend.abort(candidate)
            message = '%s: %s; abort asked of nova' % (candidate.name,
                                                       reason)
        except KeyboardInterrupt:
            raise
        except Exception as e:   # e.g. refused in post-copy: it ends anyway
            message = '%s: %s; nova did not abort it (%s), still watching' \
                % (candidate.name, reason, e)
        scheduler.aborting(candidate.server_id, reason)
        on_change(scheduler, message)


def _start(scheduler, backend, server_id, clock, on_change):
    candidate = scheduler.item(server_id).candidate
    try:
        backend.start(candidate)
    except KeyboardInterrupt:
        raise
    except RetryLater as e:
        retried = scheduler.retry_later(server_id, clock(), str(e))
        on_change(scheduler, '%s: not started: %s; %s' % (
            candidate.name, e,
            'will try again in %.0f s, after the others'
            % scheduler.retry_delay_s if retried else 'giving up'))
        return
    except TransientError as e:
        # Nova may have accepted it: hold the slot until its migration
        # records say (the backend's poll raises NotStarted if not).
        scheduler.started(server_id, clock())
        on_change(scheduler, '%s: no answer to the start (%s); checking '
                  'nova\'s migration records' % (candidate.name, e))
        return
    except Exception as e:   # refused by nova: report, go on
        scheduler.start_failed(server_id, clock(), str(e))
        on_change(scheduler, '%s: could not start: %s'
                  % (candidate.name, e))
        return
    scheduler.started(server_id, clock())
    on_change(scheduler, '%s: migration started' % candidate.name)


def run_drain(scheduler, backend, clock, sleep,
              poll_interval_s=DEFAULT_POLL_INTERVAL_S,
              on_change: Callable = lambda scheduler, message: None):
    """Run *scheduler* to the end; returns it.

    ``KeyboardInterrupt`` (raised by *sleep* or the backend) stops starting
    new migrations and keeps watching the running ones; a second one stops
    watching too. Migrations are not aborted by the drain, except one that
    runs past the scheduler's ``migration_timeout_s``.
    """
    if not poll_interval_s > 0:
        # Zero would poll nova in a busy loop.
        raise DrainError('poll interval must be above zero, got %r'
                         % poll_interval_s)
    interrupts = 0
    while True:
        try:
            # Poll first, so that an end is seen (and spaced from) before
            # the next start is decided.
            _poll_running(scheduler, backend, clock, on_change)
            decision = scheduler.decide(clock())
            if decision.done:
                return scheduler
            for server_id in decision.start:
                _start(scheduler, backend, server_id, clock, on_change)
            decision = scheduler.decide(clock())
            if decision.done:
                return scheduler
            if decision.start:
                continue
            wait = poll_interval_s if scheduler.running else decision.wait_s
            sleep(max(0.0, min(wait, poll_interval_s)))
        except KeyboardInterrupt:
            interrupts += 1
            if interrupts == 1:
                scheduler.stop()
                on_change(scheduler, 'interrupted: starting no more '
                          'migrations, waiting for %d running (Ctrl-C '
                          'again to stop watching them)'
                          % len(scheduler.running))
            else:
                scheduler.stop_watching()
                on_change(scheduler, 'stopped watching; running migrations '
                          'continue in nova')
                return scheduler
