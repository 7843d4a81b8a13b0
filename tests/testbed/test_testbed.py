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

"""Tests of the two-host libvirt/QEMU test bed, against real libvirtd and
QEMU (TCG). Skipped with the reason when the machine cannot run it.
"""

import os
import signal
import threading
import time

import pytest

from nova_migtuner.testbed import bed as testbed_bed
from nova_migtuner.testbed import exceptions as testbed_exceptions
from nova_migtuner.testbed import fixtures as testbed_fixtures
from nova_migtuner.testbed import hosts as testbed_hosts
from nova_migtuner.testbed import prerequisites
from nova_migtuner.testbed import processes
from nova_migtuner.testbed import watchdog
from nova_migtuner.testbed import Workload

libvirt = pytest.importorskip(
    'libvirt', reason='libvirt-python missing: pip install libvirt-python')

BANDWIDTH_MIB_S = 32
LIVE_FLAGS = (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER |
              libvirt.VIR_MIGRATE_PERSIST_DEST |
              libvirt.VIR_MIGRATE_UNDEFINE_SOURCE)


@pytest.fixture
def guests(testbed):
    """Boots guests through the bed and destroys them after the test."""
    names = []

    def boot(name, **kwargs):
        names.append(name)
        return testbed.boot_guest(name, **kwargs)

    yield boot
    for name in names:
        testbed.destroy_guest(name)


def migration_params(testbed, destination):
    return {libvirt.VIR_MIGRATE_PARAM_URI: testbed.migration_uri(destination),
            libvirt.VIR_MIGRATE_PARAM_BANDWIDTH: BANDWIDTH_MIB_S}


def migrate(testbed, name, source, destination, flags):
    """Migrate and return (wall seconds, heartbeat result, completed stats)."""
    dom = testbed.domain(name, source)
    probe = testbed.heartbeat_probe(name).start()
    # Some heartbeats before the migration, so a gap has a start.
    time.sleep(0.3)
    started = time.monotonic()
    dom.migrateToURI3(testbed.uri(destination),
                      migration_params(testbed, destination), flags)
    wall = time.monotonic() - started
    # ... and some after it, so the gap has an end.
    probe.wait_for_beats(testbed.host_of(name))
    heartbeat = probe.stop()
    stats = testbed.domain(name, destination).jobStats(
        libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)
    return wall, heartbeat, stats


# -- no libvirt needed --------------------------------------------------------

def report_then_kill(testbed, name):
    """``on_timeout`` for watchdog.call_within: the bed's report, then the
    guest's QEMU killed, which makes the blocked libvirt call return.
    """
    def unblock():
        # Collect first: killing the guest rewrites the logs.
        report = testbed.diagnostics(name)
        testbed.kill_guest(name)
        return report
    return unblock


def test_workload_validation_names_the_bad_value():
    with pytest.raises(ValueError, match="kind 'busy'"):
        Workload(kind='busy')
    with pytest.raises(ValueError, match='rate_mib_s=-1'):
        Workload(kind='constant', rate_mib_s=-1)
    with pytest.raises(ValueError, match='rate_mib_s=0'):
        Workload(kind='bursty', dirty_mib=64, rate_mib_s=0)
    with pytest.raises(ValueError, match='dirty_mib=300'):
        Workload(kind='idle', dirty_mib=300).validate_for_guest(256)
    assert 'mt_kind=bursty' in Workload(
        'bursty', 32, 10, burst_on_s=1, burst_off_s=2).kernel_args()


def test_install_hint_is_an_apt_get_command():
    hint = prerequisites.install_hint([
        prerequisites.MissingPrerequisite('command cpio', apt_package='cpio'),
        prerequisites.MissingPrerequisite('Python module libvirt',
                                          pip_package='libvirt-python')])
    assert hint.splitlines() == [
        'apt-get install -y cpio gcc libvirt-dev pkg-config',
        'pip install libvirt-python']
    assert prerequisites.install_hint([]) == ''


def test_busybox_static_check_reads_elf_headers():
    assert prerequisites.is_static_elf('/bin/busybox') or \
        not os.path.exists('/bin/busybox')
    assert not prerequisites.is_static_elf('/bin/sh')


# -- real test bed (about 30 s, plus 30 s for the slow one) -------------------

@pytest.mark.testbed
def test_up_and_down_are_idempotent_and_leave_nothing(testbed, tmp_path):
    # A second, independent bed next to the session one: other ports, other
    # work dir, shared artifact cache (no rebuild).
    ports = tuple(h.tcp_port + 10 for h in testbed.hosts.values())
    bed = testbed_bed.Testbed(
        workdir=str(tmp_path / 'bed'), ports=ports,
        artifacts_dir=testbed.artifacts.directory)
    try:
        bed.up()
        status = bed.status()
        pids = [status['hosts'][h]['pid'] for h in ('a', 'b')]
        assert all(status['hosts'][h]['running'] for h in ('a', 'b'))
        assert bed.uri('b') == 'qemu+tcp://127.0.0.1:%d/system' % ports[1]
        # Per-host identities, seen through libvirt.
        assert bed.connect('a').getHostname() == 'migtuner-a'
        assert bed.connect('b').getHostname() == 'migtuner-b'
        # Bind mounts stay inside the daemons' mount namespaces.
        with open('/proc/self/mountinfo') as f:
            assert ' /etc/libvirt ' not in f.read()

        bed.up()
        assert [bed.status()['hosts'][h]['pid'] for h in ('a', 'b')] == pids
    finally:
        bed.down()
    bed.down()
    assert bed.leftovers() == {'processes': [], 'mounts': [], 'dirs': []}
    assert not any(processes.is_running(pid) for pid in pids)
    assert not os.path.exists(bed.hosts_dir)
    assert not any(bed.status()['hosts'][h]['running'] for h in ('a', 'b'))


@pytest.mark.testbed
def test_guest_boots_and_workload_reports_requested_rate(testbed, guests):
    started = time.monotonic()
    dom = guests('tb-rate', workload=Workload('constant', dirty_mib=64,
                                              rate_mib_s=40))
    boot_s = time.monotonic() - started
    assert dom.isActive()
    assert testbed.host_of('tb-rate') == 'a'
    assert boot_s < 60
    # The first window can include start-up; judge the second.
    reports = testbed.wait_for_workload_reports('tb-rate', 2, timeout=30)
    assert reports[-1].target_mib_s == 40
    assert reports[-1].rate_mib_s == pytest.approx(40, rel=0.15)


@pytest.mark.testbed
def test_guest_reports_its_progress_every_100_ms(testbed, guests):
    guests('tb-progress', workload=Workload('constant', dirty_mib=64,
                                            rate_mib_s=16))
    probe = testbed.heartbeat_probe('tb-progress').start()
    try:
        time.sleep(3.2)
    finally:
        probe.stop()
    lines = probe.progress()
    assert len(lines) >= 25
    first, last = lines[0], lines[-1]
    span = last.time - first.time
    # 16 MiB/s of 4 KiB pages and the default 100 requests per second.
    assert (last.pages - first.pages) / span == pytest.approx(4096, rel=0.2)
    assert (last.requests - first.requests) / span == pytest.approx(
        100, rel=0.2)
    assert all(b.uptime_ms > a.uptime_ms for a, b in zip(lines, lines[1:]))
    # Beside the heartbeat on the same port, which keeps its pace.
    assert probe.result.median_interval_ms < 5


@pytest.mark.testbed
def test_live_migration_of_idle_guest(testbed, guests):
    guests('tb-live', workload=Workload('idle', dirty_mib=16))

    wall, heartbeat, stats = migrate(testbed, 'tb-live', 'a', 'b',
                                     LIVE_FLAGS)

    assert testbed.host_of('tb-live') == 'b'
    assert testbed.domain('tb-live', 'b').isPersistent()
    assert not [d for d in testbed.connect('a').listAllDomains()
                if d.name() == 'tb-live']
    for field in ('downtime', 'time_elapsed', 'data_total',
                  'data_processed', 'data_remaining', 'memory_iteration'):
        assert field in stats, field
    assert stats['data_remaining'] == 0
    # Bandwidth capped at 32 MiB/s: at least the 16 MiB buffer was sent.
    assert stats['data_processed'] >= 16 * 2 ** 20
    # The guest was seen leaving a and arriving on b, and what the outside
    # saw agrees with what QEMU reports.
    # (The switch gap, not the longest gap: on a loaded 2-core machine a
    # CPU stall of the source guest can outlast an idle guest's downtime.)
    assert (heartbeat.switch_from_host, heartbeat.switch_to_host) == ('a',
                                                                      'b')
    assert heartbeat.samples_by_host.get('b', 0) > 50
    downtime = stats['downtime']
    assert heartbeat.switch_gap_ms >= 0.8 * downtime - 10
    assert heartbeat.switch_gap_ms <= downtime + 500
    # One pre-copy of an idle guest: the guest must still run on b.
    assert testbed.wait_for_workload_reports('tb-live', 1, timeout=15)


@pytest.mark.testbed
def test_paused_migration_shows_a_large_heartbeat_gap(testbed, guests):
    guests('tb-paused', workload=Workload('idle', dirty_mib=16))

    wall, heartbeat, stats = migrate(
        testbed, 'tb-paused', 'a', 'b', LIVE_FLAGS & ~libvirt.VIR_MIGRATE_LIVE)

    assert testbed.host_of('tb-paused') == 'b'
    # The guest was stopped for the whole transfer (about 90 MB at
    # 32 MiB/s): the outside sees seconds, not milliseconds.
    assert heartbeat.switch_gap_ms > 1000
    assert (heartbeat.switch_from_host, heartbeat.switch_to_host) == ('a',
                                                                      'b')
    assert heartbeat.switch_gap_ms == pytest.approx(
        stats['downtime'], rel=0.2, abs=300)


@pytest.mark.testbed
@pytest.mark.slow
def test_dirtying_guest_does_not_converge_and_is_aborted(testbed, guests):
    dom = guests('tb-busy', workload=Workload('constant', dirty_mib=128,
                                              rate_mib_s=100))
    failure = []

    def run():
        try:
            dom.migrateToURI3(testbed.uri('b'),
                              migration_params(testbed, 'b'), LIVE_FLAGS)
        except libvirt.libvirtError as exc:
            failure.append(exc)

    migration = threading.Thread(target=run, daemon=True)
    migration.start()
    time.sleep(20)
    unblock = report_then_kill(testbed, 'tb-busy')
    progress = watchdog.call_within(60, 'jobStats', dom.jobStats,
                                    on_timeout=unblock)
    watchdog.call_within(60, 'abortJob', dom.abortJob, on_timeout=unblock)
    watchdog.call_within(60, 'migrateToURI3 after abortJob', migration.join,
                         on_timeout=unblock)

    assert failure, 'migration completed although the guest dirties ' \
                    '100 MiB/s and bandwidth is 32 MiB/s'
    assert failure[0].get_error_code() == libvirt.VIR_ERR_OPERATION_ABORTED
    assert progress['memory_iteration'] >= 2
    assert progress['data_processed'] > 128 * 2 ** 20
    assert testbed.host_of('tb-busy') == 'a'


@pytest.mark.testbed
def test_call_blocked_on_an_unanswering_qemu_fails_instead_of_hanging(
        testbed, guests):
    # A stopped QEMU never answers its monitor: libvirt's "stop" command
    # (dom.suspend) then waits forever, as a blocked abortJob would.
    dom = guests('tb-stuck', workload=Workload('idle', dirty_mib=8))
    pid = testbed.hosts['a'].guest_qemu_pid('tb-stuck')
    os.kill(pid, signal.SIGSTOP)
    try:
        with pytest.raises(testbed_exceptions.CallTimeout) as caught:
            watchdog.call_within(3, 'suspend', dom.suspend,
                                 on_timeout=report_then_kill(testbed,
                                                             'tb-stuck'))
    finally:
        # The watchdog normally killed it and the reaper may already have
        # collected it; SIGCONT matters only if the test failed before that.
        processes.send_signal(pid, signal.SIGCONT)

    message = str(caught.value)
    assert message.startswith('suspend did not return within 3 s')
    assert 'in suspend' in message          # the blocked Python frame
    assert '--- host a: libvirtd pid' in message
    if os.environ.get(testbed_hosts.DEBUG_LOG_ENV) == '1':
        # The monitor command that got no reply, from libvirtd's log.
        assert '"execute":"stop"' in message
    assert not processes.is_running(pid)
    # The killed QEMU releases libvirt: the domain is seen stopped.
    deadline = time.monotonic() + 30
    while dom.isActive() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not dom.isActive()


@pytest.mark.testbed
def test_hang_guard_reports_and_releases_a_blocked_test(testbed, guests,
                                                        capfd):
    dom = guests('tb-hang', workload=Workload('idle', dirty_mib=8))
    pid = testbed.hosts['a'].guest_qemu_pid('tb-hang')
    outcome = []

    def blocked_test_body():
        try:
            dom.suspend()
        except libvirt.libvirtError as exc:
            outcome.append(exc)

    os.kill(pid, signal.SIGSTOP)
    body = threading.Thread(target=blocked_test_body, daemon=True)
    body.start()
    try:
        body.join(2)
        assert body.is_alive(), 'suspend returned from a stopped QEMU'
        # What the guard's timer calls after NOVA_MIGTUNER_TESTBED_HANG_S.
        testbed_fixtures._unblock_hung_test('tests/x.py::test_blocked', 600)
        body.join(30)
    finally:
        processes.send_signal(pid, signal.SIGCONT)   # unless killed, reaped

    assert not body.is_alive()
    assert outcome and 'tb-hang' not in [d.name() for d in
                                         testbed.connect('a').listAllDomains()
                                         if d.isActive()]
    err = capfd.readouterr().err
    assert 'tests/x.py::test_blocked has run for 600 s' in err
    assert 'blocked_test_body' in err       # every thread's stack
    assert 'QEMU pid %d' % pid in err       # the bed's state


@pytest.mark.testbed
def test_guest_qemu_is_adopted_and_reaped_by_the_hosts_reaper(testbed,
                                                              guests):
    # Whatever PID 1 does with orphans (on some machines it never reaps),
    # an exited QEMU must not stay a zombie: libvirt takes a zombie for a
    # live process and waits out its kill timeout on every guest stop.
    dom = guests('tb-reaped', workload=Workload('idle', dirty_mib=8))
    pid = testbed.hosts['a'].guest_qemu_pid('tb-reaped')
    host = testbed.hosts['a']
    assert processes.parent_pid(pid) in host.reaper_pids()
    assert processes.parent_pid(host.pid()) in host.reaper_pids()

    started = time.monotonic()
    dom.destroy()
    assert time.monotonic() - started < 5
    deadline = time.monotonic() + 5
    while processes.process_state(pid) is not None and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes.process_state(pid) is None, 'QEMU left as a zombie'
