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

"""Bytes the guest's QEMU processes moved, seen by the kernel.

libvirt's ``data_processed`` is what the source QEMU says it sent. The
bytes the destination received are counted apart from libvirt: the
destination QEMU's ``rchar`` in ``/proc/PID/io`` (bytes its threads
read, the migration stream nearly all of it) from when it appears to its
last poll, and the source QEMU's ``wchar`` over the migration beside it.

A QEMU reads its kernel, initramfs and firmware when it starts, and the
destination's may be first seen before or after it did (its PID file comes
first); the source QEMU's ``rchar`` at the start of the migration is what
the same start-up read, so the destination's count starts from whichever
of the two is larger.
Polled every ``POLL_S``: the last poll before a QEMU exits misses at most
that long of the stream (0.6 MB at 6 MiB/s).
"""

import os
import threading

from nova_migtuner.testbed import hosts as hosts_mod
from nova_migtuner.testbed import processes

POLL_S = 0.1


def qemu_pid(host, guest_name):
    """PID of ``guest_name``'s QEMU on a test bed ``host`` from libvirt's
    PID file, or None; cheap enough to ask ten times a second (unlike a
    scan of every process).
    """
    try:
        with open(host.path('/run/libvirt/qemu/%s.pid' % guest_name)) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return None
    argv = processes.cmdline(pid)
    if not argv or os.path.basename(argv[0]) not in \
            hosts_mod.QEMU_EXECUTABLES:
        return None
    return pid


def read_io(pid):
    """``/proc/PID/io`` as a dict of ints, or None when PID is gone."""
    try:
        with open('/proc/%d/io' % pid) as f:
            text = f.read()
    except (OSError, ValueError):
        return None
    values = {}
    for line in text.splitlines():
        key, _, value = line.partition(':')
        if value.strip().isdigit():
            values[key.strip()] = int(value)
    return values


def moved(first, last, key):
    """Bytes of ``key`` between two ``read_io`` results (None if either is
    missing).
    """
    if not first or not last or key not in first or key not in last:
        return None
    return last[key] - first[key]


def received(source_first, dest_first, dest_last):
    """The destination QEMU's bytes read beyond its start-up (see the
    module's docstring), or None.
    """
    if not dest_first or not dest_last or 'rchar' not in dest_last:
        return None
    start = max(dest_first.get('rchar', 0),
                (source_first or {}).get('rchar', 0))
    return max(0, dest_last['rchar'] - start)


class QemuTraffic:
    """Polls the QEMU of one guest on a source and a destination host.

    ``find_pid(host)`` returns the PID of the guest's QEMU on ``host`` (or
    None); it is asked again only while none is known.
    """

    def __init__(self, find_pid, source, dest, poll_s=POLL_S):
        self.find_pid = find_pid
        self.hosts = (source, dest)
        self.poll_s = poll_s
        self.first = {}
        self.last = {}
        self._pids = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='bench-qemu-traffic')

    def _poll(self):
        for host in self.hosts:
            pid = self._pids.get(host) or self.find_pid(host)
            if pid is None:
                continue
            values = read_io(pid)
            if values is None:
                self._pids.pop(host, None)
                continue
            if self._pids.get(host) != pid:
                # A new QEMU (the destination's, started by the migration).
                self._pids[host] = pid
                self.first[host] = values
            self.last[host] = values

    def _run(self):
        while not self._stop.is_set():
            self._poll()
            self._stop.wait(self.poll_s)

    def start(self):
        self._poll()
        self._thread.start()
        return self

    def stop(self):
        """Stop polling; return the source QEMU's bytes written and the
        destination QEMU's bytes read.
        """
        self._stop.set()
        self._thread.join(timeout=5)
        source, dest = self.hosts
        return {'qemu_source_written_bytes': moved(
                    self.first.get(source), self.last.get(source), 'wchar'),
                'qemu_dest_read_bytes': received(
                    self.first.get(source), self.first.get(dest),
                    self.last.get(dest))}
