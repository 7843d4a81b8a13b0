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

"""The per-flavor migration report, computed from stored reports.

Operators measuring migrations by hand build one row per flavor: total
seconds, downtime ms, MB out, MB in. Here every number comes from libvirt's
job statistics in the ``.end`` notification. libvirt counts the migration
stream once (``data_processed``: memory and disks) and the memory part of
it (``memory_processed``), not per host and direction; what iptraf shows as
"in" on the destination differs from "out" only by protocol overhead that
libvirt does not see. So the table shows MB sent (all data) and MB memory.

Means are over completed migrations; failed ones are counted separately.
Pure code.
"""

import dataclasses
import datetime
import math
import re
from typing import Optional

MB = 1000 * 1000     # decimal MB, as traffic counters (iptraf) show

_RELATIVE_RE = re.compile(r'^\s*(\d+(?:\.\d+)?)\s*(s|min|m|h|d|w)\s*$')
_RELATIVE_UNITS = {'s': 1, 'min': 60, 'm': 60, 'h': 3600, 'd': 86400,
                   'w': 7 * 86400}
SINCE_HELP = ('an age such as 30min, 24h, 7d, 2w, or a time such as '
              '2025-06-01 or 2025-06-01T12:00:00 (UTC unless it names a '
              'zone)')


@dataclasses.dataclass(frozen=True)
class FlavorSummary:
    flavor: str
    migrations: int
    completed: int
    failed: int
    total_s: Optional[float]
    downtime_ms: Optional[float]
    mb_sent: Optional[float]
    mb_memory: Optional[float]
    predicted_total_s: Optional[float]


def parse_since(text, now):
    """Epoch seconds for ``--since``: an age before *now* or a time."""
    m = _RELATIVE_RE.match(str(text))
    if m:
        since = now - float(m.group(1)) * _RELATIVE_UNITS[m.group(2)]
        if not math.isfinite(since):
            # Hundreds of digits read as infinity.
            raise ValueError('--since %r is too far back; expected %s'
                             % (text, SINCE_HELP))
        return since
    try:
        when = datetime.datetime.fromisoformat(str(text).strip())
    except ValueError:
        raise ValueError('--since %r cannot be read; expected %s'
                         % (text, SINCE_HELP))
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp()


def _mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def flavor_label(report):
    if report.flavor:
        return report.flavor
    if report.memory_total_bytes:
        return 'unknown (%d MiB)' % round(report.memory_total_bytes / 2 ** 20)
    return 'unknown'


def _memory_key(reports):
    sizes = [r.memory_total_bytes for r in reports if r.memory_total_bytes]
    return min(sizes) if sizes else 0


def by_flavor(reports):
    """One ``FlavorSummary`` per flavor, smallest guest memory first."""
    groups = {}
    for report in reports:
        groups.setdefault(flavor_label(report), []).append(report)
    rows = []
    for flavor, group in groups.items():
        done = [r for r in group if r.completed]
        rows.append((_memory_key(group), flavor, FlavorSummary(
            flavor=flavor,
            migrations=len(group),
            completed=len(done),
            failed=len(group) - len(done),
            total_s=_mean(r.total_time_s for r in done),
            downtime_ms=_mean(r.downtime_ms for r in done),
            mb_sent=_mean(r.data_bytes / MB for r in done
                          if r.data_bytes is not None),
            mb_memory=_mean(r.memory_bytes / MB for r in done
                            if r.memory_bytes is not None),
            predicted_total_s=_mean(r.predicted_total_s for r in done))))
    return tuple(row for _, _, row in sorted(rows, key=lambda r: r[:2]))
