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

"""One libvirtd "host" of the test bed, on loopback.

libvirt refuses to migrate a guest to the host it runs on (it compares host
UUID and hostname), so each test bed host is a libvirtd with its own host
UUID, its own hostname (UTS namespace) and its own /etc/libvirt,
/var/lib/libvirt, /run/libvirt, /var/log/libvirt and /var/cache/libvirt
(bind mounts in a private mount namespace). Everything runs as root without
systemd; the daemon is stopped by PID.
"""

import glob
import logging
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
import uuid

from nova_migtuner.testbed import exceptions
from nova_migtuner.testbed import processes
from nova_migtuner.testbed import reaper

LOG = logging.getLogger(__name__)

SYSTEM_ETC = '/etc/libvirt'
SYSTEM_LIB = '/var/lib/libvirt'
# (directory under the host root, system path it is bind-mounted over)
BIND_MOUNTS = (
    ('etc', SYSTEM_ETC),
    ('run', '/run/libvirt'),
    ('lib', SYSTEM_LIB),
    ('log', '/var/log/libvirt'),
    ('cache', '/var/cache/libvirt'),
)
QEMU_EXECUTABLES = ('qemu-system-x86_64',)
READY_TIMEOUT_S = 30.0
DEFAULT_LIBVIRT_PORT = 16509

LIBVIRTD_CONF = """\
# Written by nova_migtuner.testbed: loopback only, no authentication.
listen_tls = 0
listen_tcp = 1
listen_addr = "{listen_addr}"
tcp_port = "{tcp_port}"
auth_tcp = "none"
auth_unix_rw = "none"
auth_unix_ro = "none"
host_uuid = "{host_uuid}"
{log_settings}
"""
# Warnings and errors only, unless NOVA_MIGTUNER_TESTBED_DEBUG_LOG=1 (the test
# suite sets it): then also libvirt's migration steps and every QEMU monitor
# message, which is what tells where a blocked migration call waits.
LOG_WARNINGS = 'log_outputs = "3:file:{log_file}"'
LOG_MIGRATION_DEBUG = (
    'log_level = 3\n'
    'log_filters = "1:qemu.qemu_migration 1:qemu.qemu_monitor"\n'
    'log_outputs = "1:file:{log_file}"')
DEBUG_LOG_ENV = 'NOVA_MIGTUNER_TESTBED_DEBUG_LOG'

QEMU_CONF = """\
# Written by nova_migtuner.testbed: root without systemd, cgroups, security
# drivers, namespaces or virtlogd.
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
migration_port_min = {migration_port_min}
migration_port_max = {migration_port_max}
"""


class LibvirtHost:
    """A libvirtd listening on ``listen_addr``:``tcp_port`` with its own
    state under ``base_dir/name``.
    """

    def __init__(self, name, base_dir, tcp_port, migration_ports,
                 listen_addr='127.0.0.1', extra_mounts=()):
        """extra_mounts: more (directory under the host root, system path)
        pairs bind-mounted like BIND_MOUNTS, e.g. nova's instances
        directory for a nova-compute that runs in this host's namespaces.
        """
        self.name = name
        self.listen_addr = listen_addr
        self.bind_mounts = BIND_MOUNTS + tuple(extra_mounts)
        self.root = os.path.join(os.path.abspath(base_dir), name)
        self.tcp_port = int(tcp_port)
        self.migration_ports = tuple(migration_ports)
        self.hostname = 'migtuner-%s' % name
        self.host_uuid = str(uuid.uuid5(
            uuid.NAMESPACE_URL, 'nova-migtuner-testbed:%s' % self.root))
        self.pid_file = os.path.join(self.root, 'libvirtd.pid')
        self.output_log = os.path.join(self.root, 'libvirtd.output.log')
        self.log_file = os.path.join(self.root, 'log', 'libvirtd.log')
        self._popen = None

    @property
    def uri(self):
        if self.tcp_port == DEFAULT_LIBVIRT_PORT:
            # The form nova builds from live_migration_inbound_addr.
            return 'qemu+tcp://%s/system' % self.listen_addr
        return 'qemu+tcp://%s:%d/system' % (self.listen_addr, self.tcp_port)

    def path(self, system_path):
        """Host-side path of a path as the daemon and its QEMUs see it."""
        for sub, target in self.bind_mounts:
            if system_path == target or system_path.startswith(target + '/'):
                return os.path.join(self.root, sub,
                                    os.path.relpath(system_path, target))
        return system_path

    def qemu_log(self, guest_name):
        return self.path('/var/log/libvirt/qemu/%s.log' % guest_name)

    # -- state -------------------------------------------------------------

    def pid(self):
        """PID of this host's running libvirtd, or None.

        The PID file alone is not trusted: the process must be a libvirtd
        started with this host's PID file (PIDs get reused).
        """
        try:
            with open(self.pid_file) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        argv = processes.cmdline(pid)
        if (processes.is_running(pid) and argv and
                os.path.basename(argv[0]) == 'libvirtd' and
                self.pid_file in argv):
            return pid
        return None

    def is_running(self):
        return self.pid() is not None

    def qemu_pids(self):
        """PIDs of running QEMU processes started by this host.

        Found by this host's QEMU PID files and, while libvirtd runs, by
        sharing its mount namespace (QEMU inherits it), so that a QEMU whose
        PID file is already gone is not missed.
        """
        pids = set()
        for pid_file in glob.glob(os.path.join(self.root, 'run', 'qemu',
                                               '*.pid')):
            try:
                with open(pid_file) as f:
                    pids.add(int(f.read().strip()))
            except (OSError, ValueError):
                continue
        daemon = self.pid()
        namespace = _mount_namespace(daemon) if daemon else None
        if namespace:
            for entry in os.listdir('/proc'):
                if entry.isdigit() and int(entry) != daemon and \
                        _mount_namespace(int(entry)) == namespace:
                    pids.add(int(entry))
        return sorted(
            pid for pid in pids
            if processes.is_running(pid) and processes.cmdline(pid) and
            os.path.basename(processes.cmdline(pid)[0]) in QEMU_EXECUTABLES)

    def guest_qemu_pid(self, guest_name):
        """PID of the running QEMU of ``guest_name`` on this host, or None
        (read from libvirt's PID file, checked against qemu_pids()).
        """
        try:
            with open(self.path('/run/libvirt/qemu/%s.pid'
                                % guest_name)) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        return pid if pid in self.qemu_pids() else None

    def reaper_pids(self):
        """PIDs of the reaper processes above this host's libvirtd."""
        return [pid for pid in processes.find_processes(
                    self.pid_file, (os.path.basename(sys.executable),
                                    'python3', 'python'))
                if reaper.MODULE in processes.cmdline(pid)]

    # -- lifecycle ---------------------------------------------------------

    def prepare(self):
        """Create fresh per-host copies of the libvirt dirs and configs."""
        if os.path.exists(self.root):
            shutil.rmtree(self.root)
        os.makedirs(self.root)
        shutil.copytree(SYSTEM_ETC, os.path.join(self.root, 'etc'),
                        symlinks=True)
        shutil.copytree(SYSTEM_LIB, os.path.join(self.root, 'lib'),
                        symlinks=True)
        for sub in ('run', 'log', 'cache') + tuple(
                sub for sub, _target in self.bind_mounts[len(BIND_MOUNTS):]):
            os.makedirs(os.path.join(self.root, sub))
        os.makedirs(os.path.join(self.root, 'log', 'qemu'))
        # The system's autostart networks (default: a bridge with a private
        # address and dnsmasq) and any system domains must not start here.
        etc_qemu = os.path.join(self.root, 'etc', 'qemu')
        for pattern in ('networks/autostart/*', 'autostart/*', '*.xml'):
            for path in glob.glob(os.path.join(etc_qemu, pattern)):
                os.remove(path)
        with open(os.path.join(self.root, 'etc', 'libvirtd.conf'), 'w') as f:
            log_settings = (LOG_MIGRATION_DEBUG
                            if os.environ.get(DEBUG_LOG_ENV) == '1'
                            else LOG_WARNINGS)
            f.write(LIBVIRTD_CONF.format(
                tcp_port=self.tcp_port, listen_addr=self.listen_addr,
                host_uuid=self.host_uuid,
                log_settings=log_settings.format(log_file=self.log_file)))
        with open(os.path.join(self.root, 'etc', 'qemu.conf'), 'w') as f:
            f.write(QEMU_CONF.format(
                migration_port_min=self.migration_ports[0],
                migration_port_max=self.migration_ports[1]))

    def start(self, timeout=READY_TIMEOUT_S, capabilities_cache=None):
        """Start libvirtd in its own UTS and mount namespaces and wait until
        it accepts connections. No-op if it already runs.

        capabilities_cache: a directory shared between hosts. Probing QEMU
        capabilities takes libvirtd about 8 s under TCG; the probe result is
        the same for every host on this machine, so it is seeded from there
        and saved back (libvirtd re-probes by itself if it is stale).
        """
        if self.is_running():
            LOG.debug('libvirtd of host %s already runs (pid %s)',
                      self.name, self.pid())
            return
        self._check_port_free()
        # Bind-mount targets must exist on the real filesystem. /run/libvirt
        # is libvirt's standard runtime dir; it is created if missing and
        # left in place (other beds may use it as a mount point).
        for _sub, target in self.bind_mounts:
            os.makedirs(target, exist_ok=True)
        host_cache = os.path.join(self.root, 'cache', 'qemu', 'capabilities')
        if capabilities_cache and os.path.isdir(capabilities_cache) and \
                not os.path.exists(host_cache):
            shutil.copytree(capabilities_cache, host_cache)
        script = ['set -e', 'hostname %s' % shlex.quote(self.hostname)]
        for sub, target in self.bind_mounts:
            script.append('mount --bind %s %s' % (
                shlex.quote(os.path.join(self.root, sub)),
                shlex.quote(target)))
        script.append('exec libvirtd --listen --config %s --pid-file %s' % (
            shlex.quote(os.path.join(self.root, 'etc', 'libvirtd.conf')),
            shlex.quote(self.pid_file)))
        # unshare and sh exec, so libvirtd is the reaper's child; the reaper
        # adopts and reaps the QEMUs libvirtd daemonizes (see reaper.py).
        argv = [sys.executable, '-m', reaper.MODULE,
                'unshare', '--uts', '--mount', '--propagation', 'private',
                'sh', '-c', '\n'.join(script)]
        LOG.info('Starting libvirtd for test bed host %s on %s',
                 self.name, self.uri)
        with open(self.output_log, 'ab') as out:
            self._popen = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                start_new_session=True, close_fds=True)
        try:
            self._wait_ready(timeout)
        except Exception:
            self.stop()
            raise
        if capabilities_cache and os.path.isdir(host_cache):
            shutil.rmtree(capabilities_cache, ignore_errors=True)
            shutil.copytree(host_cache, capabilities_cache)

    def _check_port_free(self):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((self.listen_addr, self.tcp_port))
            except OSError as exc:
                raise exceptions.TestbedError(
                    'Cannot start test bed host %s: %s:%d is in use '
                    '(%s). Another libvirtd or test bed may be running; '
                    'choose other ports (Testbed(ports=...) or '
                    'NOVA_MIGTUNER_TESTBED_PORTS).'
                    % (self.name, self.listen_addr, self.tcp_port, exc))

    def _wait_ready(self, timeout):
        import libvirt  # noqa: imported late: the prerequisite check names it

        deadline = time.monotonic() + timeout
        last_error = None
        while time.monotonic() < deadline:
            if self._popen.poll() is not None:
                raise self._failure('libvirtd exited with code %s'
                                    % self._popen.returncode)
            try:
                socket.create_connection((self.listen_addr, self.tcp_port),
                                         timeout=0.5).close()
            except OSError:
                time.sleep(0.05)
                continue
            try:
                conn = libvirt.open(self.uri)
                try:
                    caps = conn.getCapabilities()
                finally:
                    conn.close()
            except libvirt.libvirtError as exc:
                # The port opens before the drivers are initialized; a
                # failing initialization shows up as a closed connection.
                last_error = exc
                time.sleep(0.1)
                continue
            if '<uuid>%s</uuid>' % self.host_uuid not in caps:
                raise self._failure(
                    '%s answers with another host UUID than %s: another '
                    'libvirtd owns this port' % (self.uri, self.host_uuid))
            LOG.info('libvirtd of test bed host %s ready (pid %d)',
                     self.name, self._popen.pid)
            return
        raise self._failure('libvirtd did not accept connections on %s '
                            'within %.0f s (last error: %s)'
                            % (self.uri, timeout, last_error))

    def _failure(self, what):
        return exceptions.TestbedError(
            'Test bed host %s: %s.\n--- %s (tail) ---\n%s\n--- %s (tail) ---\n'
            '%s' % (self.name, what, self.output_log,
                    processes.tail_file(self.output_log), self.log_file,
                    processes.tail_file(self.log_file)))

    def _reap(self):
        if self._popen is not None:
            self._popen.poll()

    def stop(self):
        """Stop libvirtd and every QEMU it started, by PID. Idempotent."""
        qemu_pids = self.qemu_pids()
        pid = self.pid()
        if pid is None and self._popen is not None and \
                processes.is_running(self._popen.pid):
            # No PID file yet: stop the reaper, which passes SIGTERM on to
            # libvirtd.
            pid = self._popen.pid
        if pid is not None:
            LOG.info('Stopping libvirtd of test bed host %s (pid %d)',
                     self.name, pid)
            if not processes.terminate(pid, reap=self._reap):
                raise exceptions.TestbedError(
                    'libvirtd of test bed host %s (pid %d) did not stop'
                    % (self.name, pid))
        # QEMU processes are not children of libvirtd after start-up and
        # survive it; the guests are throwaway, so no clean shutdown.
        self.kill_qemus(qemu_pids)
        # With no child left, the reaper exits by itself.
        for reaper_pid in self.reaper_pids():
            if not processes.terminate(reaper_pid, timeout=5.0,
                                       reap=self._reap):
                raise exceptions.TestbedError(
                    'The reaper (pid %d) of test bed host %s did not stop'
                    % (reaper_pid, self.name))
        self._reap()
        self._popen = None

    def kill_qemus(self, pids=()):
        """SIGKILL every QEMU of this host, and ``pids``; return them."""
        killed = sorted(set(pids) | set(self.qemu_pids()))
        for qemu_pid in killed:
            LOG.info('Killing QEMU pid %d of test bed host %s',
                     qemu_pid, self.name)
            processes.kill(qemu_pid)
        return killed

    def remove_state(self):
        """Delete this host's directory (only when stopped)."""
        if self.is_running():
            raise exceptions.TestbedError(
                'Refusing to remove %s: libvirtd still runs' % self.root)
        shutil.rmtree(self.root, ignore_errors=True)


def _mount_namespace(pid):
    try:
        return os.readlink('/proc/%d/ns/mnt' % pid)
    except OSError:
        return None
