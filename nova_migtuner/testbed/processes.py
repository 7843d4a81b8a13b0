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

"""Small helpers around external commands and processes (by PID only)."""

import logging
import os
import signal
import subprocess
import time

from nova_migtuner.testbed import exceptions

LOG = logging.getLogger(__name__)

STDERR_TAIL_LINES = 20


def tail(text, lines=STDERR_TAIL_LINES):
    """Return the last ``lines`` lines of ``text``."""
    return '\n'.join((text or '').rstrip().splitlines()[-lines:])


def tail_file(path, lines=STDERR_TAIL_LINES):
    """Return the last ``lines`` lines of a file, or a note if unreadable."""
    try:
        with open(path, 'rb') as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read().decode('utf-8', 'replace')
    except OSError as exc:
        return '(cannot read %s: %s)' % (path, exc)
    return tail(data, lines)


def run(argv, cwd=None, input_bytes=None, timeout=300, env=None):
    """Run a command, raise CommandError with the stderr tail on failure."""
    LOG.debug('Running %s', argv)
    try:
        proc = subprocess.run(argv, cwd=cwd, input=input_bytes, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout, check=False)
    except FileNotFoundError:
        raise exceptions.CommandError(argv, 'not-found',
                                      '%s: command not found' % argv[0])
    except subprocess.TimeoutExpired as exc:
        raise exceptions.CommandError(
            argv, 'timeout after %ss' % timeout,
            tail((exc.stderr or b'').decode('utf-8', 'replace')))
    if proc.returncode != 0:
        raise exceptions.CommandError(
            argv, proc.returncode,
            tail(proc.stderr.decode('utf-8', 'replace')))
    return proc.stdout


def _stat_fields(pid):
    """/proc/PID/stat fields after the command name (state, ppid, ...),
    or None if the process is gone.
    """
    try:
        with open('/proc/%d/stat' % pid) as f:
            stat = f.read()
    except (OSError, ValueError):
        return None
    # The command name may contain spaces and parentheses: the fields start
    # after the last ')'.
    return stat.rsplit(')', 1)[1].split()


def process_state(pid):
    """Return the /proc state letter of ``pid``, or None if it is gone."""
    fields = _stat_fields(pid)
    return fields[0] if fields else None


def parent_pid(pid):
    """Return the parent PID of ``pid``, or None if it is gone."""
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def is_running(pid):
    """True if ``pid`` exists and is not a zombie.

    PID 1 on these machines does not necessarily reap orphans, so a killed
    daemon may stay a zombie: that counts as gone.
    """
    return pid is not None and process_state(pid) not in (None, 'Z', 'X')


def thread_states(pid):
    """One line per thread of ``pid``: id, name, state letter and the
    kernel function it waits in (wchan); tells a busy QEMU from a blocked
    one in a failure report.
    """
    lines = []
    try:
        tids = sorted(os.listdir('/proc/%d/task' % pid), key=int)
    except OSError:
        return '(gone)'
    for tid in tids:
        base = '/proc/%d/task/%s/' % (pid, tid)
        try:
            with open(base + 'comm') as f:
                name = f.read().strip()
            with open(base + 'wchan') as f:
                wchan = f.read().strip() or '-'
        except OSError:
            continue
        lines.append('%s %-16s %s %s' % (tid, name,
                                         process_state(int(tid)), wchan))
    return '\n'.join(lines)


def cmdline(pid):
    """Return the argv of ``pid`` as a list ([] if gone)."""
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            raw = f.read()
    except OSError:
        return []
    return [a.decode('utf-8', 'replace') for a in raw.split(b'\0') if a]


def find_processes(marker, executables):
    """PIDs of running processes whose executable basename is one of
    ``executables`` and whose command line mentions ``marker``.

    Used to find processes belonging to one test bed work dir (its libvirtd
    and QEMU processes) without matching by broad names.
    """
    found = []
    own = os.getpid()
    for entry in os.listdir('/proc'):
        if not entry.isdigit() or int(entry) == own:
            continue
        pid = int(entry)
        argv = cmdline(pid)
        if not argv or os.path.basename(argv[0]) not in executables:
            continue
        if any(marker in arg for arg in argv) and is_running(pid):
            found.append(pid)
    return found


def terminate(pid, timeout=10.0, reap=None):
    """Stop ``pid``: SIGTERM, wait up to ``timeout`` s, then SIGKILL.

    ``reap`` is an optional callable that waits for our own child (so that it
    does not stay a zombie). Returns True if the process is gone.
    """
    if not is_running(pid):
        if reap:
            reap()
        return True
    LOG.debug('Sending SIGTERM to %d', pid)
    send_signal(pid, signal.SIGTERM)
    if _wait_gone(pid, timeout, reap):
        return True
    LOG.warning('Process %d did not stop after SIGTERM in %.0f s, killing it',
                pid, timeout)
    send_signal(pid, signal.SIGKILL)
    return _wait_gone(pid, 5.0, reap)


def kill(pid, reap=None):
    """SIGKILL ``pid`` and wait until it is gone."""
    send_signal(pid, signal.SIGKILL)
    return _wait_gone(pid, 5.0, reap)


def send_signal(pid, sig):
    """Send ``sig`` to ``pid`` if it still exists; return whether it did.

    A process of the test bed can exit (and be reaped by the host's reaper)
    between the moment it was found and the moment it is signalled.
    """
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def _wait_gone(pid, timeout, reap):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if reap:
            reap()
        if not is_running(pid):
            return True
        time.sleep(0.05)
    return not is_running(pid)
