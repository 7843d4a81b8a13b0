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

"""What a migration did, measured by libvirt: the frozen ``MigrationReport``.

``report_from_stats`` builds it from the job's completed statistics, the
samples polled while it ran and the plan it executed, and says for every
number where it came from (``sources``), because libvirt does not always
have the completed statistics where one would look (as seen on the test
bed):

* after a post-copy migration the destination's
  ``jobStats(VIR_DOMAIN_JOB_STATS_COMPLETED)`` is just ``{'type': 0}``;
* after the source domain is undefined the source reports a synthesised
  all-zero COMPLETED.

So each number is taken from the first of these that has it: the completed
stats passed first (normally the destination's), the fallback completed
stats (normally the source's, readable when the source domain is
persistent), then the last polled sample (for byte counts a lower bound:
the final rounds after the last poll are missing; never for downtime,
which in a running job's stats is QEMU's *expected* downtime).

No libvirt import; unit-tested with plain dicts.
"""

import dataclasses
from typing import Optional, Tuple

from nova_migtuner.engine import stats as stats_mod

# How a migration ended: the one vocabulary of reports and notifications.
OUTCOME_COMPLETED = 'completed'  # the guest runs on the destination
OUTCOME_ABORTED = 'aborted'      # aborted by the plan (deadline/ladder)
OUTCOME_CANCELLED = 'cancelled'  # aborted by a user (or nova's timeout)
OUTCOME_FAILED = 'failed'        # libvirt/QEMU or the engine failed
OUTCOME_REFUSED = 'refused'      # the timing decision refused to start it
OUTCOME_ERROR = 'error'          # nova raised: instance set to ERROR
OUTCOMES = (OUTCOME_COMPLETED, OUTCOME_ABORTED, OUTCOME_CANCELLED,
            OUTCOME_FAILED, OUTCOME_REFUSED, OUTCOME_ERROR)

SOURCE_DEST_COMPLETED = 'destination completed stats'
SOURCE_SOURCE_COMPLETED = 'source completed stats'
SOURCE_LAST_SAMPLE = 'last sample'
SOURCE_SAMPLES = 'samples'
SOURCE_WALL_CLOCK = 'wall clock'
SOURCE_PLAN = 'plan'
SOURCE_NONE = 'unavailable'

# Report field -> JobSample attribute, for numbers read from job stats.
_STAT_FIELDS = (
    ('downtime_ms', 'downtime_ms'),
    ('downtime_net_ms', 'downtime_net_ms'),
    ('data_bytes', 'data_processed'),
    ('memory_bytes', 'memory_processed'),
    ('memory_total', 'memory_total'),
    ('iterations', 'memory_iteration'),
    ('postcopy_requests', 'memory_postcopy_requests'),
)

# While the job runs, libvirt's 'downtime' is QEMU's *expected* downtime
# (measured on the test bed: it reads 4044 ms mid-migration), not what
# the guest saw; only completed stats carry the real one.
_NOT_FROM_SAMPLES = ('downtime_ms', 'downtime_net_ms')


@dataclasses.dataclass(frozen=True)
class MigrationReport:
    """The measured result of one migration, with the plan's prediction.

    Sizes are bytes, times seconds unless the name says ms. A number is
    ``None`` when no source had it; ``sources`` maps each measured field
    name to where it came from (``SOURCE_*`` above, e.g. 'destination
    completed stats', 'source completed stats', 'last sample', 'wall
    clock').

    :ivar outcome: one of ``OUTCOMES``: 'completed', 'aborted' (the plan
        stopped it; the guest stays on the source), 'cancelled' (somebody
        else did), 'failed' (libvirt or the engine hit an error),
        'refused' (never started) or 'error' (nova raised).
    :ivar error: what went wrong when it did not complete; None otherwise.
    :ivar flags: names of the libvirt flags the migration was started with.
    :ivar initial_downtime_ms / final_downtime_ms: the max downtime limit
        at the start and at the end (after escalations).
    :ivar escalations: the ``Action.to_dict()`` of every escalation taken,
        with ``elapsed_s``.
    """
    outcome: str
    strategy: str
    flags: Tuple[str, ...]
    total_seconds: Optional[float]
    downtime_ms: Optional[float]
    downtime_net_ms: Optional[float]
    data_bytes: Optional[int]
    memory_bytes: Optional[int]
    memory_total: Optional[int]
    iterations: Optional[int]
    postcopy_requests: Optional[int]
    auto_converge_throttle: Optional[int]
    post_copy: bool
    initial_downtime_ms: int
    final_downtime_ms: int
    bandwidth_mib_s: int
    escalations: Tuple[dict, ...]
    skipped_steps: Tuple[dict, ...]
    predicted_method: str
    predicted_converges: bool
    predicted_total_seconds: Optional[float]
    predicted_bytes: Optional[int]
    predicted_downtime_ms: Optional[float]
    samples: int
    sources: Tuple[Tuple[str, str], ...]
    error: Optional[str] = None

    def __post_init__(self):
        if self.outcome not in OUTCOMES:
            raise ValueError('outcome %r unknown; allowed: %s'
                             % (self.outcome, ', '.join(OUTCOMES)))

    @property
    def completed(self):
        return self.outcome == OUTCOME_COMPLETED

    def source_of(self, field):
        return dict(self.sources).get(field, SOURCE_NONE)

    @property
    def total_seconds_error(self):
        """(measured - predicted) / predicted total time, or None."""
        return _relative_error(self.total_seconds,
                               self.predicted_total_seconds)

    @property
    def bytes_error(self):
        """(measured - predicted) / predicted bytes (data sent), or None."""
        return _relative_error(self.data_bytes, self.predicted_bytes)

    def to_dict(self):
        """Plain JSON-able dict; field names are stable (notifications and
        bench results use them).
        """
        result = dataclasses.asdict(self)
        result['flags'] = list(self.flags)
        result['escalations'] = [dict(e) for e in self.escalations]
        result['skipped_steps'] = [dict(s) for s in self.skipped_steps]
        result['sources'] = dict(self.sources)
        result['total_seconds_error'] = self.total_seconds_error
        result['bytes_error'] = self.bytes_error
        return result

    def summary(self):
        """One line for logs and the bench's progress output."""
        parts = ['%s (%s)' % (self.outcome, self.strategy)]
        if self.total_seconds is not None:
            parts.append('%.1f s' % self.total_seconds)
        if self.downtime_ms is not None:
            parts.append('downtime %d ms' % self.downtime_ms)
        if self.data_bytes is not None:
            parts.append('%.0f MiB sent' % (self.data_bytes / 2.0 ** 20))
        if self.iterations is not None:
            parts.append('%d iterations' % self.iterations)
        if self.escalations:
            parts.append('%d escalation(s)' % len(self.escalations))
        if self.error:
            parts.append('error: %s' % self.error)
        return ', '.join(parts)


def _relative_error(measured, predicted):
    if measured is None or not predicted:
        return None
    return (measured - predicted) / float(predicted)


def _as_dict(item):
    return dict(item.to_dict() if hasattr(item, 'to_dict') else item)


@dataclasses.dataclass(frozen=True)
class MeasuredNumbers:
    """What was measured of one migration, plan or no plan.

    ``values`` maps the ``_STAT_FIELDS`` names to numbers (None when no
    source had one); ``sources`` lists ``(field, SOURCE_*)`` pairs.
    """
    values: dict
    total_seconds: Optional[float]
    auto_converge_throttle: Optional[int]
    sources: tuple


def measured_numbers(completed_stats, samples, *, fallback_stats=None,
                     completed_source=SOURCE_DEST_COMPLETED,
                     fallback_source=SOURCE_SOURCE_COMPLETED,
                     wall_seconds=None):
    """Pick each number from the best source that has it.

    Completed stats first (*completed_stats*, then *fallback_stats*), then
    the last polled sample, except for the downtime (see
    ``_NOT_FROM_SAMPLES``); the total time from libvirt's elapsed time,
    else *wall_seconds*, else the last poll.
    """
    samples = list(samples or ())
    candidates = []
    for raw, label in ((completed_stats, completed_source),
                       (fallback_stats, fallback_source)):
        sample = stats_mod.JobSample.from_job_stats(raw or {}, taken_at=0.0)
        if sample.has_progress_data:
            candidates.append((label, sample))
    progress_samples = [s for s in samples if s.has_progress_data]
    if progress_samples:
        candidates.append((SOURCE_LAST_SAMPLE, progress_samples[-1]))

    values = {}
    sources = []
    for field, attr in _STAT_FIELDS:
        values[field] = None
        for label, sample in candidates:
            if label == SOURCE_LAST_SAMPLE and field in _NOT_FROM_SAMPLES:
                continue
            value = getattr(sample, attr)
            if value is not None:
                values[field] = value
                sources.append((field, label))
                break

    # libvirt's own elapsed time first, then the caller's wall clock around
    # the migration call, then the last poll (an underestimate).
    total_seconds = None
    ordered = [(label, sample) for label, sample in candidates
               if label != SOURCE_LAST_SAMPLE]
    if wall_seconds is not None:
        ordered.append((SOURCE_WALL_CLOCK, None))
    ordered += [(label, sample) for label, sample in candidates
                if label == SOURCE_LAST_SAMPLE]
    for label, sample in ordered:
        if sample is None:
            total_seconds = float(wall_seconds)
        elif sample.time_elapsed_ms is not None:
            total_seconds = sample.time_elapsed_ms / 1000.0
        else:
            continue
        sources.append(('total_seconds', label))
        break

    throttles = [s.auto_converge_throttle for _, s in candidates] + [
        s.auto_converge_throttle for s in samples]
    throttles = [t for t in throttles if t is not None]
    throttle = max(throttles) if throttles else None
    if throttle is not None:
        sources.append(('auto_converge_throttle', SOURCE_SAMPLES))
    return MeasuredNumbers(values=values, total_seconds=total_seconds,
                           auto_converge_throttle=throttle,
                           sources=tuple(sources))


def report_from_stats(completed_stats, samples, plan, escalations, outcome,
                      error=None, *, fallback_stats=None,
                      completed_source=SOURCE_DEST_COMPLETED,
                      fallback_source=SOURCE_SOURCE_COMPLETED,
                      wall_seconds=None, final_downtime_ms=None,
                      flags=None, skipped_steps=(), post_copy=None):
    """Build the ``MigrationReport`` of one migration.

    :param completed_stats: raw ``jobStats(VIR_DOMAIN_JOB_STATS_COMPLETED)``
        dict, normally read on the destination domain; may be None, ``{}``
        or ``{'type': 0}`` (then ignored).
    :param samples: the ``JobSample`` objects polled during the job, in
        order (may be empty).
    :param plan: the ``MigrationPlan`` executed (strategy, prediction,
        initial downtime, bandwidth).
    :param escalations: ``escalation.Action`` objects (or their dicts)
        taken, in order.
    :param outcome: one of ``OUTCOMES``.
    :param error: error text for aborted/failed migrations.
    :param fallback_stats: completed stats read elsewhere (normally the
        source domain's), used for whatever *completed_stats* lacks.
    :param completed_source / fallback_source: labels of the two, for
        ``sources``.
    :param wall_seconds: the caller's own measurement of the migration
        call, used when no completed stats give ``time_elapsed``.
    :param final_downtime_ms: the max downtime limit at the end; defaults
        to the last raise_downtime escalation, else the plan's initial one.
    :param flags: names of the libvirt flags used; defaults to plan.flags.
    :param skipped_steps: ``escalation.SkippedStep`` objects (or dicts).
    :param post_copy: whether post-copy was started; defaults to "a
        post_copy escalation was taken".
    """
    samples = list(samples or ())
    escalations = tuple(_as_dict(e) for e in escalations or ())
    measured = measured_numbers(
        completed_stats, samples, fallback_stats=fallback_stats,
        completed_source=completed_source, fallback_source=fallback_source,
        wall_seconds=wall_seconds)
    sources = list(measured.sources)
    throttle = measured.auto_converge_throttle

    if final_downtime_ms is None:
        final_downtime_ms = plan.initial_downtime_ms
        for action in escalations:
            if action.get('downtime_ms') is not None:
                final_downtime_ms = action['downtime_ms']
        sources.append(('final_downtime_ms', SOURCE_PLAN))
    if post_copy is None:
        post_copy = any(a.get('kind') == 'post_copy' for a in escalations)
    prediction = plan.prediction
    return MigrationReport(
        outcome=outcome,
        error=error,
        strategy=plan.strategy,
        flags=tuple(flags if flags is not None else plan.flags),
        total_seconds=measured.total_seconds,
        auto_converge_throttle=throttle,
        post_copy=bool(post_copy),
        initial_downtime_ms=plan.initial_downtime_ms,
        final_downtime_ms=int(final_downtime_ms),
        bandwidth_mib_s=plan.bandwidth_mib_s,
        escalations=escalations,
        skipped_steps=tuple(_as_dict(s) for s in skipped_steps or ()),
        predicted_method=prediction.method,
        predicted_converges=prediction.converges,
        predicted_total_seconds=prediction.total_seconds,
        predicted_bytes=prediction.bytes,
        predicted_downtime_ms=prediction.downtime_ms,
        samples=len(samples),
        sources=tuple(sources),
        **measured.values)
