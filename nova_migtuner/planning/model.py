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
* auto-converge throttles the vCPUs, starting at 20 % and adding 10 % each
  time a round left more than half of what it sent dirty again (QEMU's
  ``cpu-throttle-initial``/``-increment``/``throttle-trigger-threshold``,
  counted twice before the first throttle as QEMU does);
* post-copy switches after a number of pre-copy rounds and then moves every
  remaining page exactly once, with the guest running on the destination;
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

# QEMU defaults (migration/options.c).
THROTTLE_INITIAL = 0.20
THROTTLE_INCREMENT = 0.10
THROTTLE_MAX = 0.99
THROTTLE_TRIGGER = 0.50
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


def predict_precopy(memory, dirty_rate, bandwidth, downtime_limit,
                    touched=None, working_set=None, auto_converge=False,
                    time_limit=None):
    """Simulate pre-copy rounds, optionally with auto-converge.

    :param downtime_limit: the max downtime QEMU may use to switch over, s.
    :param time_limit: stop and call it non-converging past this many s.
    """
    touched, working_set = _bounds(memory, touched, working_set)
    _check(memory, touched, dirty_rate, bandwidth, working_set)
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
        dirtied = min(dirty_rate * (1.0 - throttle) * round_seconds,
                      working_set)
        if auto_converge and rounds > 1:
            if dirtied > THROTTLE_TRIGGER * pending:
                high_count += 1
                if high_count >= 2:
                    throttle = (THROTTLE_INITIAL if throttle == 0.0 else
                                min(THROTTLE_MAX,
                                    throttle + THROTTLE_INCREMENT))
                    high_count = 0
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
                     working_set=None, switch_after_rounds=1):
    """Pre-copy for ``switch_after_rounds`` rounds, then post-copy.

    After the switch the guest runs on the destination and nothing is dirtied
    on the source any more: what was dirty at the switch crosses once.
    """
    touched, working_set = _bounds(memory, touched, working_set)
    _check(memory, touched, dirty_rate, bandwidth, working_set)
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
    after_switch = pending / bandwidth
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
