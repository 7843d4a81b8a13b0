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

"""The result of a migration decision: a frozen ``MigrationPlan``.

A plan names libvirt flags by their constant names (``VIR_MIGRATE_LIVE``)
so that it stays plain data: the libvirt engine maps names to numbers. The
escalation ladder is walked in order by the engine; each step fires once.
"""

import dataclasses
from typing import Optional, Tuple

from nova_migtuner.planning import model

# Tuning flags a plan may set. Flags about storage, persistence and peer to
# peer belong to whoever calls the engine (nova's host-wide flags or the
# test bed) and are kept as they are.
LIVE = 'VIR_MIGRATE_LIVE'
AUTO_CONVERGE = 'VIR_MIGRATE_AUTO_CONVERGE'
POSTCOPY = 'VIR_MIGRATE_POSTCOPY'
COMPRESSED = 'VIR_MIGRATE_COMPRESSED'
PARALLEL = 'VIR_MIGRATE_PARALLEL'
TUNING_FLAGS = (LIVE, AUTO_CONVERGE, POSTCOPY, COMPRESSED, PARALLEL)

# Escalation triggers.
TRIGGER_ITERATION = 'iteration'        # memory iteration >= threshold
TRIGGER_STALLED = 'stalled'            # remaining not falling for N s
TRIGGER_ELAPSED = 'elapsed'            # N s since the start
TRIGGERS = (TRIGGER_ITERATION, TRIGGER_STALLED, TRIGGER_ELAPSED)

# Escalation and deadline actions.
ACTION_RAISE_DOWNTIME = 'raise_downtime'
ACTION_POST_COPY = 'post_copy'
ACTION_PAUSE = 'pause'
ACTION_ABORT = 'abort'
ACTIONS = (ACTION_RAISE_DOWNTIME, ACTION_POST_COPY, ACTION_PAUSE,
           ACTION_ABORT)

# Timing decisions.
TIMING_START = 'start'
TIMING_WAIT = 'wait'
TIMING_REFUSE = 'refuse'
WAIT_FOR_SPACING = 'spacing'     # a fixed time, then start
WAIT_FOR_QUIET = 'quiet'         # until the load drops, at most the time
# Until the guest's next quiet period long enough for the migration begins,
# at most the time: look again at every new dirty-rate sample.
WAIT_FOR_QUIET_WINDOW = 'quiet-window'

COMPRESSION_XBZRLE = 'xbzrle'


@dataclasses.dataclass(frozen=True)
class EscalationStep:
    trigger: str
    threshold: float
    action: str
    downtime_ms: Optional[int] = None
    reason: str = ''

    def __post_init__(self):
        if self.trigger not in TRIGGERS:
            raise ValueError('escalation trigger %r unknown; allowed: %s'
                             % (self.trigger, ', '.join(TRIGGERS)))
        if self.action not in ACTIONS:
            raise ValueError('escalation action %r unknown; allowed: %s'
                             % (self.action, ', '.join(ACTIONS)))
        if (self.action == ACTION_RAISE_DOWNTIME) != (
                self.downtime_ms is not None):
            raise ValueError('downtime_ms goes with raise_downtime and only '
                             'with it (action %r, downtime_ms %r)'
                             % (self.action, self.downtime_ms))

    def describe(self):
        when = {
            TRIGGER_ITERATION: 'at memory iteration %d',
            TRIGGER_STALLED: 'when remaining memory stops falling for %g s',
            TRIGGER_ELAPSED: 'after %g s',
        }[self.trigger] % self.threshold
        what = (('raise max downtime to %d ms' % self.downtime_ms)
                if self.action == ACTION_RAISE_DOWNTIME
                else self.action.replace('_', '-'))
        return '%s: %s' % (when, what)

    def to_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class TimingDecision:
    action: str = TIMING_START
    max_wait_seconds: float = 0.0
    wait_for: Optional[str] = None
    reason: str = 'no reason to wait'
    # The forecast wait for a quiet window (None: no forecast).
    expected_wait_seconds: Optional[float] = None

    def to_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class MigrationPlan:
    strategy: str
    flags: Tuple[str, ...]
    initial_downtime_ms: int
    max_downtime_ms: int
    bandwidth_mib_s: int               # 0: not limited
    parallel_connections: int
    compression: Optional[str]
    escalation: Tuple[EscalationStep, ...]
    completion_deadline_s: float
    deadline_action: str
    max_pause_ms: int                  # longest pause 'pause' may cause
    timing: TimingDecision
    prediction: model.Prediction
    reasons: Tuple[str, ...] = ()
    inputs: Tuple[str, ...] = ()
    # auto-converge's cpu-throttle-initial and -increment, percent
    # (VIR_MIGRATE_PARAM_AUTO_CONVERGE_INITIAL/_INCREMENT); None: QEMU's
    # defaults (20/10). Only used with the AUTO_CONVERGE flag.
    auto_converge_initial_pct: Optional[int] = None
    auto_converge_increment_pct: Optional[int] = None

    def __post_init__(self):
        for name in ('auto_converge_initial_pct',
                     'auto_converge_increment_pct'):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int) and
                                          1 <= value <= 99):
                raise ValueError('%s must be an integer within 1..99 or '
                                 'None, got %r' % (name, value))

    @property
    def live(self):
        return LIVE in self.flags

    @property
    def may_post_copy(self):
        return POSTCOPY in self.flags

    def explain(self):
        """Reasons for every choice, with the numbers behind them."""
        lines = list(self.reasons)
        for step in self.escalation:
            lines.append('escalation %s (%s)' % (step.describe(),
                                                 step.reason))
        lines.append('deadline %.0f s, then %s' % (
            self.completion_deadline_s,
            self.deadline_action.replace('_', '-')))
        lines.append('timing: %s (%s)' % (self.timing.action,
                                          self.timing.reason))
        return lines

    def to_dict(self):
        return {
            'strategy': self.strategy,
            'flags': list(self.flags),
            'initial_downtime_ms': self.initial_downtime_ms,
            'max_downtime_ms': self.max_downtime_ms,
            'bandwidth_mib_s': self.bandwidth_mib_s,
            'parallel_connections': self.parallel_connections,
            'compression': self.compression,
            'escalation': [s.to_dict() for s in self.escalation],
            'completion_deadline_s': self.completion_deadline_s,
            'deadline_action': self.deadline_action,
            'max_pause_ms': self.max_pause_ms,
            'timing': self.timing.to_dict(),
            'prediction': self.prediction.to_dict(),
            'inputs': list(self.inputs),
            'auto_converge_initial_pct': self.auto_converge_initial_pct,
            'auto_converge_increment_pct': self.auto_converge_increment_pct,
            'explain': self.explain(),
        }
