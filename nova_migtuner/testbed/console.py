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

"""Reading what a test bed guest writes to its serial console log."""

import dataclasses
import os
import re

REPORT_RE = re.compile(
    r'mtw rate_mib_s=(?P<rate>[0-9.]+) target_mib_s=(?P<target>[0-9.]+) '
    r'phase=(?P<phase>\w+) uptime_s=(?P<uptime>[0-9.]+)')


@dataclasses.dataclass(frozen=True)
class WorkloadReport:
    """One rate line of the guest workload (printed every ``report_s``)."""

    host: str
    rate_mib_s: float
    target_mib_s: float
    phase: str
    uptime_s: float


def read_text(path, offset=0):
    """Content of ``path`` from ``offset`` ('' if missing)."""
    try:
        with open(path, 'rb') as f:
            f.seek(offset)
            return f.read().decode('utf-8', 'replace')
    except FileNotFoundError:
        return ''


def file_size(path):
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def parse_reports(text, host):
    """Workload rate reports found in console ``text``, oldest first."""
    return [WorkloadReport(host=host,
                           rate_mib_s=float(m.group('rate')),
                           target_mib_s=float(m.group('target')),
                           phase=m.group('phase'),
                           uptime_s=float(m.group('uptime')))
            for m in REPORT_RE.finditer(text)]
