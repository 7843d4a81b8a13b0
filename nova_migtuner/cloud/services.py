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

"""Start, check and stop one service process of the cloud by PID.

There is no init system here, and the parent that starts a service is
often not the one that stops it (``cloud up`` and ``cloud down`` are two
commands). Each service therefore runs under the test bed's reaper (a
child subreaper, see ``nova_migtuner.testbed.reaper``) in its own session,
and the reaper's PID goes into ``<run dir>/<name>.pid``: stopping sends
SIGTERM to the reaper, which passes it on, and after a bounded wait the
whole process group is killed. Every service's command line names the
cloud's work dir, so ``leftovers`` also finds processes that escaped their
group.
"""

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
import typing
import urllib.error
import urllib.request

from nova_migtuner.testbed import processes
from nova_migtuner.testbed import reaper

STOP_TIMEOUT_S = 20.0


class ServiceError(Exception):
    """A service did not start or stop; the message has its log tail."""


@dataclasses.dataclass
class Service:
    """One long-running process of the cloud.

    ready: a callable returning None when the service answers, or a string
    saying what did not answer; probe: a short description of that check
    for ``status``.
    """

    name: str
    argv: typing.Sequence[str]
    run_dir: str
    log_file: str
    ready: typing.Callable[[], typing.Optional[str]]
    probe: str
    env: typing.Mapping[str, str] = dataclasses.field(default_factory=dict)
    ready_timeout_s: float = 120.0
    stop_timeout_s: float = STOP_TIMEOUT_S
    stand_in: bool = False
    wrapper: typing.Sequence[str] = ()

    @property
    def pid_file(self):
        return os.path.join(self.run_dir, '%s.pid' % self.name)

    def pid(self):
        """PID of this service's reaper if it still runs, else None."""
        try:
            with open(self.pid_file) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        if processes.is_running(pid) and \
                reaper.MODULE in processes.cmdline(pid):
            return pid
        return None

    def child_pid(self):
        """PID of the service process itself (the reaper's first child)."""
        pid = self.pid()
        if pid is None:
            return None
        try:
            with open('/proc/%d/task/%d/children' % (pid, pid)) as f:
                children = [int(c) for c in f.read().split()]
        except (OSError, ValueError):
            return None
        return children[0] if children else None

    def is_running(self):
        return self.pid() is not None

    def start(self):
        """Start the service unless it runs; wait until it answers."""
        if self.is_running():
            problem = self.ready()
            if problem is None:
                return False
            raise ServiceError(self.failure(
                'runs (pid %s) but does not answer: %s'
                % (self.pid(), problem)))
        os.makedirs(self.run_dir, exist_ok=True)
        os.makedirs(os.path.dirname(self.log_file), exist_ok=True)
        env = dict(os.environ)
        env.update(self.env)
        argv = [sys.executable, '-m', reaper.MODULE] + list(self.wrapper) + \
            list(self.argv)
        with open(self.log_file, 'ab') as out:
            out.write(('\n=== %s starting: %s\n' % (
                time.strftime('%Y-%m-%d %H:%M:%S'), ' '.join(
                    self.argv))).encode())
            out.flush()
            # In the run dir: whatever a service drops in its working
            # directory (an Erlang crash dump, say) stays in the cloud's.
            popen = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                env=env, cwd=self.run_dir, start_new_session=True,
                close_fds=True)
        with open(self.pid_file, 'w') as f:
            f.write('%d\n' % popen.pid)
        self.wait_ready(popen)
        return True

    def wait_ready(self, popen=None):
        deadline = time.monotonic() + self.ready_timeout_s
        problem = 'not checked yet'
        while time.monotonic() < deadline:
            if popen is not None and popen.poll() is not None:
                raise ServiceError(self.failure(
                    'exited with code %s while starting' % popen.returncode))
            if popen is None and not self.is_running():
                raise ServiceError(self.failure('is not running'))
            problem = self.ready()
            if problem is None:
                return
            time.sleep(0.25)
        self.stop()
        raise ServiceError(self.failure(
            'did not answer within %.0f s (%s: %s)'
            % (self.ready_timeout_s, self.probe, problem)))

    def stop(self):
        """SIGTERM, a bounded wait, then SIGKILL of whatever is left below
        the reaper.
        """
        pid = self.pid()
        if pid is not None:
            processes.send_signal(pid, signal.SIGTERM)
            deadline = time.monotonic() + self.stop_timeout_s
            while time.monotonic() < deadline and processes.is_running(pid):
                time.sleep(0.1)
            for member in reversed(descendants(pid)):
                processes.send_signal(member, signal.SIGKILL)
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline and processes.is_running(pid):
                time.sleep(0.05)
        try:
            os.remove(self.pid_file)
        except FileNotFoundError:
            pass

    def status(self):
        pid = self.pid()
        answer = self.ready() if pid is not None else 'not running'
        return {'service': self.name, 'pid': self.child_pid() or pid,
                'running': pid is not None,
                'answers': pid is not None and answer is None,
                'probe': self.probe, 'problem': answer,
                'rss_mib': round(tree_rss_bytes(pid) / 2 ** 20, 1)
                if pid else 0.0,
                'stand_in': self.stand_in, 'log': self.log_file}

    def failure(self, what):
        return ('%s %s.\n--- %s (tail) ---\n%s'
                % (self.name, what, self.log_file,
                   processes.tail_file(self.log_file, 40)))


def descendants(pid):
    """``pid`` and every process below it. The reaper above a service is
    a child subreaper, so orphans of the service stay below it too; process
    groups do not serve here, since oslo.service workers and daemons start
    groups of their own.
    """
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in _list_dir('/proc/%d/task' % current):
            try:
                with open('/proc/%d/task/%s/children' % (current, task)) as f:
                    todo.extend(int(c) for c in f.read().split())
            except (OSError, ValueError):
                continue
    return found


def _list_dir(path):
    try:
        return os.listdir(path)
    except OSError:
        return []


def tree_rss_bytes(pid):
    """Resident memory of ``pid`` and every process below it."""
    total = 0
    for member in descendants(pid):
        try:
            with open('/proc/%d/statm' % member) as f:
                total += int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
        except (OSError, ValueError, IndexError):
            continue
    return total


def tcp_answers(host, port):
    """A ready check: something accepts TCP connections on host:port."""
    def check():
        try:
            socket.create_connection((host, port), timeout=1.0).close()
        except OSError as exc:
            return 'no TCP listener on %s:%d (%s)' % (host, port, exc)
        return None
    return check


def http_answers(url, expect=(200, 300, 401)):
    """A ready check: ``url`` answers with one of the ``expect`` codes."""
    def check():
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                code = response.status
        except urllib.error.HTTPError as exc:
            code = exc.code
        except OSError as exc:
            return 'GET %s failed: %s' % (url, exc)
        if code not in expect:
            return 'GET %s answered %d' % (url, code)
        return None
    return check


def command_answers(argv, env=None, timeout=10):
    """A ready check: ``argv`` exits 0."""
    def check():
        full_env = dict(os.environ)
        full_env.update(env or {})
        try:
            result = subprocess.run(argv, env=full_env, timeout=timeout,
                                    stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return '%s: %s' % (argv[0], exc)
        if result.returncode:
            return '%s exited %d: %s' % (
                ' '.join(argv[:3]), result.returncode,
                result.stdout.decode(errors='replace').strip()[-200:])
        return None
    return check


def log_contains(path, marker):
    """A ready check: ``marker`` appears in the log written since start."""
    def check():
        try:
            with open(path, errors='replace') as f:
                text = f.read()
        except OSError as exc:
            return 'cannot read %s: %s' % (path, exc)
        last_start = text.rfind('\n=== ')
        if marker in text[last_start:]:
            return None
        return '%r not yet in %s' % (marker, path)
    return check
