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

"""Job statistics as frozen values: ``JobSample`` from ``domain.jobStats()``.

``virDomain.jobStats()`` returns a dict of libvirt typed parameters; which
keys are present depends on the libvirt/QEMU version and on the job phase
(nova's fake libvirt returns only ``type``). ``JobSample.from_job_stats``
tolerates any missing key (it becomes ``None``) and converts units once:

* ``memory_dirty_rate`` is in *pages* per second: multiplied by
  ``memory_page_size`` (4096 when absent) into ``dirty_rate_bytes_s``;
* times (``time_elapsed``, ``downtime``, ``setup_time``) are in ms and kept
  in ms, as libvirt reports them;
* sizes are bytes, ``memory_bps`` is bytes per second.

No libvirt import: the job type numbers below are libvirt's stable enum
``virDomainJobType``.
"""

import dataclasses
import time
from typing import Optional

# virDomainJobType
JOB_NONE = 0
JOB_BOUNDED = 1
JOB_UNBOUNDED = 2
JOB_COMPLETED = 3
JOB_FAILED = 4
JOB_CANCELLED = 5
ACTIVE_JOB_TYPES = (JOB_BOUNDED, JOB_UNBOUNDED)
JOB_TYPE_NAMES = {JOB_NONE: 'none', JOB_BOUNDED: 'bounded',
                  JOB_UNBOUNDED: 'unbounded', JOB_COMPLETED: 'completed',
                  JOB_FAILED: 'failed', JOB_CANCELLED: 'cancelled'}

DEFAULT_PAGE_SIZE = 4096

# jobStats() key -> JobSample field, for the fields copied as they are.
_INT_KEYS = {
    'time_elapsed': 'time_elapsed_ms',
    'time_elapsed_net': 'time_elapsed_net_ms',
    'time_remaining': 'time_remaining_ms',
    'downtime': 'downtime_ms',
    'downtime_net': 'downtime_net_ms',
    'setup_time': 'setup_time_ms',
    'data_total': 'data_total',
    'data_processed': 'data_processed',
    'data_remaining': 'data_remaining',
    'memory_total': 'memory_total',
    'memory_processed': 'memory_processed',
    'memory_remaining': 'memory_remaining',
    'memory_bps': 'memory_bps',
    'memory_constant': 'memory_constant',
    'memory_normal': 'memory_normal',
    'memory_normal_bytes': 'memory_normal_bytes',
    'memory_dirty_rate': 'memory_dirty_rate_pages',
    'memory_iteration': 'memory_iteration',
    'memory_postcopy_requests': 'memory_postcopy_requests',
    'memory_page_size': 'memory_page_size',
    'auto_converge_throttle': 'auto_converge_throttle',
    'disk_total': 'disk_total',
    'disk_processed': 'disk_processed',
    'disk_remaining': 'disk_remaining',
}


@dataclasses.dataclass(frozen=True)
class JobSample:
    """One ``jobStats()`` reading and the monotonic time it was taken.

    Every numeric field is ``None`` when libvirt did not report it.
    ``taken_at`` is ``time.monotonic()`` so it compares with the caller's
    own timestamps (and with ``HeartbeatProbe`` results on the test bed).
    """
    taken_at: float
    type: int = JOB_NONE
    time_elapsed_ms: Optional[int] = None
    time_elapsed_net_ms: Optional[int] = None
    time_remaining_ms: Optional[int] = None
    downtime_ms: Optional[int] = None
    downtime_net_ms: Optional[int] = None
    setup_time_ms: Optional[int] = None
    data_total: Optional[int] = None
    data_processed: Optional[int] = None
    data_remaining: Optional[int] = None
    memory_total: Optional[int] = None
    memory_processed: Optional[int] = None
    memory_remaining: Optional[int] = None
    memory_bps: Optional[int] = None
    memory_constant: Optional[int] = None
    memory_normal: Optional[int] = None
    memory_normal_bytes: Optional[int] = None
    memory_dirty_rate_pages: Optional[int] = None
    memory_iteration: Optional[int] = None
    memory_postcopy_requests: Optional[int] = None
    memory_page_size: Optional[int] = None
    auto_converge_throttle: Optional[int] = None
    disk_total: Optional[int] = None
    disk_processed: Optional[int] = None
    disk_remaining: Optional[int] = None
    error_message: Optional[str] = None

    @classmethod
    def from_job_stats(cls, stats, taken_at=None):
        """Build a sample from a raw ``jobStats()`` dict.

        :param stats: the dict (unknown keys ignored, missing keys None).
        :param taken_at: ``time.monotonic()`` of the call; now if omitted.
        """
        stats = stats or {}
        values = {}
        for key, field in _INT_KEYS.items():
            value = stats.get(key)
            if value is not None:
                values[field] = int(value)
        errmsg = stats.get('errmsg')
        return cls(taken_at=time.monotonic() if taken_at is None
                   else float(taken_at),
                   type=int(stats.get('type', JOB_NONE)),
                   error_message=errmsg, **values)

    @property
    def active(self):
        """True while the job runs (libvirt type BOUNDED or UNBOUNDED)."""
        return self.type in ACTIVE_JOB_TYPES

    @property
    def type_name(self):
        return JOB_TYPE_NAMES.get(self.type, str(self.type))

    @property
    def page_size(self):
        return self.memory_page_size or DEFAULT_PAGE_SIZE

    @property
    def dirty_rate_bytes_s(self):
        """Guest dirty rate in bytes/s as QEMU measured it, or None.

        QEMU only measures it from the second pre-copy round on (it counts
        pages dirtied between bitmap syncs): 0 during the first pass.
        """
        if self.memory_dirty_rate_pages is None:
            return None
        return self.memory_dirty_rate_pages * self.page_size

    @property
    def remaining_bytes(self):
        """Memory still to send (bytes): memory_remaining, else data_."""
        if self.memory_remaining is not None:
            return self.memory_remaining
        return self.data_remaining

    @property
    def elapsed_s(self):
        """libvirt's job elapsed time in seconds, or None."""
        if self.time_elapsed_ms is None:
            return None
        return self.time_elapsed_ms / 1000.0

    @property
    def has_progress_data(self):
        """True if libvirt reported anything beyond the job type.

        After a post-copy migration the destination's completed stats are
        just ``{'type': 0}``; after the source domain is undefined libvirt
        synthesises an all-zero COMPLETED. Neither carries numbers.
        """
        return any((self.data_processed, self.memory_processed,
                    self.time_elapsed_ms, self.memory_total))

    def to_dict(self):
        return dataclasses.asdict(self)
