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

"""The bench through real nova: each case is an operator's live migration.

The cloud (``nova_migtuner.cloud``) runs its two nova-computes in one of
three configurations, and every case boots a server with the workload's
image on one compute and live-migrates it through the nova API
(``openstack server migrate --live-migration``):

``stock-nova``
    ``compute_driver = libvirt.LibvirtDriver`` with nova's defaults, but
    for the timeline: ``live_migration_completion_timeout`` and
    ``live_migration_downtime_delay`` are scaled so that nova's own
    timeout falls at the run cap (see ``nova_options``).
``nova-best-static``
    the same, plus ``live_migration_permit_auto_converge``,
    ``live_migration_permit_post_copy`` and
    ``live_migration_timeout_action = force_complete``.
``migtuner``
    ``compute_driver = migtuner.MigTunerDriver`` with the project's
    defaults and the same ``[libvirt]`` permissions as nova-best-static.

No code of this project runs in the first two but the observer: one
``Observer`` measures every case the same way, from outside the code under
test (libvirt job statistics polled on the source over its own
connection, the completed statistics on the destination, and the guest's
heartbeat in nova's console.log on both hosts). For migtuner cases the
``migtuner.live_migration.end`` notification, as the report collector
received it from RabbitMQ, is recorded beside the observer's numbers.
"""

import dataclasses
import hashlib
import math
import threading
import time
import uuid

import libvirt

from nova_migtuner.bench import impact as impact_mod
from nova_migtuner.bench import impact_output
from nova_migtuner.bench import methods
from nova_migtuner.bench import runs as engine_runs
from nova_migtuner.bench import traffic as traffic_mod
from nova_migtuner.cloud import cloud as cloud_mod
from nova_migtuner.cloud import configs
from nova_migtuner.cloud import observer as observer_mod
from nova_migtuner.cloud import openstack_cli
from nova_migtuner import migration_statuses
from nova_migtuner.reports import store as store_mod
from nova_migtuner.testbed import exceptions as testbed_exceptions
from nova_migtuner.testbed import job_events

# The same three methods as the engine path, by the same names.
STOCK, NOVA_BEST, MIGTUNER = methods.STOCK, methods.NOVA_BEST, methods.MIGTUNER
METHODS = methods.METHODS
SOURCE_HOST = 'migtuner-a'
# The final numbers come from the source's job-completed event; when none
# comes (a cancelled or failed job) the last poll is the final word: poll
# often enough that it misses little (32 MiB/s x 0.1 s = 3 MiB).
POLL_INTERVAL_S = 0.1
JOB_EVENT_TIMEOUT_S = 5.0
# Past the run cap: nova's own timeout action (abort, or force-complete)
# has this long to finish before the bench aborts through the API.
GRACE_S = 60.0
REPORT_TIMEOUT_S = 30.0
# nova's record of the live migration, polled through the API.
API_POLL_INTERVAL_S = 0.5
WORKLOAD_TIMEOUT_S = 120.0
# How long nova has to clear the server's task state after the record ends.
SETTLE_TIMEOUT_S = 60.0
# nova 34 _live_migration_data_gb for this guest: RAM floored at 2 GiB,
# plus each migrated disk floored at 2 GiB (one 1 GB root disk).
NOVA_DATA_GB = 4
NOVA_DEFAULT_DOWNTIME_DELAY_S = 75
NOVA_DEFAULT_COMPLETION_TIMEOUT_S = 800
NOVA_MIN_DOWNTIME_DELAY_S = 3


def nova_data_gb(memory_mib):
    """nova 34's ``_live_migration_data_gb`` for a server of this flavor
    RAM: RAM floored at 2 GiB, plus the root disk floored at 2 GiB.
    """
    return max(2, memory_mib / 1024.0) + 2


def flavor_name(memory_mib):
    """The bench's flavor of this RAM (one vCPU, 1 GB root disk)."""
    return 'migtuner.m%d' % memory_mib


def nova_timeline(run_cap_s, data_gb=NOVA_DATA_GB):
    """nova's per-GiB timeout and downtime delay scaled to the run cap.

    nova multiplies both by the migration's data size (NOVA_DATA_GB); the
    defaults put the timeout at 800 s per GiB with a downtime step every
    75 s per GiB. Scaled, the timeout falls at the run cap and the steps
    keep their ratio to it as far as the option's minimum (3) allows.
    """
    timeout = max(1, int(math.floor(run_cap_s / data_gb)))
    delay = max(NOVA_MIN_DOWNTIME_DELAY_S, int(round(
        timeout * NOVA_DEFAULT_DOWNTIME_DELAY_S /
        NOVA_DEFAULT_COMPLETION_TIMEOUT_S)))
    return {'live_migration_completion_timeout': timeout,
            'live_migration_downtime_delay': delay,
            'effective_timeout_s': timeout * data_gb,
            'effective_step_s': delay * data_gb}


def nova_options(method, run_cap_s, link_mib_s=None, memory_mib=None):
    """(driver, [(section, key, value)]) of the computes for *method*.

    ``link_mib_s``: nova's ``live_migration_bandwidth`` instead of the
    cloud's; ``memory_mib``: the flavor RAM the timeline is scaled for.
    """
    if method not in METHODS:
        raise ValueError('method %r is invalid: expected one of %s'
                         % (method, ', '.join(METHODS)))
    data_gb = NOVA_DATA_GB if memory_mib is None else nova_data_gb(
        memory_mib)
    timeline = nova_timeline(run_cap_s, data_gb)
    link = ([] if link_mib_s is None else
            [('libvirt', 'live_migration_bandwidth', str(link_mib_s))])
    if method == MIGTUNER:
        # configs.MIGTUNER_PERMISSIONS: the same permissions as best-static.
        return 'migtuner', link
    options = link + [('libvirt', key, str(timeline[key])) for key in
                      ('live_migration_completion_timeout',
                       'live_migration_downtime_delay')]
    if method == NOVA_BEST:
        options += [(s, k, str(v).lower())
                    for s, k, v in configs.MIGTUNER_PERMISSIONS]
        options.append(('libvirt', 'live_migration_timeout_action',
                        'force_complete'))
    return 'stock', options


class Observer:
    """Polls the source's job statistics over its own connection."""

    def __init__(self, server_observer, source, on_sample=None):
        self.server = server_observer
        self.source = source
        self.samples = []
        self._on_sample = on_sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='bench-observer')

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        dom = None
        while not self._stop.is_set():
            try:
                dom = dom or self.server.domain(self.source)
                if dom is not None:
                    stats = dom.jobStats()
                    if stats.get('type', 0) != libvirt.VIR_DOMAIN_JOB_NONE:
                        self.samples.append((time.monotonic(), stats))
                        if self._on_sample is not None:
                            self._on_sample(stats, dom)
            except (libvirt.libvirtError, testbed_exceptions.TestbedError):
                # The source domain is gone (nova undefined it), or its
                # libvirtd is (a fault run killed it): look again.
                dom = None
            self._stop.wait(POLL_INTERVAL_S)

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=10)


def observed_numbers(samples, completed, completed_source='destination '
                                                          'completed'):
    """Outcome-independent numbers: the completed statistics where libvirt
    gave them (*completed*, labelled *completed_source*), else the last
    polled job statistics.
    """
    last = last_job_sample(samples)
    has_completed = bool(completed.get('time_elapsed'))
    source = completed if has_completed else last
    return {
        'stats_source': (completed_source if has_completed else
                         'source last poll' if samples else None),
        'total_time_s': (source['time_elapsed'] / 1000.0
                         if source.get('time_elapsed') is not None
                         else None),
        'downtime_ms': completed.get('downtime') if has_completed else None,
        'data_bytes': source.get('data_processed'),
        'iterations': source.get('memory_iteration'),
        'post_copy_requests': source.get('memory_postcopy_requests'),
        'auto_converge_throttle': max(
            (s.get('auto_converge_throttle', 0) for _, s in samples),
            default=None),
    }


def last_job_sample(samples):
    """The latest statistics of the migration job the samples saw.

    A poll that lands while libvirt tears down a cancelled job can return
    the job's type with every counter reset to zero; such a sample must not
    stand for the whole migration, so the one that saw most of the job
    (the largest elapsed time, the later of equals) is the last word.
    """
    best = {}
    for _, stats in samples:
        if stats.get('time_elapsed', 0) >= best.get('time_elapsed', 0):
            best = stats
    return best


def application(probe, workload, job_start, job_end, source, target,
                silent_until=None):
    """The application impact from the progress lines the probe read in
    nova's console.log on both hosts (see ``bench.impact``; *silent_until*
    for a guest that runs nowhere).
    """
    return impact_mod.application_impact(
        probe.progress(), probe.samples(), impact_mod.unit_for(workload),
        job_start, job_end, source, target, silent_until=silent_until)


def job_window(samples, api_start, api_end):
    """(start, end) of the libvirt job as the observer polled it on the
    source: the first and the last poll of an active job (the end one poll
    later); the API's own times where no poll saw one. The API call comes
    seconds before the job (scheduling, pre-checks) and its status is read
    seconds after, at the CLI's pace.
    """
    if not samples:
        return api_start, api_end
    return samples[0][0], samples[-1][0] + POLL_INTERVAL_S


def remaining_series(samples):
    if not samples:
        return []
    t0 = samples[0][0]
    return [(round(t - t0, 2), s.get('memory_remaining'))
            for t, s in samples if s.get('memory_remaining') is not None and
            s.get('memory_iteration')]


def image_name(cloud, bench_workload, workload):
    """The glance image of a workload, named by what it boots: an image
    of an earlier workload program or other parameters is never reused.
    """
    digest = hashlib.sha256(('%s %s' % (
        cloud_mod.artifacts_version(cloud.bed.artifacts),
        workload.kernel_args())).encode()).hexdigest()[:10]
    return 'migtuner-guest-%s-%s' % (bench_workload.name, digest)


def nova_workload(bench_workload):
    """The guest workload of *bench_workload* as a nova server runs it."""
    # A nova guest has one serial port, the console: the heartbeat too.
    return dataclasses.replace(bench_workload.workload,
                               heartbeat_device='ttyS0')


def run_case(cloud, bench_workload, method, run_cap_s, progress=print,
             flavor=None, start_offset_s=0.0, planning_s=0.0, fault=None):
    """Boot, migrate through the API, observe; return the case's dict.

    ``flavor``: (name, RAM MiB) of the server's flavor, created if needed;
    the bench's own tiny flavor by default. ``start_offset_s``: how long
    after the workload is up the migration is asked for (the timing runs
    start in every phase of a bursty workload). ``planning_s``: how long
    the compute may sample and wait before the job starts, on top of the
    run cap, before the bench gives up on the migration. ``fault``: an
    object whose ``observe(stats, domain)`` sees every job poll (and
    injects its fault when it chooses) and whose ``restore()`` undoes it
    once nova has finished with the migration (``bench.faults_nova``).
    """
    cli = openstack_cli.OpenStackCLI(cloud)
    workload = nova_workload(bench_workload)
    image = image_name(cloud, bench_workload, workload)
    cloud.ensure_guest_image(image, workload)
    flavor_name = cloud_mod.FLAVOR_NAME
    if flavor is not None:
        flavor_name = cloud.ensure_flavor(*flavor).name
    name = 'bench-%s-%s-%s' % (bench_workload.name, method,
                               uuid.uuid4().hex[:6])
    case = {'via': 'nova', 'server_id': None, 'workload': bench_workload.name,
            'workload_description': bench_workload.description,
            'method': method, 'observed': None, 'error': None,
            'guest_memory_mib': (flavor[1] if flavor is not None
                                 else cloud_mod.FLAVOR_RAM_MB)}
    server = job_completed = traffic = None
    try:
        server = cli.boot(name, image, flavor_name, host=SOURCE_HOST)
        case['server_id'] = server['id']
        watch = observer_mod.ServerObserver(cloud, server['id'])
        source = observer_mod.bed_host_of(openstack_cli.host_of(server))
        wait_for(lambda: 'mtw ready' in watch.console_text(source),
                 WORKLOAD_TIMEOUT_S, 'the workload of %s' % name)
        probe = watch.heartbeat_probe().start()
        probe.wait_for_beats(source, 20, 10.0)
        time.sleep(start_offset_s)
        now = time.monotonic()
        engine_runs.wait_for_progress(probe, workload,
                                      now - impact_mod.BASELINE_S, now)
        observer = Observer(watch, source, on_sample=fault and
                            fault.observe).start()
        job_completed = job_events.JobCompletedListener(
            cloud.bed.uri(source)).start()
        target = next(h for h in cloud.bed.hosts if h != source)
        domain_name = watch.domain(source).name()
        traffic = traffic_mod.QemuTraffic(
            lambda host: traffic_mod.qemu_pid(cloud.bed.hosts[host],
                                              domain_name),
            source, target,
            dest_ports=cloud.bed.hosts[target].migration_ports).start()
        started = time.monotonic()
        cli.run('server', 'migrate', '--live-migration', server['id'])
        migration = wait_for_final_record(
            cli, cloud.connection(), server['id'],
            run_cap_s + planning_s + GRACE_S)
        wall = time.monotonic() - started
        observer.stop()
        if fault is not None:
            fault.restore()
        moved = traffic.stop()
        after = settled_server(cli, server['id'])
        running = watch.running_on()
        dest_host = observer_mod.bed_host_of(openstack_cli.host_of(after))
        if running:
            probe.wait_for_beats(running[0], 10, 10.0)
        job_start, job_end = job_window(observer.samples, started,
                                        started + wall)
        engine_runs.wait_for_progress(
            probe, workload, job_start, job_end + impact_mod.AFTER_END_S +
            engine_runs.PROGRESS_WAIT_MARGIN_S)
        beat = probe.stop()
        read_until = time.monotonic()
        # Whether the guest moved (``moved`` is the QEMUs' traffic).
        migrated = running == [dest_host] and dest_host != source
        completed = job_completed.stats(
            server['id'], JOB_EVENT_TIMEOUT_S if migrated else 0.0)
        completed_source = 'source job-completed event'
        if not completed.get('time_elapsed') and migrated:
            completed = watch.completed_stats(dest_host)
            completed_source = 'destination completed'
        numbers = observed_numbers(observer.samples, completed,
                                   completed_source)
        hb = engine_runs.heartbeat_downtime(probe.samples(), source, target)
        # A guest that runs nowhere did no work after its last line.
        app = application(probe, bench_workload.workload, job_start,
                          job_end, source, target,
                          silent_until=None if running else read_until)
        case.update(app)
        outcome = _outcome(migration, source, running, dest_host)
        case['observed'] = dict(
            numbers, outcome=outcome, api_wall_s=round(wall, 2),
            nova_migration_status=migration and migration['Status'],
            hosts_running_guest=running, nova_host=after[
                'OS-EXT-SRV-ATTR:host'], nova_server_status=after['status'],
            hosts_paused_guest=watch.paused_on(),
            hosts_with_domain=watch.defined_on(),
            heartbeat_switch_gap_ms=hb['switch_gap_ms'],
            heartbeat_longest_source_gap_ms=hb['longest_source_gap_ms'],
            heartbeat_longest_gap_ms=beat.longest_gap_ms,
            # From the API call to the job's first poll: nova's scheduling
            # and pre-checks, and any sampling or waiting by the plan.
            start_delay_s=(round(job_start - started, 2)
                           if observer.samples else None),
            **dict(app['impact'], **moved))
        case['remaining_series'] = remaining_series(observer.samples)
        if method == MIGTUNER:
            case['notification'] = end_payload(cloud, server['id'])
            case['difference'] = compare(case['observed'],
                                         case['notification'])
        progress('    %s' % summary(case))
    except Exception as exc:    # a case that cannot run is a failed case
        case['error'] = '%s: %s' % (type(exc).__name__, exc)
        case['observed'] = case['observed'] or {'outcome': 'not run'}
        progress('    failed: %s' % case['error'])
    finally:
        if fault is not None:
            fault.restore()
        if job_completed is not None:
            job_completed.stop()
        if traffic is not None:
            traffic.stop()
        if server is not None:
            cli.run('server', 'delete', '--wait', server['id'], check=False)
    return case


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise TimeoutError('no %s within %.0f s' % (what, timeout))


def live_migration_record(conn, server_id):
    """nova's newest live migration record of the server (``Id`` and
    ``Status``, as ``openstack server migration list`` names them), or None.
    """
    found = list(conn.compute.migrations(server_id=server_id,
                                         migration_type='live-migration'))
    if not found:
        return None
    newest = max(found, key=lambda m: int(m.id))
    return {'Id': newest.id, 'Status': newest.status}


def wait_for_final_record(cli, conn, server_id, timeout):
    """Wait until nova's live migration record is final; abort it through
    the API (and say so) if it is not by *timeout*.

    The record is polled through openstacksdk, one HTTP request each
    ``API_POLL_INTERVAL_S``: an ``openstack`` process per poll would cost
    2-3 s of CPU on this 2-core machine, taken from the guests being
    migrated, and notice the end seconds late. The abort is the operator's
    command.
    """
    deadline = time.monotonic() + timeout
    while True:
        migration = live_migration_record(conn, server_id)
        if migration and migration['Status'] in migration_statuses.FINISHED:
            return migration
        if time.monotonic() > deadline:
            if migration:
                cli.run('--os-compute-api-version', '2.24', 'server',
                        'migration', 'abort', server_id,
                        str(migration['Id']), check=False)
            raise TimeoutError('the live migration of %s did not end '
                               'within %.0f s (status %s); aborted through '
                               'the API' % (server_id, timeout, migration and
                                            migration['Status']))
        time.sleep(API_POLL_INTERVAL_S)


def settled_server(cli, server_id, timeout=SETTLE_TIMEOUT_S):
    """The server as nova shows it once its task state is cleared: nova
    may end the migration record a moment before its rollback or
    post-migration clears the instance's task state (and its status reads
    MIGRATING). After *timeout*, the server as it then is.
    """
    deadline = time.monotonic() + timeout
    while True:
        server = cli.json('server', 'show', server_id)
        if not server.get('OS-EXT-STS:task_state') or \
                time.monotonic() > deadline:
            return server
        time.sleep(API_POLL_INTERVAL_S)


def _outcome(migration, source, running, dest):
    """What the run left, from nova's record and where the guest runs.

    ``moved-unrecorded``: the guest runs whole on the destination, but
    nova's record does not say completed; ``split``: it runs on more than
    one host; ``lost``: it runs nowhere.
    """
    status = migration and migration['Status']
    if status == 'completed' and running == [dest] and dest != source:
        return 'completed'
    if status == 'cancelled' and running == [source]:
        return 'aborted'
    if running == [source]:
        return 'failed'
    if len(running) == 1 and running[0] != source:
        return 'moved-unrecorded'
    return 'lost' if not running else 'split'


def end_payload(cloud, server_id):
    store = store_mod.ReportStore(cloud.reports_db, create=False)
    deadline = time.monotonic() + REPORT_TIMEOUT_S
    while time.monotonic() < deadline:
        reports = store.reports(instance_uuid=server_id)
        if reports:
            return store.payload(reports[-1].message_id)
        time.sleep(0.5)
    return None


def compare(observed, payload):
    """The notification's numbers against the observer's."""
    if not payload:
        return {'ok': False, 'why': 'no .end notification received'}
    result = {}
    if observed.get('data_bytes') and payload.get('data_bytes_transferred'):
        result['data_bytes_pct'] = round(100.0 * (
            payload['data_bytes_transferred'] - observed['data_bytes']) /
            observed['data_bytes'], 2)
    if observed.get('downtime_ms') is not None and \
            payload.get('downtime_ms') is not None:
        result['downtime_ms'] = payload['downtime_ms'] - observed[
            'downtime_ms']
    result['ok'] = abs(result.get('data_bytes_pct', 0)) <= 5.0
    return result


def summary(case):
    o = case['observed']
    parts = [o['outcome']]
    if o.get('total_time_s') is not None:
        parts.append('%.1f s' % o['total_time_s'])
    if o.get('downtime_ms') is not None:
        parts.append('downtime %d ms' % o['downtime_ms'])
    if o.get('heartbeat_switch_gap_ms') is not None:
        parts.append('heartbeat gap %.0f ms' % o['heartbeat_switch_gap_ms'])
    if o.get('data_bytes'):
        parts.append('%.0f MiB' % (o['data_bytes'] / 2.0 ** 20))
    if case.get('impact'):
        parts.append(impact_output.summary(case['impact']))
    return ', '.join(parts)


def report_view(case):
    """The case in the engine path's report terms, for the summaries that
    judge both paths (``output.prediction_summary``,
    ``timing_runs.summary``): the observer's numbers, and the prediction of
    the plan the compute ran, from its ``.end`` notification (none for the
    stock methods).
    """
    o = case.get('observed') or {}
    end = case.get('notification') or {}
    return {'outcome': o.get('outcome'),
            'total_seconds': o.get('total_time_s'),
            'data_bytes': o.get('data_bytes'),
            'downtime_ms': o.get('downtime_ms'),
            'predicted_total_seconds': end.get('predicted_total_s'),
            'predicted_bytes': end.get('predicted_bytes'),
            'predicted_downtime_ms': end.get('predicted_downtime_ms'),
            'predicted_converges': end.get('predicted_total_s') is not None}


def with_report_views(cases):
    """Copies of *cases* shaped as the engine path's: each with its
    ``report_view`` as ``report`` and the heartbeat's longest gap at the
    top.
    """
    return [dict(c, report=report_view(c), heartbeat_longest_gap_ms=(
        c.get('observed') or {}).get('heartbeat_longest_gap_ms'))
        for c in cases]
