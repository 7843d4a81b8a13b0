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

"""The two-host libvirt/QEMU test bed: the API used by tests and benchmarks.

Example::

    bed = Testbed()
    bed.up()
    dom = bed.boot_guest('vm1', workload=Workload('constant', 128, 50))
    probe = bed.heartbeat_probe('vm1').start()
    dom.migrateToURI3(bed.uri('b'), {libvirt.VIR_MIGRATE_PARAM_URI:
                                     bed.migration_uri('b')}, flags)
    print(probe.stop().longest_gap_ms)
    bed.down()
"""

import logging
import os
import shutil
import time

from nova_migtuner.testbed import console
from nova_migtuner.testbed import exceptions
from nova_migtuner.testbed import guest
from nova_migtuner.testbed import heartbeat
from nova_migtuner.testbed import hosts
from nova_migtuner.testbed import prerequisites
from nova_migtuner.testbed import processes
from nova_migtuner.testbed.workload import Workload

LOG = logging.getLogger(__name__)

DEFAULT_WORKDIR = '/var/tmp/nova-migtuner-testbed'
DEFAULT_PORTS = (16609, 16610)
DEFAULT_ADDRESSES = ('127.0.0.1', '127.0.0.1')
# Migration ports are derived from host a's libvirtd port, so that beds on
# different libvirtd ports also get disjoint migration port ranges.
MIGRATION_PORT_FIRST = 49152
MIGRATION_PORT_SLOTS = 800
HOST_NAMES = ('a', 'b')
WORKDIR_ENV = 'NOVA_MIGTUNER_TESTBED_DIR'
PORTS_ENV = 'NOVA_MIGTUNER_TESTBED_PORTS'
BOOT_TIMEOUT_S = 90.0
# Serial logs as the daemon and QEMU see them; each host bind-mounts its own
# /var/log/libvirt, so the same path is a different file per host.
CONSOLE_LOG = '/var/log/libvirt/qemu/%s.console.log'
HEARTBEAT_LOG = '/var/log/libvirt/qemu/%s.heartbeat.log'


class Testbed:
    """Two libvirtd "hosts" (a and b) on 127.0.0.1 and TCG guests on them.

    workdir holds the guest artifacts (kept across down() as a build cache)
    and the hosts' runtime state (removed by down()). ports are the libvirtd
    TCP ports of hosts a and b; each host gets 10 migration ports starting at
    migration_port_base (a) and migration_port_base + 10 (b); by default the
    base is derived from ports[0] (16609 -> 61332).
    """

    __test__ = False  # not a pytest test class

    def __init__(self, workdir=None, ports=DEFAULT_PORTS,
                 migration_port_base=None, artifacts_dir=None,
                 addresses=DEFAULT_ADDRESSES, extra_mounts=()):
        self.workdir = os.path.abspath(workdir or DEFAULT_WORKDIR)
        for _sub, target in hosts.BIND_MOUNTS:
            if (self.workdir + '/').startswith(target + '/'):
                raise ValueError('workdir=%r is invalid: it is inside %s, '
                                 'which the test bed hosts bind-mount over'
                                 % (self.workdir, target))
        if len(addresses) != 2:
            raise ValueError('addresses=%r is invalid: expected the listen '
                             'addresses of hosts a and b' % (addresses,))
        if len(ports) != 2 or not all(0 < int(p) < 65536 for p in ports) or \
                (ports[0], addresses[0]) == (ports[1], addresses[1]):
            raise ValueError('ports=%r is invalid: expected two TCP ports for '
                             'hosts a and b, distinct unless the hosts listen '
                             'on distinct addresses (%s)'
                             % (ports, ', '.join(addresses)))
        if migration_port_base is None:
            migration_port_base = MIGRATION_PORT_FIRST + 20 * (
                int(ports[0]) % MIGRATION_PORT_SLOTS)
        self.artifacts = guest.GuestArtifacts(
            artifacts_dir or os.path.join(self.workdir, 'artifacts'))
        self.hosts_dir = os.path.join(self.workdir, 'hosts')
        self.hosts = {
            name: hosts.LibvirtHost(
                name, self.hosts_dir, port,
                (migration_port_base + 10 * i,
                 migration_port_base + 10 * i + 9),
                listen_addr=address, extra_mounts=extra_mounts)
            for i, (name, port, address) in enumerate(
                zip(HOST_NAMES, ports, addresses))}
        self._connections = {}

    @classmethod
    def from_environment(cls):
        """Test bed configured by NOVA_MIGTUNER_TESTBED_DIR and
        NOVA_MIGTUNER_TESTBED_PORTS ("16609,16610").
        """
        ports = DEFAULT_PORTS
        if os.environ.get(PORTS_ENV):
            try:
                ports = tuple(int(p) for p in
                              os.environ[PORTS_ENV].split(','))
            except ValueError:
                raise ValueError('%s=%r is invalid: expected "PORT_A,PORT_B"'
                                 % (PORTS_ENV, os.environ[PORTS_ENV]))
        return cls(workdir=os.environ.get(WORKDIR_ENV), ports=ports)

    # -- prerequisites -----------------------------------------------------

    @staticmethod
    def missing_prerequisites():
        """List of MissingPrerequisite; empty when the bed can run."""
        return prerequisites.missing()

    @staticmethod
    def install_hint():
        """The exact command(s) installing what is missing ('' if nothing)."""
        return prerequisites.install_hint()

    # -- lifecycle ---------------------------------------------------------

    def up(self):
        """Build artifacts if missing or outdated, start hosts not running.

        Idempotent. Raises PrerequisiteError (with the install command) or
        TestbedError (with the failing command or log tails).
        """
        missing = self.missing_prerequisites()
        if missing:
            raise exceptions.PrerequisiteError(
                'Test bed prerequisites missing: %s. Install with:\n%s'
                % ('; '.join(str(m) for m in missing),
                   prerequisites.install_hint(missing)))
        os.makedirs(self.workdir, exist_ok=True)
        self.artifacts.ensure_built()
        for host in self.hosts.values():
            if host.is_running():
                continue
            # A previous bed may have crashed: clear its QEMUs and state.
            host.stop()
            host.prepare()
            host.start(capabilities_cache=os.path.join(
                self.artifacts.directory, 'qemu-capabilities'))
        return self

    def down(self, purge=False):
        """Stop guests and daemons by PID and remove runtime state.

        Idempotent. With purge, the cached guest artifacts and the work dir
        go too. Raises TestbedError if anything is left behind.
        """
        self._close_connections()
        for host in self.hosts.values():
            if host.is_running():
                self._destroy_all_guests(host)
            host.stop()
            host.remove_state()
        if os.path.isdir(self.hosts_dir):
            shutil.rmtree(self.hosts_dir, ignore_errors=True)
        if purge:
            shutil.rmtree(self.artifacts.directory, ignore_errors=True)
            if os.path.isdir(self.workdir) and not os.listdir(self.workdir):
                os.rmdir(self.workdir)
        left = self.leftovers()
        if any(left.values()):
            raise exceptions.TestbedError(
                'Test bed down left things behind: %s' % left)

    def leftovers(self):
        """Processes, mounts and runtime dirs of this bed that still exist."""
        pids = processes.find_processes(self.hosts_dir, ('libvirtd',))
        pids += processes.find_processes(
            self.artifacts.kernel, hosts.QEMU_EXECUTABLES)
        for host in self.hosts.values():
            pids += host.qemu_pids() + host.reaper_pids()
        mounts = []
        with open('/proc/self/mountinfo') as f:
            for line in f:
                fields = line.split()
                if fields[3].startswith(self.workdir) or \
                        fields[4].startswith(self.workdir):
                    mounts.append(fields[4])
        dirs = [self.hosts_dir] if os.path.exists(self.hosts_dir) else []
        return {'processes': sorted(set(pids)), 'mounts': mounts,
                'dirs': dirs}

    def status(self):
        """Dict describing hosts (running, pid, uri, logs) and guests."""
        result = {'workdir': self.workdir,
                  'artifacts_current': self.artifacts.is_current()
                  if not self.missing_prerequisites() else False,
                  'hosts': {}}
        for name, host in self.hosts.items():
            pid = host.pid()
            guests = []
            if pid is not None:
                try:
                    for dom in self.connect(name).listAllDomains():
                        state, _reason = dom.state()
                        guests.append({'name': dom.name(),
                                       'active': bool(dom.isActive()),
                                       'persistent': bool(dom.isPersistent()),
                                       'state': state})
                except Exception as exc:  # status must not fail on one host
                    guests.append({'error': str(exc)})
            result['hosts'][name] = {
                'running': pid is not None, 'pid': pid,
                'uri': host.uri, 'migration_uri': self.migration_uri(name),
                'hostname': host.hostname, 'host_uuid': host.host_uuid,
                'migration_ports': list(host.migration_ports),
                'qemu_pids': host.qemu_pids(), 'log': host.log_file,
                'guests': guests}
        return result

    def __enter__(self):
        return self.up()

    def __exit__(self, *exc_info):
        self.down()

    # -- connections -------------------------------------------------------

    def _host(self, host):
        try:
            return self.hosts[host]
        except KeyError:
            raise ValueError('Unknown test bed host %r: expected one of %s'
                             % (host, ', '.join(HOST_NAMES)))

    def uri(self, host):
        """libvirt URI of ``host`` ('a' or 'b')."""
        return self._host(host).uri

    def migration_uri(self, host):
        """VIR_MIGRATE_PARAM_URI for migrating to ``host`` over loopback."""
        return 'tcp://%s' % self._host(host).listen_addr

    def connect(self, host):
        """Open (or reuse) a libvirt connection to ``host``.

        The test bed owns the connection and closes it in down(); callers
        must not close it.
        """
        import libvirt

        conn = self._connections.get(host)
        if conn is not None:
            try:
                if conn.isAlive():
                    return conn
            except libvirt.libvirtError:
                pass
        target = self._host(host)
        if not target.is_running():
            raise exceptions.TestbedError(
                'Test bed host %s is not running; call up() first' % host)
        conn = libvirt.open(target.uri)
        self._connections[host] = conn
        return conn

    def restart_daemon(self, host):
        """Start *host*'s libvirtd again after it died, as a daemon restart
        on a real host does: its guests' QEMUs, disks and libvirt state are
        kept (``up()`` would rebuild the host from scratch), so the new
        daemon reconnects to the QEMUs that still run.
        """
        self._host(host).start(capabilities_cache=os.path.join(
            self.artifacts.directory, 'qemu-capabilities'))
        self.forget_connection(host)

    def forget_connection(self, host):
        """Drop the cached connection to *host*'s libvirtd: after the daemon
        was killed and restarted, ``isAlive()`` can still say True for the
        old one (no event loop, no keepalive), so the next ``connect``
        must open a new one.
        """
        self._connections.pop(host, None)

    def _close_connections(self):
        for conn in self._connections.values():
            try:
                conn.close()
            except Exception:  # the daemon may already be gone
                pass
        self._connections = {}

    # -- guests ------------------------------------------------------------

    def console_log(self, name, host):
        """Host-side path of the guest's serial console log on ``host``."""
        return self._host(host).path(CONSOLE_LOG % name)

    def heartbeat_log(self, name, host):
        """Host-side path of the guest's heartbeat serial log on ``host``."""
        return self._host(host).path(HEARTBEAT_LOG % name)

    def guest_xml(self, name, memory_mib=256, vcpus=1, workload=None):
        guest.validate_guest_name(name)
        workload = workload or Workload()
        workload.validate_for_guest(memory_mib)
        return guest.domain_xml(name, memory_mib, vcpus, self.artifacts,
                                workload, CONSOLE_LOG % name,
                                HEARTBEAT_LOG % name)

    def boot_guest(self, name, host='a', memory_mib=256, vcpus=1,
                   workload=None, persistent=True, timeout=BOOT_TIMEOUT_S):
        """Start a TCG guest on ``host``; return its virDomain once the
        workload runs (its "mtw ready" line is on the console).
        """
        xml = self.guest_xml(name, memory_mib, vcpus, workload)
        conn = self.connect(host)
        for other in HOST_NAMES:
            if self._find_domain(other, name) is not None:
                raise exceptions.TestbedError(
                    'Guest %s already exists on test bed host %s; '
                    'destroy_guest() it first' % (name, other))
        self._remove_serial_logs(name)
        started = time.monotonic()
        if persistent:
            dom = conn.defineXML(xml)
            dom.create()
        else:
            dom = conn.createXML(xml, 0)
        self._wait_for_console(name, host, dom, guest.READY_MARKER, timeout)
        LOG.info('Guest %s up on test bed host %s in %.1f s',
                 name, host, time.monotonic() - started)
        return dom

    def _wait_for_console(self, name, host, dom, marker, timeout):
        path = self.console_log(name, host)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker in console.read_text(path):
                return
            if not dom.isActive():
                raise exceptions.TestbedError(
                    'Guest %s on test bed host %s stopped before its workload '
                    'started. See %s. Console tail:\n%s'
                    % (name, host, self._host(host).qemu_log(name),
                       processes.tail_file(path)))
            time.sleep(0.05)
        raise exceptions.GuestBootTimeout(
            'Guest %s on test bed host %s did not print %r within %.0f s. '
            'See %s and %s. Console tail:\n%s'
            % (name, host, marker, timeout, path,
               self._host(host).qemu_log(name), processes.tail_file(path)))

    def destination_xml(self, name):
        """Domain XML to pass as VIR_MIGRATE_PARAM_DEST_XML.

        Not required: the serial log paths resolve per host. Given for
        callers that always pass a destination XML.
        """
        import libvirt

        for host in HOST_NAMES:
            dom = self._find_domain(host, name)
            if dom is not None and dom.isActive():
                return dom.XMLDesc(libvirt.VIR_DOMAIN_XML_MIGRATABLE)
        raise exceptions.TestbedError('Guest %s is not running on the test '
                                      'bed' % name)

    def host_of(self, name):
        """Host where guest ``name`` is active, or None."""
        for host in HOST_NAMES:
            dom = self._find_domain(host, name)
            if dom is not None and dom.isActive():
                return host
        return None

    def domain(self, name, host):
        """virDomain of ``name`` on ``host`` (TestbedError if absent)."""
        dom = self._find_domain(host, name)
        if dom is None:
            raise exceptions.TestbedError(
                'Guest %s does not exist on test bed host %s' % (name, host))
        return dom

    def _find_domain(self, host, name):
        # listAllDomains rather than lookupByName: a missing guest is normal
        # here, and lookupByName makes libvirt print an error on stderr.
        if not self._host(host).is_running():
            return None
        for dom in self.connect(host).listAllDomains():
            if dom.name() == name:
                return dom
        return None

    def destroy_guest(self, name):
        """Stop and undefine ``name`` on both hosts. Idempotent."""
        for host in HOST_NAMES:
            dom = self._find_domain(host, name)
            if dom is not None:
                _destroy_domain(dom)
        self._remove_serial_logs(name)

    def _destroy_all_guests(self, host):
        try:
            for dom in self.connect(host.name).listAllDomains():
                _destroy_domain(dom)
        except Exception as exc:
            # host.stop() kills the QEMUs by PID anyway.
            LOG.warning('Could not destroy guests on test bed host %s: %s',
                        host.name, exc)
        self._connections.pop(host.name, None)

    def _remove_serial_logs(self, name):
        for host in HOST_NAMES:
            for path in (self.console_log(name, host),
                         self.heartbeat_log(name, host)):
                try:
                    os.remove(path)
                except FileNotFoundError:
                    pass

    def kill_guest(self, name):
        """SIGKILL ``name``'s QEMU on both hosts, by its PID file.

        The last resort when libvirt itself is blocked on the guest's
        monitor: the monitor socket closes and the blocked call returns.
        Returns the PIDs killed.
        """
        killed = []
        for host in self.hosts.values():
            pid = host.guest_qemu_pid(name)
            if pid is not None:
                LOG.warning('Killing QEMU pid %d of guest %s on test bed '
                            'host %s', pid, name, host.name)
                processes.kill(pid)
                killed.append(pid)
        return killed

    def diagnostics(self, name=None, lines=40):
        """Text for a failure report: both daemons' log tails, ``name``'s
        QEMU log tails and the state of every QEMU process of the bed.
        """
        parts = []
        for host in self.hosts.values():
            parts.append('--- host %s: libvirtd pid %s, %s (tail) ---\n%s'
                         % (host.name, host.pid(), host.log_file,
                            processes.tail_file(host.log_file, lines)))
            if name:
                path = host.qemu_log(name)
                if os.path.exists(path):
                    parts.append('--- host %s: %s (tail) ---\n%s'
                                 % (host.name, path,
                                    processes.tail_file(path, lines)))
            for pid in host.qemu_pids():
                parts.append('--- host %s: QEMU pid %d: %s ---\n%s'
                             % (host.name, pid,
                                ' '.join(processes.cmdline(pid))[:200],
                                processes.thread_states(pid)))
        return '\n'.join(parts)

    # -- measurements ------------------------------------------------------

    def heartbeat_probe(self, name,
                        poll_interval_s=heartbeat.DEFAULT_POLL_INTERVAL_S):
        """A HeartbeatProbe over ``name``'s heartbeat logs on both hosts
        (not started).
        """
        return heartbeat.HeartbeatProbe(
            {host: self.heartbeat_log(name, host) for host in HOST_NAMES},
            poll_interval_s=poll_interval_s)

    def workload_reports(self, name, host=None):
        """Rate reports of ``name``'s workload, oldest first, on ``host``
        (default: where the guest is active now).
        """
        host = host or self.host_of(name)
        if host is None:
            return []
        return console.parse_reports(
            console.read_text(self.console_log(name, host)), host)

    def wait_for_workload_reports(self, name, count, timeout=30.0):
        """Wait for ``count`` new rate reports and return them."""
        host = self.host_of(name)
        if host is None:
            raise exceptions.TestbedError('Guest %s is not running' % name)
        seen = len(self.workload_reports(name, host))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reports = self.workload_reports(name, host)
            if len(reports) >= seen + count:
                return reports[seen:seen + count]
            time.sleep(0.2)
        raise exceptions.TestbedError(
            'Guest %s printed no %d new rate reports within %.0f s; console '
            'tail:\n%s' % (name, count, timeout,
                           processes.tail_file(self.console_log(name, host))))


def _destroy_domain(dom):
    import libvirt

    try:
        # Ask before destroying: a destroyed transient domain is gone, and
        # asking then makes libvirt print an error.
        persistent = dom.isPersistent()
        if dom.isActive():
            dom.destroy()
        if persistent:
            dom.undefine()
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
            raise
