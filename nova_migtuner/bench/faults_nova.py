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

"""Faults through nova (``--faults``): break a host, a daemon or the link
while nova live-migrates a server, and check where the guest is left.

Each run boots the ``dirty-0.5x`` workload (several pre-copy rounds, about
12 s on the capped link) on the source compute and live-migrates it through
the nova API, as the matrix does (``bench.nova_path``). At a moment drawn
between ``FAULT_MIN_S`` and ``FAULT_MAX_S`` of the job's age (pre-copy),
as the observer polls it, one fault is injected. In the other phases
(``PHASES``) the guest is ``PHASE_WORKLOADS``' and the moment is drawn up
to ``PHASE_DELAY_MAX_S`` after the observer first saw the phase; the
computes run with ``PHASE_COMPUTE_OPTIONS`` for it. The faults:

``kill-dest-qemu``, ``kill-dest-libvirtd``, ``cut-migration-link``
    as on the engine path (``bench.faults``): the destination's incoming
    QEMU or its libvirtd killed with SIGKILL, or loopback TCP to the
    destination's migration ports dropped for ``CUT_HOLD_S``;
``kill-source-libvirtd``
    the source's libvirtd killed with SIGKILL (its QEMUs live on);
``restart-source-compute``
    the source nova-compute stopped and started again;
``cut-migration-link-for-good`` (by name only, not in the default list)
    the link cut as above, but restored only once nova's record is final:
    a run waits up to ``LINK_GONE_WAIT_S`` for the kernel to give up on
    the migration's TCP connection.

A killed libvirtd is restarted ``LIBVIRTD_DOWN_S`` later, as a service
manager restarts it on a real host (Debian 12's ``libvirtd.service`` has
``Restart=on-failure``; the test bed has no systemd), or once nova's record
is final if sooner: its guests' QEMUs, disks and state are kept, and the
new daemon reconnects to the QEMUs that still run.

The other faults stay until nova's migration record is final (a cut link
comes back after ``CUT_HOLD_S``, or then if sooner), and both computes are
given
``SERVICE_WAIT_S`` to report themselves up and enabled before the next
run (and placement, which the scheduler asks, to stop marking them
disabled). What a run left behind (a domain of its server on either host) is
destroyed before the next one, and counted.

A run passes when the guest runs on exactly one host, neither paused nor
defined on the other; nova shows the server ACTIVE on that host, with a
migration record that says completed if and only if the guest moved; and,
for migtuner, an ``.end`` notification was received. ``k/N`` is how many
of N runs of a fault passed.
"""

import logging
import random
import signal
import threading
import time

from nova_migtuner.bench import faults as faults_mod
from nova_migtuner.bench import methods
from nova_migtuner.bench import nova_path
from nova_migtuner.bench import workloads as wl_mod
from nova_migtuner.cloud import layout as layout_mod
from nova_migtuner.cloud import observer as observer_mod
from nova_migtuner.engine import applier as applier_mod
from nova_migtuner.testbed import processes

LOG = logging.getLogger(__name__)

FAULT_MIN_S, FAULT_MAX_S = 2.0, 6.0
PRE_COPY, AUTO_CONVERGE, POST_COPY = 'pre-copy', 'auto-converge', 'post-copy'
PAUSED = 'paused'
PHASES = (PRE_COPY, AUTO_CONVERGE, PAUSED, POST_COPY)
# The guest of each phase: several pre-copy rounds, which nova_migtuner's
# plan throttles with auto-converge; a guest dirtying twice the link, which
# its plan switches to post-copy, or pauses where the admin permits
# nothing else.
PHASE_WORKLOADS = {PRE_COPY: 'dirty-0.5x', AUTO_CONVERGE: 'dirty-0.5x',
                   PAUSED: 'dirty-2x', POST_COPY: 'dirty-2x'}
# The computes' options for the runs of a phase, beyond the method's. A plan
# pauses the guest only at its deadline, and only where neither post-copy
# nor auto-converge is permitted and the predicted pause is within
# max_pause_downtime_ms: the 2x guest's 128 MiB at the 32 MiB/s link is a
# pause of about 4-6 s, and the deadline is the least a plan has (60 s).
# Such a guest is predicted not to complete, so the plan would first wait
# for a quieter moment: no deferral, to start at once.
PHASE_COMPUTE_OPTIONS = {
    PAUSED: (('libvirt', 'live_migration_permit_post_copy', 'false'),
             ('libvirt', 'live_migration_permit_auto_converge', 'false'),
             ('migtuner', 'permit_pause', 'true'),
             ('migtuner', 'max_pause_downtime_ms', '10000'),
             ('migtuner', 'completion_budget_per_gib_s', '60'),
             ('migtuner', 'max_deferral_s', '0')),
}
# Beyond pre-copy the fault falls at a drawn moment this long after the
# phase was first seen (the phases last a few seconds here).
PHASE_DELAY_MAX_S = 1.0
# libvirt's VIR_DOMAIN_PAUSED and VIR_DOMAIN_PAUSED_POSTCOPY: the source's
# state once the job switched to post-copy; VIR_DOMAIN_PAUSED_MIGRATION:
# once the plan paused the guest (libvirt 9.0 gives a virDomainSuspend
# during an outgoing migration that reason, not VIR_DOMAIN_PAUSED_USER).
# QEMU's own stop-and-copy pause has the same reason but lasts
# milliseconds, and the 2x guest of this phase never gets there.
DOMAIN_PAUSED, PAUSED_POSTCOPY, PAUSED_MIGRATION = 3, 12, 2
KILL_SOURCE_LIBVIRTD = 'kill-source-libvirtd'
RESTART_SOURCE_COMPUTE = 'restart-source-compute'
# The migration link cut and never restored while the migration runs (only
# once its record is final): Linux gives up on the migration's TCP
# connection after about 15 minutes (tcp_retries2 = 15), so a run takes
# that long. Asked for by name only, never in the default list.
CUT_LINK_FOR_GOOD = 'cut-migration-link-for-good'
LINK_GONE_WAIT_S = 1200.0
FAULTS = faults_mod.FAULTS + (KILL_SOURCE_LIBVIRTD, RESTART_SOURCE_COMPUTE)
ALL_FAULTS = FAULTS + (CUT_LINK_FOR_GOOD,)
METHODS = (methods.STOCK, methods.MIGTUNER)
# How long the destination compute has to come back after the fault.
SERVICE_WAIT_S = 120.0
SOURCE_BED_HOST, DEST_BED_HOST = 'a', 'b'
CUT_HOLD_S = faults_mod.CUT_HOLD_S
# How long a killed libvirtd stays down: a service manager restarts it
# within seconds, and the new daemon takes a second or two to start here.
LIBVIRTD_DOWN_S = 5.0
DISABLED_TRAIT = 'COMPUTE_STATUS_DISABLED'


def outage_s(fault, phase=PRE_COPY):
    """How much longer than the run cap the migration may take because
    of *fault* in *phase*: a cut link holds it for ``CUT_HOLD_S`` (a link
    cut for good for up to ``LINK_GONE_WAIT_S``), and a post-copy that
    failed is recovered for up to
    ``applier.POST_COPY_RECOVERY_S`` before the migration ends.
    """
    extra = {faults_mod.CUT_LINK: CUT_HOLD_S,
             CUT_LINK_FOR_GOOD: LINK_GONE_WAIT_S}.get(fault, 0.0)
    if phase == POST_COPY:
        extra += applier_mod.POST_COPY_RECOVERY_S
    return extra


def phase_options(method, phase):
    """The computes' extra options for the runs of *method* in *phase*:
    the permissions under which nova_migtuner's plan reaches the phase
    (none for stock nova, whose own options stay its defaults).
    """
    if method != methods.MIGTUNER:
        return ()
    return PHASE_COMPUTE_OPTIONS.get(phase, ())


def workload(phase=PRE_COPY):
    """The guest of the fault runs in *phase*."""
    return wl_mod.named(PHASE_WORKLOADS[phase])


def in_phase(phase, stats, domain):
    """Whether the job whose poll gave *stats* (of *domain*, the source's)
    is in *phase*; pre-copy lasts the whole job here.
    """
    if phase == PRE_COPY:
        return True
    if phase == AUTO_CONVERGE:
        return bool(stats.get('auto_converge_throttle'))
    if phase == POST_COPY:
        return (domain is not None and
                tuple(domain.state()[:2]) == (DOMAIN_PAUSED,
                                              PAUSED_POSTCOPY))
    if phase == PAUSED:
        return (domain is not None and
                tuple(domain.state()[:2]) == (DOMAIN_PAUSED,
                                              PAUSED_MIGRATION))
    raise ValueError('phase %r is invalid: expected one of %s'
                     % (phase, ', '.join(PHASES)))


def moment(fault, phase, run):
    """The drawn moment of run *run* of *fault* in *phase*: seconds of the
    job's age in pre-copy, seconds after the phase began otherwise; the
    same for every method, and from one bench to the next.
    """
    draw = random.Random('%s/%d' % (fault, run) if phase == PRE_COPY else
                         '%s/%s/%d' % (fault, phase, run))
    if phase == PRE_COPY:
        return draw.uniform(FAULT_MIN_S, FAULT_MAX_S)
    return draw.uniform(0.0, PHASE_DELAY_MAX_S)


def inject(cloud, fault):
    """Inject *fault* now; return the callable that undoes it."""
    bed = cloud.bed
    if fault == faults_mod.CUT_LINK:
        return faults_mod.restore_later(faults_mod.inject(bed, fault),
                                        CUT_HOLD_S)
    if fault == CUT_LINK_FOR_GOOD:
        return faults_mod.inject(bed, faults_mod.CUT_LINK)
    if fault in faults_mod.FAULTS:
        undo = faults_mod.inject(bed, fault)
        if fault != faults_mod.KILL_DEST_LIBVIRTD:
            return undo
        return _restart_libvirtd(cloud, DEST_BED_HOST)
    if fault == KILL_SOURCE_LIBVIRTD:
        pid = bed.hosts[SOURCE_BED_HOST].pid()
        processes.send_signal(pid, signal.SIGKILL)
        LOG.info('killed source libvirtd %s', pid)
        return _restart_libvirtd(cloud, SOURCE_BED_HOST)
    if fault == RESTART_SOURCE_COMPUTE:
        cloud.restart_compute(SOURCE_BED_HOST)
        LOG.info('restarted the source nova-compute')
        return lambda: None
    raise ValueError('fault %r is invalid: expected one of %s'
                     % (fault, ', '.join(ALL_FAULTS)))


def _restart_libvirtd(cloud, host):
    def undo():
        cloud.bed.restart_daemon(host)
        LOG.info('restarted the libvirtd of %s', host)
    return faults_mod.restore_later(undo, LIBVIRTD_DOWN_S)


class Fault:
    """One fault, injected (in a thread of its own, so that the observer's
    polls go on) once the job is ``after_s`` old in pre-copy, or
    ``after_s`` after the observer first saw it in another *phase*;
    undone once.
    """

    def __init__(self, cloud, fault, after_s, inject=inject,
                 phase=PRE_COPY):
        if fault not in ALL_FAULTS:
            raise ValueError('fault %r is invalid: expected one of %s'
                             % (fault, ', '.join(ALL_FAULTS)))
        if phase not in PHASES:
            raise ValueError('phase %r is invalid: expected one of %s'
                             % (phase, ', '.join(PHASES)))
        self.cloud = cloud
        self.fault = fault
        self.after_s = after_s
        self.phase = phase
        self.phase_seen_at_s = None
        self.injected_at_s = None
        self.error = None
        self._inject = inject
        self._undo = None
        self._thread = None
        self._lock = threading.Lock()

    def observe(self, stats, domain=None):
        """A job poll on the source (the observer's thread)."""
        elapsed_s = (stats.get('time_elapsed') or 0) / 1000.0
        with self._lock:
            if self._thread is not None:
                return
            if self.phase_seen_at_s is None:
                try:
                    if not in_phase(self.phase, stats, domain):
                        return
                except Exception:   # the domain went away: look again
                    return
                self.phase_seen_at_s = (0.0 if self.phase == PRE_COPY
                                        else elapsed_s)
            if elapsed_s < self.phase_seen_at_s + self.after_s:
                return
            self.injected_at_s = elapsed_s
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name='bench-fault')
            self._thread.start()

    def _run(self):
        try:
            undo = self._inject(self.cloud, self.fault)
        except Exception as exc:    # recorded: the run then fails
            LOG.exception('could not inject %s', self.fault)
            undo, self.error = None, '%s: %s' % (type(exc).__name__, exc)
        with self._lock:
            self._undo = undo

    def restore(self, timeout=120.0):
        """Undo the fault, once (after the injection itself is done)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        with self._lock:
            undo, self._undo = self._undo, None
        if undo is not None:
            undo()


def placement_disabled(conn, host):
    """Whether placement still marks *host*'s compute node with
    ``COMPUTE_STATUS_DISABLED`` (None if it has no such provider).

    nova sets the trait when it loses libvirt and clears it when it
    reconnects, but that update can fail and then waits for the next
    periodic resource update; until then the scheduler leaves the host
    out even though the service says up and enabled.
    """
    found = conn.placement.get('/resource_providers', params={'name': host},
                               microversion='1.6').json()
    providers = found.get('resource_providers') or []
    if not providers:
        return None
    traits = conn.placement.get(
        '/resource_providers/%s/traits' % providers[0]['uuid'],
        microversion='1.6').json().get('traits') or []
    return DISABLED_TRAIT in traits


def compute_service_states(conn, host):
    """``[(state, status)]`` of the nova-compute services on *host*, as
    nova's API says (``('up', 'enabled')`` for a healthy one).
    """
    return [(svc.state, svc.status) for svc in
            conn.compute.services(binary='nova-compute', host=host)]


def wait_for_compute(cloud, host, timeout=SERVICE_WAIT_S):
    """Wait until nova says the compute on *host* is up and enabled and
    placement no longer marks it disabled; return (ok, what was last seen).

    Polled through openstacksdk: an ``openstack`` process per poll would
    take seconds of this machine's two cores from the guests.
    """
    deadline = time.monotonic() + timeout
    while True:
        conn = cloud.connection()
        seen = compute_service_states(conn, host)
        disabled = placement_disabled(conn, host)
        if seen == [('up', 'enabled')] and disabled is False:
            return True, seen
        if time.monotonic() > deadline:
            return False, dict(service=seen, placement_disabled=disabled)
        time.sleep(2.0)


def computes_not_back(cloud):
    """``{host: what was seen}`` of the computes that did not come back
    within ``SERVICE_WAIT_S`` (the source boots the next server, the
    destination receives it); empty when both are back.
    """
    down = {}
    for compute in layout_mod.COMPUTES:
        up, seen = wait_for_compute(cloud, compute.host)
        if not up:
            down[compute.host] = seen
    return down


def check(case, fault):
    """Whether the run left the guest whole and nova right, item by item."""
    o = case.get('observed') or {}
    running = o.get('hosts_running_guest') or []
    home = running[0] if len(running) == 1 else None
    nova_host = o.get('nova_host')
    items = {
        'injected': fault.injected_at_s is not None and not fault.error,
        'runs_on_one_host': home is not None,
        'not_paused': o.get('hosts_paused_guest') == [],
        'not_defined_elsewhere': home is not None and set(
            o.get('hosts_with_domain') or ()) == {home},
        'nova_agrees_on_the_host': (
            home is not None and nova_host is not None and
            observer_mod.bed_host_of(nova_host) == home and
            o.get('nova_server_status') == 'ACTIVE'),
        'nova_record_agrees': home is not None and (
            (o.get('nova_migration_status') == 'completed') ==
            (home != SOURCE_BED_HOST)),
    }
    if case['method'] == methods.MIGTUNER:
        items['notified'] = bool(case.get('notification'))
    return dict(items, ok=all(items.values()))


def entry(case):
    """The run as ``faults.json`` records it."""
    o = case.get('observed') or {}
    end = case.get('notification') or {}
    return {'fault': case['fault'], 'phase': case['phase'],
            'method': case['method'], 'run': case['run'],
            'injected_at_s': case['injected_at_s'],
            'phase_seen_at_s': case.get('phase_seen_at_s'),
            'outcome': o.get('outcome'),
            'hosts_running_guest': o.get('hosts_running_guest'),
            'hosts_paused_guest': o.get('hosts_paused_guest'),
            'nova_host': o.get('nova_host'),
            'nova_migration_status': o.get('nova_migration_status'),
            # The guest's own view: its longest heartbeat gap, a bound on
            # how long it was paused or stalled.
            'paused_s': (None if o.get('heartbeat_longest_gap_ms') is None
                         else round(o['heartbeat_longest_gap_ms'] / 1000.0,
                                    3)),
            'recovered': end.get('post_copy_recovery'),
            'notified': (None if case['method'] != methods.MIGTUNER
                         else bool(case.get('notification'))),
            'end_outcome': end.get('outcome'),
            'leftover_domains': case.get('leftover_domains', []),
            'error': case.get('error'), 'check': case['check']}


def remove_leftovers(cloud, server_id):
    """Destroy and undefine any domain of *server_id* still on either host
    (the server is deleted by then); return the hosts that had one.
    """
    found = []
    if not server_id:
        return found
    watch = observer_mod.ServerObserver(cloud, server_id)
    for host in cloud.bed.hosts:
        try:
            dom = watch.domain(host)
            if dom is None:
                continue
            found.append(host)
            if dom.isActive():
                dom.destroy()
            dom.undefine()
        except Exception:
            LOG.exception('could not remove the domain of %s on %s',
                          server_id, host)
    return found


def run_faults(cloud, runs, run_cap_s, chosen=METHODS, progress=print,
               results=None, faults=FAULTS, phases=(PRE_COPY,)):
    """``runs`` runs of every fault in *faults* in every phase of *phases*
    with every method in *chosen*; each run is appended to *results* (a new
    list by default) as it ends, which is returned.
    """
    unknown = [f for f in faults if f not in ALL_FAULTS]
    if unknown:
        raise ValueError('faults %s are invalid: expected some of %s'
                         % (', '.join(unknown), ', '.join(ALL_FAULTS)))
    unknown = [p for p in phases if p not in PHASES]
    if unknown:
        raise ValueError('phases %s are invalid: expected some of %s'
                         % (', '.join(unknown), ', '.join(PHASES)))
    results = [] if results is None else results
    total = len(chosen) * len(faults) * len(phases) * runs
    for method, phase in [(m, p) for m in chosen for p in phases]:
        driver, options = nova_path.nova_options(method, run_cap_s)
        options = list(options) + list(phase_options(method, phase))
        # Restarted only when the options differ from the running ones.
        progress('computes: %s driver, %s' % (driver, ', '.join(
            '%s.%s=%s' % o for o in options) or 'no extra options'))
        cloud.start_computes(driver, options)
        cells = [(f, r) for f in faults for r in range(1, runs + 1)]
        for fault_name, run in cells:
            w = workload(phase)
            after_s = moment(fault_name, phase, run)
            progress('[fault %d/%d] %s at %.1f s into %s via %s through '
                     'nova, run %d ...' % (len(results) + 1, total,
                                           fault_name, after_s, phase,
                                           method, run))
            fault = Fault(cloud, fault_name, after_s, phase=phase)
            down = computes_not_back(cloud)
            if down:
                case = {'via': 'nova', 'method': method,
                        'workload': w.name, 'server_id': None,
                        'observed': {'outcome': 'not run'},
                        'error': 'computes not up and enabled after '
                                 'the last run: %s' % (down,)}
            else:
                case = nova_path.run_case(
                    cloud, w, method, run_cap_s, progress=progress,
                    fault=fault,
                    planning_s=outage_s(fault_name, phase))
            if fault.error:
                case['error'] = case['error'] or fault.error
            case.update(fault=fault_name, phase=phase, run=run,
                        injected_at_s=fault.injected_at_s,
                        phase_seen_at_s=fault.phase_seen_at_s)
            case['check'] = check(case, fault)
            case['leftover_domains'] = remove_leftovers(
                cloud, case.get('server_id'))
            results.append(case)
            progress('    %s: %s' % (
                'passed' if case['check']['ok'] else 'FAILED',
                ', '.join(k for k, v in case['check'].items()
                          if k != 'ok' and not v) or 'all checks'))
    return results


def table(results):
    """k/N per phase, fault and method, with the checks that failed."""
    lines = ['faults through nova (in pre-copy of %s %.0f-%.0f s into the '
             'job; in auto-converge of %s, paused by the plan and '
             'post-copy of %s 0-%.0f s after the phase began): runs that '
             'left the guest whole and nova right, k/N' % (
                 PHASE_WORKLOADS[PRE_COPY], FAULT_MIN_S, FAULT_MAX_S,
                 PHASE_WORKLOADS[AUTO_CONVERGE], PHASE_WORKLOADS[POST_COPY],
                 PHASE_DELAY_MAX_S),
             '%-14s %-22s %-16s %5s  %s' % ('phase', 'fault', 'method', 'k/N',
                                            'failed checks (runs)')]
    keys = []
    for r in results:
        key = (r.get('phase', PRE_COPY), r['fault'], r['method'])
        if key not in keys:
            keys.append(key)
    for key in keys:
        group = [r for r in results
                 if (r.get('phase', PRE_COPY), r['fault'], r['method']) == key]
        failed = {}
        for r in group:
            for k, v in r['check'].items():
                if k != 'ok' and not v:
                    failed[k] = failed.get(k, 0) + 1
        lines.append('%-14s %-22s %-16s %2d/%-2d  %s' % (
            key + (sum(1 for r in group if r['check']['ok']), len(group),
                   ', '.join('%s (%d)' % kv for kv in failed.items())
                   or '-')))
    return '\n'.join(lines)
