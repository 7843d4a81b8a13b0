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

QEMU moves the stream with sendmsg/recvmsg, which ``/proc/PID/io`` does not
count, so those two are mostly empty. What the destination received is
therefore also counted on the wire: ``PortCounter`` puts an iptables rule
without a target (it only counts) on loopback TCP to the destination's
migration ports, and reads its byte counter: the IP packets of the stream
to the destination, headers included (about 52 bytes per segment of up to
64 KiB on loopback, under 0.1 %), nothing of libvirt's own connection.
"""

import os
import shutil
import subprocess
import threading
import uuid

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


class PortCounter:
    """Bytes received on loopback TCP ports ``ports`` (first, last), from
    ``start()`` to ``stop()``, by an iptables counting rule of its own.
    """

    def __init__(self, ports, run=subprocess.run):
        self.ports = tuple(ports)
        self._run = run
        self._comment = 'nova-migtuner-bench-%s' % uuid.uuid4().hex[:8]
        self._rule = ['INPUT', '-i', 'lo', '-p', 'tcp', '--dport',
                      '%d:%d' % self.ports, '-m', 'comment', '--comment',
                      self._comment]
        self._added = False

    @staticmethod
    def available():
        return shutil.which('iptables') is not None

    def _iptables(self, *args):
        return self._run(['iptables', '-w'] + list(args), check=True,
                         capture_output=True, text=True)

    def start(self):
        self._iptables('-I', *self._rule)
        self._added = True
        return self

    def read(self):
        """The rule's byte counter, or None if the rule is not there."""
        out = self._iptables('-nvxL', 'INPUT').stdout
        for line in out.splitlines():
            if self._comment in line:
                return int(line.split()[1])
        return None

    def stop(self):
        """Remove the rule; return the bytes it counted (None if it was
        never added).
        """
        if not self._added:
            return None
        try:
            return self.read()
        finally:
            self._added = False
            self._iptables('-D', *self._rule)


class QemuTraffic:
    """Polls the QEMU of one guest on a source and a destination host.

    ``find_pid(host)`` returns the PID of the guest's QEMU on ``host`` (or
    None); it is asked again only while none is known.
    """

    def __init__(self, find_pid, source, dest, poll_s=POLL_S,
                 dest_ports=None):
        self.find_pid = find_pid
        self.counter = (PortCounter(dest_ports) if dest_ports and
                        PortCounter.available() else None)
        self._received = None
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
        if self.counter is not None:
            self.counter.start()
        self._poll()
        self._thread.start()
        return self

    def stop(self):
        """Stop polling; return the source QEMU's bytes written, the
        destination QEMU's bytes read and the bytes the destination's
        migration ports received (``dest_port_received_bytes``; None
        without ``dest_ports`` or iptables). Safe to call twice.
        """
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        if self.counter is not None and self._received is None:
            self._received = self.counter.stop()
        source, dest = self.hosts
        return {'dest_port_received_bytes': self._received,
                'qemu_source_written_bytes': moved(
                    self.first.get(source), self.last.get(source), 'wchar'),
                'qemu_dest_read_bytes': received(
                    self.first.get(source), self.first.get(dest),
                    self.last.get(dest))}
