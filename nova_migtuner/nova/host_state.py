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

"""What one compute host remembers between its migrations.

The time of its last migration start (host spacing) and the bandwidth its
last completed migration reached (``[migtuner] link_bandwidth = measure``).
"""

import threading
import time

from nova_migtuner.planning import notification_schema as notif


class HostState:
    """Thread-safe memory of this host's recent migrations."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self.last_start = None
        self.observed_bandwidth = None

    def since_last_start(self):
        with self._lock:
            if self.last_start is None:
                return None
            return max(0.0, self._clock() - self.last_start)

    def note_start(self):
        with self._lock:
            self.last_start = self._clock()

    def note_bandwidth(self, data_bytes, seconds):
        if data_bytes and seconds and seconds > 0:
            with self._lock:
                self.observed_bandwidth = data_bytes / float(seconds)

    def note_end(self, payload):
        """Remember the bandwidth of a completed migration's ``.end``."""
        if payload.get('outcome') == notif.OUTCOME_COMPLETED:
            self.note_bandwidth(payload.get('data_bytes_transferred'),
                                payload.get('total_time_s'))
