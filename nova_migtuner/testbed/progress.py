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

"""The guest workload's progress lines, as the host reads them.

Every ``progress_ms`` (100 ms by default) the workload writes
``p<pages> r<requests> u<uptime_ms> g<gap_us>`` on the heartbeat's serial
port: pages dirtied and requests completed since it started (cumulative),
its uptime by its own clock and the longest gap between two completed
requests since the previous line, by its own clock. The host stamps each
line with its own monotonic clock when it reads it, as it does the
heartbeat, so the progress is seen from outside the guest: a guest that is
stopped (switch-over) or throttled reports less work per host second.
"""

import dataclasses
import re

LINE_RE = re.compile(rb'^p(\d+) r(\d+) u(\d+) g(\d+)$')


@dataclasses.dataclass(frozen=True)
class ProgressSample:
    time: float         # time.monotonic() when the host read the line
    host: str
    pages: int          # pages dirtied since the workload started
    requests: int       # requests completed since the workload started
    uptime_ms: int      # the workload's own clock
    max_gap_us: int     # longest gap between requests since the last line


def parse_line(line, time, host):
    """A ProgressSample from one stripped console line (bytes), or None.

    Anything else (heartbeats, kernel messages, a line cut by one) is not
    a progress line.
    """
    m = LINE_RE.match(line)
    if m is None:
        return None
    pages, requests, uptime, gap = (int(g) for g in m.groups())
    return ProgressSample(time, host, pages, requests, uptime, gap)


def parse_text(text, host, times=None):
    """Progress samples in a recorded console ``text`` (str or bytes).

    ``times`` gives each line's host read time (one per line of the text,
    e.g. from a recording); without it the guest's uptime stands in, which
    cannot show time the guest did not run.
    """
    if isinstance(text, str):
        text = text.encode('utf-8', 'replace')
    samples = []
    for n, line in enumerate(text.split(b'\n')):
        line = line.strip()
        m = LINE_RE.match(line)
        if m is None:
            continue
        when = times[n] if times is not None else int(m.group(3)) / 1000.0
        samples.append(parse_line(line, when, host))
    return samples
