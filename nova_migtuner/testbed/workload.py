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

"""What the test bed guest does to its memory while it runs."""

import dataclasses

KINDS = ('idle', 'constant', 'bursty')
HEARTBEAT_DEVICES = ('ttyS1', 'ttyS0')


@dataclasses.dataclass(frozen=True)
class Workload:
    """Memory dirtying workload of a test bed guest.

    kind: ``idle`` (buffer touched once, then nothing), ``constant`` (one byte
    per 4 KiB page at ``rate_mib_s``) or ``bursty`` (``rate_mib_s`` for
    ``burst_on_s`` seconds, then idle for ``burst_off_s``: a web-like load).
    dirty_mib: size of the buffer the workload owns and dirties; it is filled
    with non-zero data at start so migration must send it.
    heartbeat_ms: period of the heartbeat lines used to measure downtime.
    heartbeat_device: the guest's serial port for them: ``ttyS1`` (a port
    of its own, the test bed's guests) or ``ttyS0``, the console, which is
    the only serial port of a guest nova boots.
    progress_ms: period of the progress lines (pages dirtied and requests
    completed so far) the workload writes on the heartbeat's port; 0 turns
    them off.
    request_rate: small CPU-bound "requests" per second the workload serves
    beside its dirtying (a hash over 4 KiB each, paced, queued up to 0.5 s
    when the guest runs late): the application whose progress the bench
    measures; 0 turns them off.
    """

    kind: str = 'idle'
    dirty_mib: int = 64
    rate_mib_s: float = 0.0
    burst_on_s: float = 5.0
    burst_off_s: float = 5.0
    heartbeat_ms: int = 2
    report_s: float = 2.0
    heartbeat_device: str = 'ttyS1'
    progress_ms: int = 100
    request_rate: float = 100.0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError('Workload kind %r is not one of %s'
                             % (self.kind, ', '.join(KINDS)))
        _require(isinstance(self.dirty_mib, int) and self.dirty_mib >= 0,
                 'dirty_mib', self.dirty_mib, 'an integer >= 0')
        _require(_is_number(self.rate_mib_s) and self.rate_mib_s >= 0,
                 'rate_mib_s', self.rate_mib_s, 'a number >= 0')
        if self.kind != 'idle':
            _require(self.rate_mib_s > 0, 'rate_mib_s', self.rate_mib_s,
                     '> 0 for a %s workload' % self.kind)
            _require(self.dirty_mib > 0, 'dirty_mib', self.dirty_mib,
                     '> 0 for a %s workload' % self.kind)
        _require(_is_number(self.burst_on_s) and self.burst_on_s > 0,
                 'burst_on_s', self.burst_on_s, 'a number > 0')
        _require(_is_number(self.burst_off_s) and self.burst_off_s >= 0,
                 'burst_off_s', self.burst_off_s, 'a number >= 0')
        _require(isinstance(self.heartbeat_ms, int) and self.heartbeat_ms >= 0,
                 'heartbeat_ms', self.heartbeat_ms, 'an integer >= 0')
        _require(_is_number(self.report_s) and self.report_s > 0,
                 'report_s', self.report_s, 'a number > 0')
        _require(isinstance(self.progress_ms, int) and
                 not isinstance(self.progress_ms, bool) and
                 0 <= self.progress_ms <= 1000,
                 'progress_ms', self.progress_ms, 'an integer 0..1000')
        _require(_is_number(self.request_rate) and
                 0 <= self.request_rate <= 1000,
                 'request_rate', self.request_rate, 'a number 0..1000')
        _require(self.heartbeat_device in HEARTBEAT_DEVICES,
                 'heartbeat_device', self.heartbeat_device,
                 'one of %s' % ', '.join(HEARTBEAT_DEVICES))

    def validate_for_guest(self, memory_mib):
        """Raise ValueError if the buffer cannot fit in the guest."""
        # The kernel, initramfs and page tables need about 64 MiB.
        limit = memory_mib - 64
        if self.dirty_mib > limit:
            raise ValueError('Workload dirty_mib=%d does not fit in a %d MiB '
                             'guest (at most %d MiB)'
                             % (self.dirty_mib, memory_mib, limit))

    def kernel_args(self):
        """Kernel command line arguments read by the guest workload."""
        return ('mt_kind=%s mt_dirty_mib=%d mt_rate=%g mt_on=%g mt_off=%g '
                'mt_hb_ms=%d mt_hb_dev=%s mt_report_s=%g '
                'mt_progress_ms=%d mt_req_rate=%g'
                % (self.kind, self.dirty_mib, self.rate_mib_s,
                   self.burst_on_s, self.burst_off_s, self.heartbeat_ms,
                   self.heartbeat_device, self.report_s, self.progress_ms,
                   self.request_rate))


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _require(ok, field, value, expected):
    if not ok:
        raise ValueError('Workload %s=%r is invalid: expected %s'
                         % (field, value, expected))
