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

"""The engine on real libvirt: two libvirtd hosts and TCG guests.

TCG limit of the test bed: after multi-round pre-copy under load the
destination guest may be corrupted, so these tests assert outcomes,
statistics and that flags/params took effect, not destination guest health.
The source guest's health after a failed migration is asserted.
"""

import os
import statistics
import time

import pytest

from nova_migtuner.engine import dirtyrate
from nova_migtuner.engine import report
from nova_migtuner.engine import runner
from nova_migtuner.planning import plan as P
from nova_migtuner.testbed import Workload
from tests.engine.plans import make_plan

libvirt = pytest.importorskip('libvirt')

pytestmark = pytest.mark.testbed

MiB = 1024 ** 2
# The test bed's non-converging case: 100 MiB/s over 128 MiB, 32 MiB/s.
STALLING = Workload('constant', dirty_mib=128, rate_mib_s=100.0)


@pytest.fixture
def guest(testbed, request):
    """Boot guests on host a; they are destroyed after the test."""
    names = []

    def boot(workload):
        name = 'eng-%d-%d' % (os.getpid(), len(names))
        names.append(name)
        testbed.destroy_guest(name)
        return name, testbed.boot_guest(name, workload=workload)

    yield boot
    for name in names:
        testbed.destroy_guest(name)


def migration(testbed, dom, plan, **kwargs):
    return runner.LibvirtMigration(dom, plan, testbed.uri('b'),
                                   testbed.migration_uri('b'), **kwargs)


def test_idle_plan_params_take_effect_and_report_matches_libvirt(testbed,
                                                                 guest):
    name, dom = guest(Workload('idle', dirty_mib=64))
    idle = dirtyrate.measure_dirty_rate(dom, 1)
    assert idle.measured, idle.reason
    assert idle.bytes_per_second < 4 * MiB
    plan = make_plan(flags=(P.LIVE,), bandwidth_mib_s=24,
                     initial_downtime_ms=123)
    downtime_in_job = []

    def on_sample(sample):
        if sample.active and not downtime_in_job:
            downtime_in_job.append(dom.migrateGetMaxDowntime(0))

    mig = migration(testbed, dom, plan, on_sample=on_sample)
    result = mig.run()
    assert result.outcome == report.OUTCOME_COMPLETED, result.error
    assert testbed.host_of(name) == 'b'
    # The max downtime set before the job held during it.
    assert downtime_in_job == [123]
    # The bandwidth cap took effect: polled transfer rate ~24 MiB/s.
    rates = [s.memory_bps for s in mig.samples if s.memory_bps]
    assert rates
    assert statistics.median(rates) == pytest.approx(24 * MiB, rel=0.1)
    # The report's numbers are libvirt's completed stats on the destination
    # (read with KEEP_COMPLETED, so they can be read again here).
    completed = testbed.domain(name, 'b').jobStats(
        libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)
    assert completed['type'] == libvirt.VIR_DOMAIN_JOB_COMPLETED
    assert result.source_of('downtime_ms') == report.SOURCE_DEST_COMPLETED
    assert result.downtime_ms == completed['downtime']
    assert result.data_bytes == completed['data_processed']
    assert result.memory_total == completed['memory_total']
    assert result.iterations == completed['memory_iteration']
    assert result.total_seconds == completed['time_elapsed'] / 1000.0
    assert set(result.flags) == {'VIR_MIGRATE_LIVE', 'VIR_MIGRATE_PEER2PEER',
                                 'VIR_MIGRATE_PERSIST_DEST'}
    assert result.escalations == () and not result.post_copy


def test_stalled_workload_escalates_then_post_copy_completes(testbed, guest):
    name, dom = guest(STALLING)
    busy = dirtyrate.measure_dirty_rate(dom, 1)
    assert busy.measured, busy.reason
    assert 50 * MiB < busy.bytes_per_second < 130 * MiB
    plan = make_plan(
        flags=(P.LIVE, P.AUTO_CONVERGE, P.POSTCOPY), bandwidth_mib_s=32,
        initial_downtime_ms=50, max_downtime_ms=300, deadline_s=90,
        escalation=(
            P.EscalationStep(P.TRIGGER_STALLED, 3, P.ACTION_RAISE_DOWNTIME,
                             downtime_ms=300, reason='stalled'),
            P.EscalationStep(P.TRIGGER_STALLED, 3, P.ACTION_POST_COPY,
                             reason='still stalled')))
    applied = []

    def on_escalation(action):
        if action.kind == P.ACTION_RAISE_DOWNTIME:
            applied.append(dom.migrateGetMaxDowntime(0))

    mig = migration(testbed, dom, plan, on_escalation=on_escalation)
    result = mig.run()
    assert result.outcome == report.OUTCOME_COMPLETED, result.error
    assert [e['kind'] for e in result.escalations] == [
        P.ACTION_RAISE_DOWNTIME, P.ACTION_POST_COPY]
    raise_at, post_at = (e['elapsed_s'] for e in result.escalations)
    assert post_at - raise_at >= 3.0
    # Each escalation took effect in libvirt/QEMU.
    assert applied == [300]
    assert result.final_downtime_ms == 300
    assert result.post_copy
    # Auto-converge took effect: QEMU throttled the guest before the stall
    # was declared (two rounds without progress).
    assert result.auto_converge_throttle >= 20
    # Post-copy quirk: the destination has no completed stats, the source
    # (still defined, shut off) has them, and the report says so.
    dest_completed = testbed.domain(name, 'b').jobStats(
        libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)
    assert dest_completed == {'type': 0}
    assert result.source_of('data_bytes') == report.SOURCE_SOURCE_COMPLETED
    source_completed = dom.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)
    assert result.data_bytes == source_completed['data_processed']
    assert result.downtime_ms == source_completed['downtime']
    assert result.postcopy_requests == source_completed[
        'memory_postcopy_requests']
    assert testbed.host_of(name) == 'b'


def test_engine_error_aborts_and_guest_keeps_running_on_source(testbed,
                                                               guest):
    name, dom = guest(STALLING)
    plan = make_plan(flags=(P.LIVE,), bandwidth_mib_s=32)
    active_polls = []

    def failing_on_sample(sample):
        if sample.active:
            active_polls.append(sample)
        if len(active_polls) == 4:
            raise RuntimeError('injected engine failure')

    result = migration(testbed, dom, plan,
                       on_sample=failing_on_sample).run()
    assert result.outcome == report.OUTCOME_FAILED
    assert 'injected engine failure' in result.error
    assert 'migration aborted' in result.error
    # Nothing left on the destination, the guest runs on the source, and
    # no job is left behind.
    assert testbed.host_of(name) == 'a'
    assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    assert dom.jobStats()['type'] == libvirt.VIR_DOMAIN_JOB_NONE
    assert testbed._find_domain('b', name) is None
    # ...and it is alive: its heartbeat keeps coming.
    probe = testbed.heartbeat_probe(name).start()
    time.sleep(1.0)
    beat = probe.stop()
    assert beat.samples_by_host.get('a', 0) > 10


def test_deadline_pause_completes_and_guest_runs_on_destination(testbed,
                                                                guest):
    name, dom = guest(STALLING)
    plan = make_plan(flags=(P.LIVE,), bandwidth_mib_s=32,
                     initial_downtime_ms=50, deadline_s=8,
                     deadline_action=P.ACTION_PAUSE, max_pause_ms=10000)
    result = migration(testbed, dom, plan).run()
    assert result.outcome == report.OUTCOME_COMPLETED, result.error
    assert [(e['kind'], e['source']) for e in result.escalations] == [
        (P.ACTION_PAUSE, 'deadline')]
    # The guest was paused by the engine on the source; it must not stay
    # paused on the destination.
    assert testbed.host_of(name) == 'b'
    assert testbed.domain(name, 'b').state()[0] == libvirt.VIR_DOMAIN_RUNNING


class MigrationLinkCut:
    """Cuts host b's QEMU migration ports with iptables, and restores them.

    Every packet to those ports gets a TCP reset, so the source QEMU sees
    the connection break (packets merely dropped would be retransmitted by
    TCP until the link is back, and post-copy would not fail at all).
    """

    def __init__(self, testbed):
        low, high = testbed.hosts['b'].migration_ports
        self.rules = [['-p', 'tcp', '-i', 'lo', '--dport',
                       '%d:%d' % (low, high), '-j', 'REJECT',
                       '--reject-with', 'tcp-reset']]
        self.cut_at = self.restored_at = None

    def _iptables(self, action, rule):
        import subprocess
        subprocess.run(['iptables', action, 'INPUT'] + rule, check=True,
                       capture_output=True)

    def cut(self):
        for rule in self.rules:
            self._iptables('-I', rule)
        self.cut_at = time.monotonic()

    def restore(self):
        if self.cut_at is None or self.restored_at is not None:
            return
        for rule in self.rules:
            self._iptables('-D', rule)
        self.restored_at = time.monotonic()


# A fault measurement rather than a test of behaviour: it prints the
# recovery figures, and it is run on request
# (NOVA_MIGTUNER_FAULT_MEASUREMENTS=1), not in every test run. On libvirt
# 9.0 the source's migrateToURI3 can stay blocked after "failed during
# post-copy; leaving the domain paused": its Perform3 keeps the domain's
# state change lock for about 600 s, also after the link is back, so
# neither the engine nor an operator can resume the guest until that call
# gives up. Seen after every 10 s cut, and after a 2 s cut in some runs
# (the recovery then never starts), so a run can take ten minutes.
@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get('NOVA_MIGTUNER_FAULT_MEASUREMENTS') != '1',
    reason='fault measurement: set NOVA_MIGTUNER_FAULT_MEASUREMENTS=1')
@pytest.mark.parametrize('restore_after_s', [2], ids=['2s'])
def test_post_copy_survives_a_cut_migration_link(testbed, guest,
                                                 restore_after_s):
    import shutil
    import threading
    if shutil.which('iptables') is None:
        pytest.skip('iptables is needed to cut the migration link')
    name, dom = guest(STALLING)
    switch_at_2s = P.EscalationStep(P.TRIGGER_ELAPSED, 2,
                                    P.ACTION_POST_COPY)
    plan = make_plan(flags=(P.LIVE, P.POSTCOPY), bandwidth_mib_s=32,
                     deadline_s=120, escalation=(switch_at_2s,))
    link = MigrationLinkCut(testbed)
    timers = []

    def on_escalation(action):
        if action.kind != P.ACTION_POST_COPY:
            return
        # Half a second into post-copy (about 16 of 256 MiB sent at the
        # 32 MiB/s cap): the guest is split from here on.
        timers.append(threading.Timer(0.5, link.cut))
        if restore_after_s is not None:
            timers.append(threading.Timer(0.5 + restore_after_s,
                                          link.restore))
        for timer in timers:
            timer.start()

    recovery_s = 20 if restore_after_s is None else 90
    mig = migration(testbed, dom, plan, on_escalation=on_escalation,
                    post_copy_recovery_s=recovery_s)
    started = time.monotonic()
    try:
        result = mig.run()
    finally:
        for timer in timers:
            timer.cancel()
        link.restore()
    wall = time.monotonic() - started
    applier = mig.applier
    states = {}
    for host in ('a', 'b'):
        found = testbed._find_domain(host, name)
        states[host] = None if found is None else found.state()
    print('\npost-copy cut: restore_after_s=%s outcome=%s recovery=%s '
          'attempts=%s recovery_s=%s wall_s=%.1f cut=%s states=%s '
          'error=%s' % (restore_after_s, result.outcome,
                        applier.post_copy_recovery,
                        applier.recovery_attempts,
                        None if applier.recovery_s is None
                        else round(applier.recovery_s, 1), wall,
                        link.cut_at is not None, states, result.error))
    assert link.cut_at is not None and result.post_copy
    if restore_after_s is None:
        assert applier.post_copy_recovery == 'split'
        assert result.outcome == report.OUTCOME_FAILED
        assert 'not recovered' in result.error
        # The source's stale copy is not resumed.
        assert states['a'][0] == libvirt.VIR_DOMAIN_PAUSED
        return
    assert applier.post_copy_recovery == 'recovered', result.error
    assert result.outcome == report.OUTCOME_COMPLETED, result.error
    assert testbed.host_of(name) == 'b'
    probe = testbed.heartbeat_probe(name).start()
    time.sleep(2.0)
    beat = probe.stop()
    print('heartbeats in 2 s on b: %s' % beat.samples_by_host.get('b', 0))
    assert beat.samples_by_host.get('b', 0) > 10
