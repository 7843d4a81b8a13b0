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

"""Predict a live migration's rounds, time, bytes and downtime.

Pure arithmetic, no libvirt and no nova. The model follows what QEMU does:

* pre-copy sends every touched page once, then, round after round, the pages
  the guest dirtied while the previous round was on the wire;
* it switches over (pauses the guest and sends the rest) as soon as the bytes
  still to send fit in ``bandwidth x downtime limit``;
* a guest that dirties pages as fast as the link copies them never gets there,
  unless the set of pages it writes is itself small enough (the working set
  bounds what one round can leave behind);
* auto-converge throttles the vCPUs as QEMU 7.2 does (``migration/ram.c``
  ``migration_bitmap_sync`` and ``migration_trigger_throttle``): at the
  dirty-bitmap sync that ends a round, once more than 1 s has passed since
  the last check, it compares the pages dirtied since that check with the
  bytes sent since then; each time the dirtied bytes exceed
  ``throttle-trigger-threshold`` (50 %) of the sent ones a counter goes up
  (it is not reset by a check below the threshold), and every second time
  the throttle starts at ``cpu-throttle-initial`` (20 %) or goes up by
  ``cpu-throttle-increment`` (10 %), up to ``max-cpu-throttle`` (99 %).
  Short rounds therefore share one check; the first check covers the
  first pass;
* a throttle of ``t`` leaves the vCPUs ``1 - t`` of their time; a paced
  workload that needs only ``dirty_cpu_share`` of its vCPU to dirty at its
  rate keeps that rate until ``1 - t`` falls below its share, and slows
  in proportion after that;
* post-copy switches after a number of pre-copy rounds and then moves every
  remaining page exactly once, with the guest running on the destination,
  at the post-copy bandwidth (``VIR_MIGRATE_PARAM_BANDWIDTH_POSTCOPY``);
* a paused (non-live) migration sends every touched page while the guest is
  stopped: all of it is downtime.

Untouched (zero) pages cost QEMU a few bytes each and are ignored here. All
sizes are bytes, rates bytes per second, durations seconds.
"""

import dataclasses
import math
from typing import Optional

PRE_COPY = 'pre-copy'
AUTO_CONVERGE = 'auto-converge'
POST_COPY = 'post-copy'
PAUSED = 'paused'
METHODS = (PRE_COPY, AUTO_CONVERGE, POST_COPY, PAUSED)

# QEMU defaults (migration/migration.c in 7.2).
THROTTLE_INITIAL = 0.20
THROTTLE_INCREMENT = 0.10
THROTTLE_MAX = 0.99
THROTTLE_TRIGGER = 0.50
# QEMU checks the throttle trigger at a bitmap sync only when more than
# this has passed since the last check (ram.c: "more than 1 second").
THROTTLE_CHECK_PERIOD_S = 1.0
# Pause while post-copy hands the guest over: CPU and device state only. The
# test bed measured 3 ms; 20 ms leaves room for real NICs.
POST_COPY_SWITCH_SECONDS = 0.020
# A pre-copy that needs more rounds than this is, for any practical purpose,
# one that does not converge (each round costs a dirty-bitmap sync).
MAX_ROUNDS = 400


class ModelInputError(ValueError):
    """An input to the model is outside what it can predict."""


@dataclasses.dataclass(frozen=True)
class Prediction:
    """What a migration is expected to do.

    ``total_seconds``, ``bytes`` and ``downtime_ms`` are ``None`` when the
    migration is not expected to complete (``converges`` is False);
    ``stall_bytes`` then says how much stays dirty round after round.
    """
    method: str
    converges: bool
    rounds: int
    total_seconds: Optional[float]
    bytes: Optional[int]
    downtime_ms: Optional[float]
    stall_bytes: int = 0
    max_throttle: float = 0.0
    first_pass_seconds: float = 0.0

    def to_dict(self):
        return dataclasses.asdict(self)


def _check(memory, touched, dirty_rate, bandwidth, working_set):
    if memory <= 0:
        raise ModelInputError('memory must be > 0 bytes, got %r' % memory)
    if not 0 <= touched <= memory:
        raise ModelInputError('touched memory must be between 0 and memory '
                              '(%d bytes), got %r' % (memory, touched))
    if dirty_rate < 0:
        raise ModelInputError('dirty rate must be >= 0 bytes/s, got %r'
                              % dirty_rate)
    if bandwidth <= 0:
        raise ModelInputError('bandwidth must be > 0 bytes/s, got %r'
                              % bandwidth)
    if working_set is not None and working_set < 0:
        raise ModelInputError('working set must be >= 0 bytes, got %r'
                              % working_set)


def _bounds(memory, touched, working_set):
    touched = memory if touched is None else touched
    working_set = touched if working_set is None else min(working_set,
                                                          touched)
    return touched, working_set


def predict_paused(memory, bandwidth, touched=None):
    """A non-live migration: the guest is stopped for the whole copy."""
    touched, _ = _bounds(memory, touched, None)
    _check(memory, touched, 0, bandwidth, None)
    seconds = touched / bandwidth
    return Prediction(method=PAUSED, converges=True, rounds=1,
                      total_seconds=seconds, bytes=int(touched),
                      downtime_ms=seconds * 1000.0,
                      first_pass_seconds=seconds)


def throttled_rate(dirty_rate, throttle, dirty_cpu_share=1.0):
    """The rate a workload dirties at when its vCPUs are throttled.

    :param dirty_cpu_share: the fraction of its vCPU time the workload
        needs for *dirty_rate* (1: it is CPU-bound and slows with every
        throttle step; a paced workload needs less).
    """
    room = 1.0 - throttle
    if room >= dirty_cpu_share:
        return dirty_rate
    return dirty_rate * room / dirty_cpu_share


def _check_throttle(initial, increment, share):
    for name, value in (('throttle initial', initial),
                        ('throttle increment', increment)):
        if not 0 < value <= THROTTLE_MAX:
            raise ModelInputError('%s must be within 0..%g, got %r'
                                  % (name, THROTTLE_MAX, value))
    if not 0 < share <= 1:
        raise ModelInputError('dirty_cpu_share must be within 0..1 (0 '
                              'excluded), got %r' % share)


def predict_precopy(memory, dirty_rate, bandwidth, downtime_limit,
                    touched=None, working_set=None, auto_converge=False,
                    time_limit=None, throttle_initial=THROTTLE_INITIAL,
                    throttle_increment=THROTTLE_INCREMENT,
                    dirty_cpu_share=1.0):
    """Simulate pre-copy rounds, optionally with auto-converge.

    :param downtime_limit: the max downtime QEMU may use to switch over, s.
    :param time_limit: stop and call it non-converging past this many s.
    :param throttle_initial: ``cpu-throttle-initial`` as a fraction.
    :param throttle_increment: ``cpu-throttle-increment`` as a fraction.
    :param dirty_cpu_share: see ``throttled_rate``.
    """
    touched, working_set = _bounds(memory, touched, working_set)
    _check(memory, touched, dirty_rate, bandwidth, working_set)
    _check_throttle(throttle_initial, throttle_increment, dirty_cpu_share)
    if downtime_limit <= 0:
        raise ModelInputError('downtime limit must be > 0 s, got %r'
                              % downtime_limit)
    method = AUTO_CONVERGE if auto_converge else PRE_COPY
    threshold = bandwidth * downtime_limit
    pending = float(touched)
    elapsed = 0.0
    sent = 0.0
    throttle = 0.0
    high_count = 0
    # QEMU's period counters: since the last throttle check (the setup
    # sync at 0 s starts the first period).
    period_start = 0.0
    period_sent = 0.0
    period_dirtied = 0.0
    first_pass = touched / bandwidth
    for rounds in range(1, MAX_ROUNDS + 1):
        if pending <= threshold:
            downtime = pending / bandwidth
            return Prediction(method=method, converges=True, rounds=rounds,
                              total_seconds=elapsed + downtime,
                              bytes=int(sent + pending),
                              downtime_ms=downtime * 1000.0,
                              max_throttle=throttle,
                              first_pass_seconds=first_pass)
        round_seconds = pending / bandwidth
        elapsed += round_seconds
        sent += pending
        dirtied = min(throttled_rate(dirty_rate, throttle,
                                     dirty_cpu_share) * round_seconds,
                      working_set)
        period_sent += pending
        period_dirtied += dirtied
        if auto_converge and \
                elapsed - period_start > THROTTLE_CHECK_PERIOD_S:
            if period_dirtied > THROTTLE_TRIGGER * period_sent:
                high_count += 1
                if high_count >= 2:
                    throttle = (throttle_initial if throttle == 0.0 else
                                min(THROTTLE_MAX,
                                    throttle + throttle_increment))
                    high_count = 0
            period_start, period_sent, period_dirtied = elapsed, 0.0, 0.0
        stuck = dirtied >= pending and (not auto_converge or
                                        throttle >= THROTTLE_MAX)
        over_time = time_limit is not None and elapsed > time_limit
        if stuck or over_time:
            return Prediction(method=method, converges=False, rounds=rounds,
                              total_seconds=None, bytes=None,
                              downtime_ms=None, stall_bytes=int(dirtied),
                              max_throttle=throttle,
                              first_pass_seconds=first_pass)
        pending = dirtied
    return Prediction(method=method, converges=False, rounds=MAX_ROUNDS,
                      total_seconds=None, bytes=None, downtime_ms=None,
                      stall_bytes=int(pending), max_throttle=throttle,
                      first_pass_seconds=first_pass)


def predict_postcopy(memory, dirty_rate, bandwidth, touched=None,
                     working_set=None, switch_after_rounds=1,
                     postcopy_bandwidth=None):
    """Pre-copy for ``switch_after_rounds`` rounds, then post-copy.

    After the switch the guest runs on the destination and nothing is dirtied
    on the source any more: what was dirty at the switch crosses once, at
    *postcopy_bandwidth* (default: *bandwidth*, as when the plan caps both).
    """
    touched, working_set = _bounds(memory, touched, working_set)
    _check(memory, touched, dirty_rate, bandwidth, working_set)
    if postcopy_bandwidth is None:
        postcopy_bandwidth = bandwidth
    if postcopy_bandwidth <= 0:
        raise ModelInputError('post-copy bandwidth must be > 0 bytes/s, got '
                              '%r' % postcopy_bandwidth)
    if switch_after_rounds < 1:
        raise ModelInputError('post-copy switches after at least 1 round, '
                              'got %r' % switch_after_rounds)
    pending = float(touched)
    elapsed = 0.0
    sent = 0.0
    for _ in range(switch_after_rounds):
        round_seconds = pending / bandwidth
        elapsed += round_seconds
        sent += pending
        pending = min(dirty_rate * round_seconds, working_set)
    after_switch = pending / postcopy_bandwidth
    return Prediction(method=POST_COPY, converges=True,
                      rounds=switch_after_rounds + 1,
                      total_seconds=elapsed + POST_COPY_SWITCH_SECONDS +
                      after_switch,
                      bytes=int(sent + pending),
                      downtime_ms=POST_COPY_SWITCH_SECONDS * 1000.0,
                      first_pass_seconds=touched / bandwidth)


def closed_form_precopy(touched, dirty_rate, bandwidth, downtime_limit):
    """Closed form of plain pre-copy with no working-set bound.

    Round ``i`` (from 0) sends ``touched * q**i`` with ``q = D / B``; QEMU
    switches at the first round whose size fits ``B * d``. Used by the tests
    to check the simulation; returns ``(rounds, total_seconds, bytes)`` or
    ``None`` when ``q >= 1`` and the first round does not fit.
    """
    threshold = bandwidth * downtime_limit
    if touched <= threshold:
        return 1, touched / bandwidth, touched
    q = dirty_rate / bandwidth
    if q >= 1:
        return None
    if q == 0:
        return 2, touched / bandwidth, touched
    # Smallest n with touched * q**n <= threshold.
    n = math.ceil(math.log(threshold / touched) / math.log(q))
    sent = touched * (1 - q ** (n + 1)) / (1 - q)
    return n + 1, sent / bandwidth, sent
