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
"""Live progress of running live migrations, for ``migrate --wait`` and
``drain``.

Where the numbers come from:

* remaining and total memory (and disk, for block migrations): nova's API,
  ``GET /servers/{id}/migrations`` (``memory_remaining_bytes`` and the
  other ``*_bytes`` fields, which the compute refreshes from libvirt's job
  while the migration runs);
* the iteration: counted here, one more each time the remaining memory
  rises between two polls (libvirt starts a pass over the memory dirtied
  meanwhile); polls may miss a pass, so it is shown as "at least";
* max downtime and escalations: the plan (the strategy's starting max
  downtime, its ceiling and its escalation steps). What the compute did
  is in the measured report printed at the end; nova's API does not expose
  it while the migration runs;
* the ETA: an estimate. The model's predicted total time less the time
  elapsed, weighted against the remaining bytes divided by the rate
  observed over the last polls; the observed rate counts more the longer
  the migration runs.

``Tracker`` folds samples into a ``Status`` (pure); ``ProgressDisplay``
draws them: on a terminal a live display with the ``rich`` library, on
anything else one line per change, for CI logs and pipes.
"""

import collections
import dataclasses
from typing import Optional

from nova_migtuner.osc import drain as drain_mod
from nova_migtuner import units

# Polls the observed rate is computed over.
RATE_WINDOW = 5


@dataclasses.dataclass(frozen=True)
class Sample:
    """nova's migration progress fields at one poll.

    Bytes; None when nova has not filled them in yet.
    """
    at_s: float
    memory_total_bytes: Optional[int] = None
    memory_processed_bytes: Optional[int] = None
    memory_remaining_bytes: Optional[int] = None
    disk_total_bytes: Optional[int] = None
    disk_processed_bytes: Optional[int] = None
    disk_remaining_bytes: Optional[int] = None

    @classmethod
    def from_migration(cls, migration, at_s):
        """From an openstacksdk ``ServerMigration``."""
        def field(name):
            value = getattr(migration, name, None)
            return None if value is None else int(value)
        return cls(at_s=at_s, **{
            f.name: field(f.name) for f in dataclasses.fields(cls)
            if f.name != 'at_s'})

    @property
    def known(self):
        return bool(self.memory_total_bytes)

    @property
    def fraction(self):
        """Share of memory sent, 0..1, as nova's processed/total."""
        if not self.known:
            return None
        return min(1.0, float(self.memory_processed_bytes or 0) /
                   self.memory_total_bytes)

    @property
    def processed_bytes(self):
        return (self.memory_processed_bytes or 0) + (
            self.disk_processed_bytes or 0)

    @property
    def remaining_bytes(self):
        if self.memory_remaining_bytes is None:
            return None
        return self.memory_remaining_bytes + (self.disk_remaining_bytes or 0)


@dataclasses.dataclass(frozen=True)
class Expectation:
    """What the plan says about a migration."""
    predicted_total_s: Optional[float] = None
    initial_downtime_ms: Optional[int] = None
    max_downtime_ms: Optional[int] = None
    escalation_steps: int = 0

    @classmethod
    def from_plan(cls, plan):
        """From a ``planning.plan.MigrationPlan`` (None: nothing known)."""
        if plan is None:
            return cls()
        return cls(predicted_total_s=plan.prediction.total_seconds,
                   initial_downtime_ms=plan.initial_downtime_ms,
                   max_downtime_ms=plan.max_downtime_ms,
                   escalation_steps=len(plan.escalation))


@dataclasses.dataclass(frozen=True)
class Status:
    elapsed_s: float
    sample: Sample
    iterations_seen: int
    rate_bytes_s: Optional[float]
    eta_s: Optional[float]
    eta_basis: str
    expectation: Expectation

    # Each part in full (pipes, logs) and short (a terminal row).
    _TEXTS = {
        'memory': ('remaining %s of %s', '%s of %s left'),
        'no memory': ('remaining memory not reported yet',
                      'memory: not reported yet'),
        'disk': ('disk remaining %s', 'disk %s left'),
        'iteration': ('iteration >= %d', 'iter >=%d'),
        'downtime': ('max downtime %d ms planned, escalating to %d ms in '
                     'up to %d steps', 'downtime %d->%d ms (plan, %d steps)'),
        'eta': ('ETA ~%s (estimate, %s)', 'ETA ~%s (est.)'),
        'no eta': ('ETA unknown', 'ETA ?'),
        'elapsed': ('elapsed %s', '%s'),
    }

    def parts(self, short=False):
        """The line's parts.

        The ETA and the elapsed time are last: they change at every poll.
        """
        s, e = self.sample, self.expectation

        def text(key, *values):
            return self._TEXTS[key][short] % values[
                :self._TEXTS[key][short].count('%')]
        parts = []
        if s.known and s.memory_remaining_bytes is not None:
            parts.append(text('memory',
                              units.format_size(s.memory_remaining_bytes),
                              units.format_size(s.memory_total_bytes)))
        else:
            parts.append(text('no memory'))
        if s.disk_total_bytes:
            parts.append(text('disk', units.format_size(
                s.disk_remaining_bytes or 0)))
        parts.append(text('iteration', self.iterations_seen))
        if e.initial_downtime_ms is not None:
            parts.append(text('downtime', e.initial_downtime_ms,
                              e.max_downtime_ms, e.escalation_steps))
        if self.eta_s is not None:
            parts.append(text('eta', units.format_seconds(self.eta_s),
                              self.eta_basis))
        else:
            parts.append(text('no eta'))
        parts.append(text('elapsed', units.format_seconds(self.elapsed_s)))
        return parts

    def line(self):
        return ', '.join(self.parts())

    def compact(self):
        """The same numbers, short enough for a terminal row."""
        return ' | '.join(self.parts(short=True))


class Tracker:
    """Folds the samples of one migration into a ``Status``."""

    def __init__(self, started_at_s, expectation=None):
        self.started_at_s = started_at_s
        self.expectation = expectation or Expectation()
        self.iterations_seen = 1
        self._window = collections.deque(maxlen=RATE_WINDOW)
        self._last = None
        # The model predicts the job's time: its clock starts when nova
        # first reports the job's numbers, not when the command started
        # (nova's pre-checks and the first refresh take seconds before).
        self._job_seen_at_s = None

    def add(self, sample):
        last = self._last
        if (last is not None and last.memory_remaining_bytes is not None and
                sample.memory_remaining_bytes is not None and
                sample.memory_remaining_bytes > last.memory_remaining_bytes):
            self.iterations_seen += 1
        self._last = sample
        if sample.known:
            self._window.append(sample)
            if self._job_seen_at_s is None:
                self._job_seen_at_s = sample.at_s
        elapsed = max(0.0, sample.at_s - self.started_at_s)
        job_elapsed = (0.0 if self._job_seen_at_s is None
                       else max(0.0, sample.at_s - self._job_seen_at_s))
        rate = self._rate()
        eta, basis = self._eta(job_elapsed, rate, sample)
        return Status(elapsed_s=elapsed, sample=sample,
                      iterations_seen=self.iterations_seen,
                      rate_bytes_s=rate, eta_s=eta, eta_basis=basis,
                      expectation=self.expectation)

    def _rate(self):
        if len(self._window) < 2:
            return None
        first, last = self._window[0], self._window[-1]
        seconds = last.at_s - first.at_s
        sent = last.processed_bytes - first.processed_bytes
        if seconds <= 0 or sent <= 0:
            return None
        return sent / seconds

    def _eta(self, elapsed, rate, sample):
        predicted = self.expectation.predicted_total_s
        model = None if predicted is None else max(0.0, predicted - elapsed)
        remaining = sample.remaining_bytes
        observed = (remaining / rate
                    if rate and remaining is not None else None)
        if observed is None:
            return model, 'model'
        if model is None or not predicted:
            return observed, 'observed rate'
        # Past the predicted time the model has nothing left to say.
        weight = min(1.0, elapsed / predicted)
        return ((1.0 - weight) * model + weight * observed,
                'model corrected by observed rate')


class ProgressDisplay:
    """Draws the progress of one or more migrations on *stream*."""

    def __init__(self, stream, is_tty=None, width=None):
        self.stream = stream
        if is_tty is None:
            is_tty = hasattr(stream, 'isatty') and stream.isatty()
        self.tty = is_tty
        self._lines = {}
        self._tasks = {}
        self._progress = None
        if self.tty:
            # Imported here: only a terminal needs it.
            from rich import console as rich_console
            from rich import progress as rich_progress
            from rich import table as rich_table
            console = rich_console.Console(file=stream, force_terminal=True,
                                           width=width)
            # The numbers wrap under the bar on a narrow terminal rather
            # than being cut: the ETA and elapsed time come last.
            self._progress = rich_progress.Progress(
                rich_progress.TextColumn('{task.description}'),
                rich_progress.BarColumn(bar_width=24),
                rich_progress.TextColumn(
                    '{task.fields[detail]}',
                    table_column=rich_table.Column(overflow='fold')),
                console=console, auto_refresh=False, transient=False)
            self._progress.start()

    def update(self, key, label, status):
        """Show *status* of the migration *key* (e.g. the server ID)."""
        parts = status.parts()
        if self.tty:
            fraction = status.sample.fraction or 0.0
            remaining, total = (status.sample.memory_remaining_bytes,
                                status.sample.memory_total_bytes)
            if remaining is not None and total:
                fraction = max(0.0, 1.0 - float(remaining) / total)
            detail = status.compact()
            if key not in self._tasks:
                self._tasks[key] = self._progress.add_task(
                    label, total=1.0, detail=detail)
            self._progress.update(self._tasks[key], completed=fraction,
                                  detail=detail)
            self._progress.refresh()
            return
        # One line per change of what nova reported: the ETA and the
        # elapsed time (the last two parts) move at every poll.
        changed = parts[:-2]
        if self._lines.get(key) != changed:
            self._lines[key] = changed
            self.stream.write('%s: %s\n' % (label, ', '.join(parts)))
            self.stream.flush()

    def summary(self, text, fraction):
        """The line over all migrations (the drain's)."""
        if self.tty:
            if 'summary' not in self._tasks:
                self._tasks['summary'] = self._progress.add_task(
                    'drain', total=1.0, detail=text)
            self._progress.update(self._tasks['summary'],
                                  completed=fraction, detail=text)
            self._progress.refresh()
        elif self._lines.get('summary') != text:
            self._lines['summary'] = text
            self.stream.write('drain: %s\n' % text)
            self.stream.flush()

    def message(self, text):
        """A line that stays (started, moved, failed...)."""
        if self._progress is not None:
            self._progress.console.print(text, highlight=False, markup=False)
            self._progress.refresh()
        else:
            self.stream.write('%s\n' % text)
            self.stream.flush()

    def finish(self, key):
        """The migration *key* ended: drop its live row."""
        self._lines.pop(key, None)
        task = self._tasks.pop(key, None)
        if task is not None:
            self._progress.remove_task(task)
            self._progress.refresh()

    def close(self):
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


class DrainProgress:
    """The drain's ``on_change`` hook.

    A row per running migration and the line over all of them.
    """

    def __init__(self, display, backend, expectations=None):
        self.display = display
        self.backend = backend
        self.expectations = expectations or {}
        self._trackers = {}
        self._seen = {}

    def on_change(self, scheduler, message):
        if message:
            self.display.message(message)
        running = {i.candidate.server_id: i for i in scheduler.running}
        for server_id in [s for s in self._trackers if s not in running]:
            self.display.finish(server_id)
            del self._trackers[server_id]
        for server_id, item in running.items():
            sample = self.backend.last_sample(server_id)
            if sample is None or sample is self._seen.get(server_id):
                continue
            self._seen[server_id] = sample
            tracker = self._trackers.get(server_id)
            if tracker is None:
                tracker = self._trackers[server_id] = Tracker(
                    self.backend.started_at(server_id),
                    self.expectations.get(server_id))
            self.display.update(server_id, item.candidate.name,
                                tracker.add(sample))
        items = scheduler.items
        finished = [i for i in items if i.status in drain_mod.FINAL]
        failed = scheduler.with_status(drain_mod.Status.FAILED)
        partial = sum(i.progress or 0.0 for i in scheduler.running)
        self.display.summary(
            '%d/%d done, %d running, %d failed%s' % (
                len(finished), len(items), len(scheduler.running),
                len(failed), ' (stopping)' if scheduler.stopping else ''),
            (len(finished) + partial) / (len(items) or 1))

    def close(self):
        self.display.close()
