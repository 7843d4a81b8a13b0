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

"""Downtime as seen from outside the guest, independent of libvirt.

The guest workload writes ``h<seq>`` to its second serial port every few
milliseconds. The serial port is a file on each host, so the host side tails
the files of the source and of the destination, timestamps every line with
its own monotonic clock, and takes the longest gap between consecutive lines
as the time the guest was not running, as an outside observer saw it.
"""

import dataclasses
import logging
import os
import threading
import time

from nova_migtuner.testbed import progress as progress_mod

LOG = logging.getLogger(__name__)

DEFAULT_POLL_INTERVAL_S = 0.001
# How often the tailer checks whether a log file was replaced or truncated.
REOPEN_CHECK_S = 0.1


@dataclasses.dataclass(frozen=True)
class HeartbeatSample:
    time: float  # time.monotonic() when the host read the line
    host: str
    seq: int


@dataclasses.dataclass(frozen=True)
class HeartbeatResult:
    """Outcome of one probe window.

    longest_gap_ms is None when fewer than two heartbeats were seen.
    gap_start/gap_end are time.monotonic() values, comparable with
    timestamps the caller takes around its migration call.
    """

    started_at: float
    stopped_at: float
    samples: int
    samples_by_host: dict
    longest_gap_ms: float
    gap_start: float
    gap_end: float
    gap_from_host: str
    gap_to_host: str
    seq_before_gap: int
    seq_after_gap: int
    median_interval_ms: float
    # The switch-over as an outside observer saw it: from the last beat on
    # the first host to the first beat on another one (None: never moved).
    # Unlike longest_gap_ms it cannot be taken by a CPU stall elsewhere.
    switch_gap_ms: float = None
    switch_from_host: str = None
    switch_to_host: str = None

    @property
    def crossed_hosts(self):
        """True if the longest gap is where the guest moved between hosts."""
        return self.gap_from_host != self.gap_to_host


class _TailedFile:
    """Incremental reader of one growing file."""

    def __init__(self, host, path):
        self.host = host
        self.path = path
        self._file = None
        self._inode = None
        self._partial = b''
        self._next_check = 0.0
        self._offset = self._size_or_zero()

    def _size_or_zero(self):
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return 0
        self._inode = st.st_ino
        return st.st_size

    def _maybe_reopen(self, now):
        if now < self._next_check and self._file is not None:
            return
        self._next_check = now + REOPEN_CHECK_S
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return
        if self._file is None or st.st_ino != self._inode or \
                st.st_size < self._offset:
            if self._file is not None:
                self._file.close()
                self._offset = 0
                self._partial = b''
            if st.st_ino != self._inode:
                # A file created after the probe started: read it whole.
                self._offset = 0
            self._file = open(self.path, 'rb')
            self._file.seek(self._offset)
            self._inode = st.st_ino

    def read_lines(self, now):
        self._maybe_reopen(now)
        if self._file is None:
            return []
        data = self._file.read()
        if not data:
            return []
        self._offset += len(data)
        data = self._partial + data
        lines = data.split(b'\n')
        self._partial = lines.pop()
        return lines

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None


class HeartbeatProbe:
    """Tail heartbeat logs of one guest on every host.

    ``logs`` maps host name to the host-side path of the guest's heartbeat
    serial log. Use start() before the migration and stop() after it, or use
    the probe as a context manager and read ``result``.
    """

    def __init__(self, logs, poll_interval_s=DEFAULT_POLL_INTERVAL_S):
        self.logs = dict(logs)
        self.poll_interval_s = poll_interval_s
        self.result = None
        self._samples = []
        self._progress = []
        self._stop = threading.Event()
        self._thread = None
        self._started_at = None

    def start(self):
        if self._thread is not None:
            raise RuntimeError('HeartbeatProbe already started')
        self._files = [_TailedFile(host, path)
                       for host, path in sorted(self.logs.items())]
        self._started_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='heartbeat-probe')
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            now = time.monotonic()
            for tailed in self._files:
                for line in tailed.read_lines(now):
                    line = line.strip()
                    if line.startswith(b'h') and line[1:].isdigit():
                        self._samples.append(
                            HeartbeatSample(now, tailed.host, int(line[1:])))
                    elif line.startswith(b'p'):
                        sample = progress_mod.parse_line(line, now,
                                                         tailed.host)
                        if sample is not None:
                            self._progress.append(sample)
            time.sleep(self.poll_interval_s)
        for tailed in self._files:
            tailed.close()

    def samples(self):
        """A copy of the samples taken so far."""
        return list(self._samples)

    def progress(self):
        """A copy of the workload's progress lines read so far
        (``progress.ProgressSample``), in the order read.
        """
        return list(self._progress)

    def wait_for_beats(self, host, count=10, timeout_s=5.0):
        """Wait until ``count`` beats from ``host`` have been read; return
        whether they were within ``timeout_s``.

        After a migration the guest's first beats on the destination come
        when its vCPUs run again, which on a loaded machine can take longer
        than any fixed pause: without them there is no switch-over gap.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            seen = sum(1 for sample in self._samples if sample.host == host)
            if seen >= count:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)

    def stop(self):
        """Stop tailing and return the HeartbeatResult."""
        if self._thread is None:
            raise RuntimeError('HeartbeatProbe was not started')
        self._stop.set()
        self._thread.join()
        self.result = summarize(self._samples, self._started_at,
                                time.monotonic())
        LOG.debug('Heartbeat probe: %d samples, longest gap %s ms from %s '
                  'to %s', self.result.samples, self.result.longest_gap_ms,
                  self.result.gap_from_host, self.result.gap_to_host)
        return self.result

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


def switch_gap_ms(samples, source, dest):
    """Milliseconds from the last beat on *source* to the first on *dest*.

    Only beats on *source* before the first one on *dest* count; None when
    the guest never beat on one of them.
    """
    ordered = sorted(samples, key=lambda s: s.time)
    first_dest = next((s for s in ordered if s.host == dest), None)
    before = [s for s in ordered if s.host == source and (
        first_dest is None or s.time <= first_dest.time)]
    if first_dest is None or not before:
        return None
    return (first_dest.time - before[-1].time) * 1000.0


def summarize(samples, started_at, stopped_at):
    by_host = {}
    for sample in samples:
        by_host[sample.host] = by_host.get(sample.host, 0) + 1
    ordered = sorted(samples, key=lambda s: s.time)
    best = None
    intervals = []
    for before, after in zip(ordered, ordered[1:]):
        gap = after.time - before.time
        if gap > 0:
            intervals.append(gap)
        if best is None or gap > best[0]:
            best = (gap, before, after)
    intervals.sort()
    median = intervals[len(intervals) // 2] * 1000 if intervals else None
    if best is None:
        return HeartbeatResult(started_at, stopped_at, len(samples), by_host,
                               None, None, None, None, None, None, None,
                               median)
    gap, before, after = best
    source = ordered[0].host
    dest = next((x.host for x in ordered if x.host != source), None)
    return HeartbeatResult(started_at, stopped_at, len(samples), by_host,
                           gap * 1000.0, before.time, after.time,
                           before.host, after.host, before.seq, after.seq,
                           median,
                           switch_gap_ms=(switch_gap_ms(ordered, source, dest)
                                          if dest else None),
                           switch_from_host=source if dest else None,
                           switch_to_host=dest)
