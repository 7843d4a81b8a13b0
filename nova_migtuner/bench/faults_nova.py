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

"""Faults through nova (``--faults``): break the destination or the link
while nova live-migrates a server, and check where the guest is left.

Each run boots the ``dirty-0.5x`` workload (several pre-copy rounds) on
the source compute and live-migrates it through the nova API, as the
matrix does (``bench.nova_path``). When the observer's poll shows the
job ``FAULT_AFTER_S`` old, one fault of ``bench.faults`` is injected: the
destination QEMU killed, the destination libvirtd killed, or the
migration link cut (loopback TCP to the destination's migration ports
dropped). The fault stays until nova's migration record is final; then
it is undone (the libvirtd restarted, the link restored) and the
destination compute is given ``SERVICE_WAIT_S`` to report itself up and
enabled again.

A run passes when nova and libvirt agree that the guest stayed home:
it runs on the source and only there (neither paused nor left on the
destination), nova's server is ACTIVE on the source, the migration record
says it did not complete, the heartbeat goes on on the source, and, for
migtuner, an ``.end`` notification says the migration did not complete.
``k/N`` is how many of N runs of a fault passed.
"""

import logging
import threading
import time

from nova_migtuner.bench import faults as faults_mod
from nova_migtuner.bench import methods
from nova_migtuner.bench import nova_path
from nova_migtuner.bench import workloads as wl_mod
from nova_migtuner.cloud import layout as layout_mod
from nova_migtuner.cloud import openstack_cli

LOG = logging.getLogger(__name__)

FAULT_AFTER_S = faults_mod.FAULT_AFTER_S
FAULTS = faults_mod.FAULTS
METHODS = (methods.STOCK, methods.MIGTUNER)
# How long the destination compute has to come back after the fault.
SERVICE_WAIT_S = 120.0
SOURCE_BED_HOST, DEST_BED_HOST = 'a', 'b'


def workload():
    """The guest of every fault run: several pre-copy rounds."""
    return next(w for w in wl_mod.matrix() if w.name == 'dirty-0.5x')


class Fault:
    """One fault, injected when the job has run ``after_s``; undone once."""

    def __init__(self, bed, fault, after_s=FAULT_AFTER_S,
                 inject=faults_mod.inject):
        if fault not in FAULTS:
            raise ValueError('fault %r is invalid: expected one of %s'
                             % (fault, ', '.join(FAULTS)))
        self.bed = bed
        self.fault = fault
        self.after_s = after_s
        self.injected_at_s = None
        self.error = None
        self._inject = inject
        self._undo = None
        self._lock = threading.Lock()

    def observe(self, stats):
        """A job poll on the source (the observer's thread)."""
        elapsed_ms = stats.get('time_elapsed') or 0
        with self._lock:
            if self.injected_at_s is not None or self.error is not None:
                return
            if elapsed_ms < self.after_s * 1000:
                return
            try:
                self._undo = self._inject(self.bed, self.fault)
                self.injected_at_s = elapsed_ms / 1000.0
            except Exception as exc:    # recorded: the run then fails
                LOG.exception('could not inject %s', self.fault)
                self.error = '%s: %s' % (type(exc).__name__, exc)

    def restore(self):
        """Undo the fault, once: the link back, the libvirtd restarted."""
        with self._lock:
            undo, self._undo = self._undo, None
        if undo is not None:
            undo()
        if self.fault == faults_mod.KILL_DEST_LIBVIRTD and \
                self.injected_at_s is not None:
            self.bed.up()       # starts what is not running
            self.bed.forget_connection(DEST_BED_HOST)


def destination_compute():
    return next(c.host for c in layout_mod.COMPUTES
                if c.bed_host == DEST_BED_HOST)


def wait_for_compute(cli, host, timeout=SERVICE_WAIT_S):
    """Wait until nova says the compute on *host* is up and enabled;
    return (ok, its state and status as nova last showed them).
    """
    deadline = time.monotonic() + timeout
    seen = None
    while True:
        services = cli.json('compute', 'service', 'list', '--service',
                            'nova-compute', '--host', host)
        seen = [(s.get('State'), s.get('Status')) for s in services]
        if seen == [('up', 'enabled')]:
            return True, seen
        if time.monotonic() > deadline:
            return False, seen
        time.sleep(2.0)


def check(case, fault, bed):
    """Whether the guest stayed home after *fault*, item by item."""
    o = case.get('observed') or {}
    end = case.get('notification')
    source = nova_path.SOURCE_HOST
    items = {
        'injected': fault.injected_at_s is not None,
        'runs_only_on_source': o.get('hosts_running_guest') ==
        [SOURCE_BED_HOST],
        'not_paused': o.get('hosts_paused_guest') == [],
        'no_domain_on_destination': DEST_BED_HOST not in (
            o.get('hosts_with_domain') or [DEST_BED_HOST]),
        'nova_active_on_source': (o.get('nova_server_status') == 'ACTIVE'
                                  and o.get('nova_host') == source),
        'nova_record_not_completed': o.get('nova_migration_status') in (
            'error', 'failed', 'cancelled'),
        'heartbeat_on_source': case.get('error') is None,
        'no_qemu_left_on_destination': not bed.hosts[
            DEST_BED_HOST].qemu_pids(),
    }
    if case['method'] == methods.MIGTUNER:
        items['end_says_not_completed'] = bool(end) and end.get(
            'outcome') not in (None, 'completed')
    return dict(items, ok=all(items.values()))


def run_faults(cloud, runs, run_cap_s, chosen=METHODS, progress=print):
    """``runs`` runs of every fault with every method in *chosen*."""
    cli = openstack_cli.OpenStackCLI(cloud)
    results = []
    w = workload()
    for method in chosen:
        driver, options = nova_path.nova_options(method, run_cap_s)
        progress('computes: %s driver, %s' % (driver, ', '.join(
            '%s.%s=%s' % o for o in options) or 'no extra options'))
        cloud.start_computes(driver, options)
        for fault_name in FAULTS:
            for run in range(1, runs + 1):
                up, seen = wait_for_compute(cli, destination_compute())
                progress('[fault %d/%d] %s during pre-copy via %s through '
                         'nova, run %d ...' % (
                             len(results) + 1,
                             len(chosen) * len(FAULTS) * runs, fault_name,
                             method, run))
                fault = Fault(cloud.bed, fault_name)
                if not up:
                    case = {'via': 'nova', 'method': method,
                            'workload': w.name, 'observed': {
                                'outcome': 'not run'},
                            'error': 'the destination compute is not up '
                                     'and enabled: %s' % (seen,)}
                else:
                    case = nova_path.run_case(cloud, w, method, run_cap_s,
                                              progress=progress, fault=fault)
                if fault.error:
                    case['error'] = case['error'] or fault.error
                case.update(fault=fault_name, run=run,
                            injected_at_s=fault.injected_at_s)
                case['check'] = check(case, fault, cloud.bed)
                results.append(case)
                progress('    %s: %s' % (
                    'passed' if case['check']['ok'] else 'FAILED',
                    ', '.join(k for k, v in case['check'].items()
                              if k != 'ok' and not v) or 'all checks'))
    return results


def table(results):
    """k/N per fault and method, with the checks that failed."""
    lines = ['faults through nova (injected %.0f s into pre-copy of %s): '
             'runs where the guest stayed home, k/N' % (
                 FAULT_AFTER_S, workload().name),
             '%-20s %-12s %5s  %s' % ('fault', 'method', 'k/N',
                                      'failed checks (runs)')]
    keys = []
    for r in results:
        if (r['fault'], r['method']) not in keys:
            keys.append((r['fault'], r['method']))
    for fault, method in keys:
        group = [r for r in results if (r['fault'], r['method']) ==
                 (fault, method)]
        failed = {}
        for r in group:
            for k, v in r['check'].items():
                if k != 'ok' and not v:
                    failed[k] = failed.get(k, 0) + 1
        lines.append('%-20s %-12s %2d/%-2d  %s' % (
            fault, method, sum(1 for r in group if r['check']['ok']),
            len(group), ', '.join('%s (%d)' % kv for kv in failed.items())
            or '-'))
    return '\n'.join(lines)
