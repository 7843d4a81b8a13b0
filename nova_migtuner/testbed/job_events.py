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

"""libvirt's job-completed events, received over a connection of one's own.

After a live migration the source's domain is gone (nova undefines it) and
after post-copy the destination keeps no statistics at all, so polling
``jobStats`` can only approximate the final numbers. libvirt sends the
final statistics of every completed job as the
``VIR_DOMAIN_EVENT_ID_JOB_COMPLETED`` event, on the source too; this module
listens for them, outside the code under test.

libvirt delivers events only on connections opened after an event loop
implementation is registered, and only while that loop runs: the listener
registers libvirt's default loop once per process and runs it in a daemon
thread.
"""

import threading
import time

import libvirt

_LOOP_LOCK = threading.Lock()
_LOOP_THREAD = None


def _run_loop():
    while True:
        libvirt.virEventRunDefaultImpl()


def ensure_event_loop():
    """Register libvirt's default event loop (once) and keep it running."""
    global _LOOP_THREAD
    with _LOOP_LOCK:
        if _LOOP_THREAD is None:
            libvirt.virEventRegisterDefaultImpl()
            _LOOP_THREAD = threading.Thread(
                target=_run_loop, daemon=True, name='libvirt-event-loop')
            _LOOP_THREAD.start()


class JobCompletedListener:
    """The completed-job statistics libvirt announces on one host."""

    def __init__(self, uri):
        self.uri = uri
        self._stats = {}
        self._arrived = threading.Condition()
        self._conn = None
        self._callback_id = None

    def start(self):
        ensure_event_loop()
        self._conn = libvirt.open(self.uri)
        self._callback_id = self._conn.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_JOB_COMPLETED,
            self._on_completed, None)
        return self

    def _on_completed(self, _conn, dom, params, _opaque):
        with self._arrived:
            self._stats[dom.UUIDString()] = dict(params)
            self._arrived.notify_all()

    def stats(self, domain_uuid, timeout=0.0):
        """The announced statistics of *domain_uuid*'s last completed job,
        waiting up to *timeout* seconds for them; {} if none came.
        """
        deadline = time.monotonic() + timeout
        with self._arrived:
            while domain_uuid not in self._stats:
                left = deadline - time.monotonic()
                if left <= 0:
                    return {}
                self._arrived.wait(left)
            return dict(self._stats[domain_uuid])

    def stop(self):
        if self._conn is None:
            return
        try:
            if self._callback_id is not None:
                self._conn.domainEventDeregisterAny(self._callback_id)
            self._conn.close()
        except libvirt.libvirtError:
            pass                # the host went away first: nothing to free
        self._conn = self._callback_id = None
