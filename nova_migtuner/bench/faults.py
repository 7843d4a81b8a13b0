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

"""Reliability runs: break the destination or the link during pre-copy.

Each fault is injected ``FAULT_AFTER_S`` into a migtuner migration of a
guest dirtying 0.5x the link (pre-copy, several rounds). A killed
destination must leave the guest running on the source, the report saying
failed or aborted with the cause, and nothing of the guest on the
destination (domain or QEMU process). A cut link comes back after
``CUT_HOLD_S``: the escalator holds its abort while no data moves, so the
migration may then finish, and the guest must run on the destination; if
it did not finish, the checks of a killed destination apply.
"""

import logging
import signal
import subprocess
import threading
import time

from nova_migtuner.bench import methods
from nova_migtuner.bench import workloads as wl_mod
from nova_migtuner.engine import runner
from nova_migtuner.testbed import processes
from nova_migtuner import units

LOG = logging.getLogger(__name__)

FAULT_AFTER_S = 3.0
KILL_DEST_QEMU = 'kill-dest-qemu'
KILL_DEST_LIBVIRTD = 'kill-dest-libvirtd'
CUT_LINK = 'cut-migration-link'
FAULTS = (KILL_DEST_QEMU, KILL_DEST_LIBVIRTD, CUT_LINK)
# A cut link comes back after this long, as after a switch reboot: past
# stock nova's scaled 28 s timeout, whose abort QEMU 7.2 carries out only
# once the link is back, with the guest frozen meanwhile.
CUT_HOLD_S = 40.0


def _iptables(args):
    subprocess.run(['iptables'] + args, check=True, capture_output=True)


def _drop_rule(ports):
    # Loopback only, this bed's destination migration ports only.
    return ['INPUT', '-i', 'lo', '-p', 'tcp', '--dport',
            '%d:%d' % ports, '-j', 'DROP']


def inject(bed, fault):
    """Inject *fault* now; return a cleanup callable."""
    host = bed.hosts['b']
    if fault == KILL_DEST_QEMU:
        pids = [pid for pid in host.qemu_pids()
                if processes.send_signal(pid, signal.SIGKILL)]
        LOG.info('killed destination QEMU %s', pids)
        return lambda: None
    if fault == KILL_DEST_LIBVIRTD:
        pid = host.pid()
        processes.send_signal(pid, signal.SIGKILL)
        LOG.info('killed destination libvirtd %s', pid)
        return lambda: None
    if fault == CUT_LINK:
        rule = _drop_rule(host.migration_ports)
        _iptables(['-I'] + rule)
        LOG.info('dropping loopback TCP to ports %s', host.migration_ports)
        return lambda: _iptables(['-D'] + rule)
    raise ValueError('unknown fault %r' % fault)


def _stayed_on_source(bed, name, dom, beat, result):
    """The checks of a run whose guest must have stayed on the source."""
    b_domain = bed._find_domain('b', name)
    state = dom.state()[0]
    check = {
        'guest_host_after': bed.host_of(name),
        'source_state': {1: 'running', 3: 'paused', 5: 'shutoff'}.get(
            state, state),
        'source_heartbeats_in_1s': beat.samples_by_host.get('a', 0),
        'source_job_type': dom.jobStats().get('type'),
        'dest_domain_left': b_domain is not None,
        'dest_qemu_pids_left': bed.hosts['b'].qemu_pids(),
    }
    check['ok'] = (check['guest_host_after'] == 'a' and
                   check['source_state'] == 'running' and
                   check['source_heartbeats_in_1s'] > 10 and
                   not check['dest_domain_left'] and
                   not check['dest_qemu_pids_left'] and
                   result.outcome != 'completed')
    return check


def restore_later(undo, hold_s):
    """*undo* after *hold_s* seconds, or sooner when the returned callable
    is called; once either way.
    """
    lock = threading.Lock()
    done = []

    def once():
        with lock:
            if done:
                return
            done.append(True)
        undo()
    timer = threading.Timer(hold_s, once)
    timer.daemon = True
    timer.start()

    def now():
        timer.cancel()
        once()
    return now


def run_fault(bed, fault, run_cap_s, touched, libvirt, progress=print):
    name = 'fault-%s' % fault
    bed.destroy_guest(name)
    workload = wl_mod.Workload('constant', wl_mod.BUFFER_MIB,
                               0.5 * wl_mod.LINK_MIB_S)
    memory = wl_mod.GUEST_MEMORY_MIB * units.MiB
    cleanups = []
    try:
        dom = bed.boot_guest(name, workload=workload)
        plan, base = methods.build(
            methods.MIGTUNER, libvirt, memory, run_cap_s,
            0.5 * wl_mod.LINK_MIB_S * units.MiB, touched,
            wl_mod.LINK_MIB_S)
        injected = threading.Event()

        def on_sample(sample):
            if (not injected.is_set() and sample.active and
                    sample.elapsed_s and sample.elapsed_s >= FAULT_AFTER_S):
                injected.set()
                progress('    injecting %s at %.1f s' % (fault,
                                                         sample.elapsed_s))
                undo = inject(bed, fault)
                cleanups.append(restore_later(undo, CUT_HOLD_S)
                                if fault == CUT_LINK else undo)

        mig = runner.LibvirtMigration(
            dom, plan, bed.uri('b'), bed.migration_uri('b'),
            base_flags=base, on_sample=on_sample, libvirt_module=libvirt,
            abort_timeout_s=60)
        result = mig.run()
        for cleanup in cleanups:
            cleanup()
        cleanups = []
        if fault == KILL_DEST_LIBVIRTD:
            # As a real host: the daemon comes back with its state, so the
            # checks below see what the failed job left on the destination
            # (``bed.up()`` would rebuild the host and hide it).
            bed.restart_daemon('b')
        time.sleep(1.0)
        probe = bed.heartbeat_probe(name).start()
        time.sleep(1.0)
        beat = probe.stop()
        if fault == CUT_LINK and result.outcome == 'completed':
            # The link came back after CUT_HOLD_S and the escalator held
            # its abort meanwhile: the migration finished.
            check = {'guest_host_after': bed.host_of(name),
                     'dest_heartbeats_in_1s': beat.samples_by_host.get('b',
                                                                       0)}
            check['ok'] = (check['guest_host_after'] == 'b' and
                           check['dest_heartbeats_in_1s'] > 10)
        else:
            check = _stayed_on_source(bed, name, dom, beat, result)
        return {'fault': fault, 'injected': injected.is_set(),
                'report': result.to_dict(), 'check': check}
    finally:
        for cleanup in cleanups:
            cleanup()
        try:
            bed.up()
        except Exception:
            LOG.exception('could not restart the test bed')
        bed.destroy_guest(name)
