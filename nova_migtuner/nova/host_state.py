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

The time of its last migration start (host spacing), the migrations in
flight from it (they share the link) and the bandwidth its last completed
migration reached alone on the link (``[migtuner] link_bandwidth =
measure``).
"""

import threading
import time

from nova_migtuner.planning import notification_schema as notif


class _InFlight:
    __slots__ = ('previous_start', 'shared')

    def __init__(self, previous_start):
        self.previous_start = previous_start
        self.shared = False


class HostState:
    """Thread-safe memory of this host's recent migrations."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self.last_start = None
        self.observed_bandwidth = None
        self._in_flight = {}

    def since_last_start(self):
        with self._lock:
            if self.last_start is None:
                return None
            return max(0.0, self._clock() - self.last_start)

    def reserve_start(self, key, spacing_s=0, force=False):
        """Check the host spacing and reserve the start, under one lock.

        :param key: the migration (its instance uuid).
        :param spacing_s: ``[migtuner] host_spacing_s``; 0: no spacing.
        :param force: start whatever the spacing (force-complete).
        :returns: 0.0 when reserved (the migration counts as in flight
            from now on), else the seconds of spacing left.
        """
        with self._lock:
            if key in self._in_flight:
                return 0.0
            now = self._clock()
            if not force and spacing_s > 0 and self.last_start is not None:
                left = spacing_s - (now - self.last_start)
                if left > 0:
                    return left
            entry = _InFlight(self.last_start)
            self._in_flight[key] = entry
            self.last_start = now
            if len(self._in_flight) > 1:
                for other in self._in_flight.values():
                    other.shared = True
            return 0.0

    def in_flight(self, exclude=None):
        """How many migrations from this host are in flight (not *exclude*).
        """
        with self._lock:
            return sum(1 for key in self._in_flight if key != exclude)

    def shared_link(self, key):
        """Whether *key* had another migration in flight beside it."""
        with self._lock:
            entry = self._in_flight.get(key)
            return entry is not None and entry.shared

    def end(self, key, started=True):
        """*key* is no longer in flight.

        :param started: False when nova never started the job: the
            reservation is given back, so the spacing counts from the start
            before it.
        """
        with self._lock:
            entry = self._in_flight.pop(key, None)
            if entry is not None and not started:
                self.last_start = entry.previous_start

    def note_bandwidth(self, data_bytes, seconds):
        if data_bytes and seconds and seconds > 0:
            with self._lock:
                self.observed_bandwidth = data_bytes / float(seconds)

    def note_end(self, payload, shared_link=False):
        """Remember the bandwidth of a completed migration's ``.end``.

        A migration that shared the link measured its share only, which is
        not the link's bandwidth: it is not remembered.
        """
        if shared_link:
            return
        if payload.get('outcome') == notif.OUTCOME_COMPLETED:
            self.note_bandwidth(payload.get('data_bytes_transferred'),
                                payload.get('total_time_s'))
