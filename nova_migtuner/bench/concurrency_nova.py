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

"""Concurrent live migrations from one host through nova
(``--concurrent K,...``).

For each K, K servers of the ``dirty-0.5x`` workload (about 12 s each on
the capped link) are booted on the source compute, and K
``openstack server migrate --live-migration`` commands are started at the
same moment, one per server. The computes run ``MigTunerDriver`` with
nova's ``max_concurrent_live_migrations = MAX_CONCURRENT`` (nova's default
of 1 would queue them one by one on the source and test nothing) and
``[migtuner] host_spacing_s = HOST_SPACING_S``; the scheduler runs
``MigTunerFilter`` with its defaults (``max_incoming_migrations = 2``,
``destination_settle_s = 30``). The cloud has one other compute, so every
migration that is scheduled goes to it.

An observer polls every server's job on the source, as for the matrix
(``bench.nova_path``), and takes each job's window from its first to its
last poll. From these windows it counts:

* spacing violations: two jobs from the source that started less than
  ``host_spacing_s`` apart (less the observer's ``START_TOLERANCE_S``);
* incoming-limit violations: a job that started while
  ``max_incoming_migrations`` others were already in flight to the same
  destination;
* the most jobs in flight at once.

Every server's nova migration record says how it ended (``completed``; a
scheduler refusal leaves ``error`` with no job), and its ``.end``
notification gives ``monitor_poll_gap_max_ms``: the longest time between
two polls of the job by nova's monitor, which the busy source computes
while it runs K migrations.
"""

import contextlib
import threading
import time
import uuid

from nova_migtuner.bench import methods
from nova_migtuner.bench import nova_path
from nova_migtuner.bench import workloads as wl_mod
from nova_migtuner.cloud import cloud as cloud_mod
from nova_migtuner.cloud import observer as observer_mod
from nova_migtuner.cloud import openstack_cli
from nova_migtuner.conf import migtuner as conf_migtuner

CONCURRENCY = (2, 4)
MAX_CONCURRENT = 4
HOST_SPACING_S = 5
# A job's start is seen at the observer's first poll after it: up to one
# poll interval late, plus the time the poll itself takes.
START_TOLERANCE_S = 0.5
MAX_SERVERS = 8
# An ``openstack server migrate`` returns once nova accepted the request.
API_CALL_TIMEOUT_S = 120.0


def _default(name):
    return next(o.default for o in conf_migtuner.ALL_OPTS if o.name == name)


MAX_INCOMING = _default('max_incoming_migrations')
SETTLE_S = _default('destination_settle_s')


def workload():
    """The guest of every concurrent run: several pre-copy rounds."""
    return wl_mod.named('dirty-0.5x')


def compute_options():
    """The computes' options for the concurrent runs."""
    return [('DEFAULT', 'max_concurrent_live_migrations',
             str(MAX_CONCURRENT)),
            ('migtuner', 'host_spacing_s', str(HOST_SPACING_S))]


def job_windows(samples_by_server):
    """``{server: (start, end)}`` of the servers whose job was polled, in
    the observer's monotonic seconds (pure).
    """
    return {server: (samples[0][0], samples[-1][0])
            for server, samples in samples_by_server.items() if samples}


def spacing_violations(starts, spacing_s, tolerance_s=START_TOLERANCE_S):
    """Pairs of consecutive job starts closer than *spacing_s* (pure)."""
    ordered = sorted(starts)
    return sum(1 for a, b in zip(ordered, ordered[1:])
               if b - a < spacing_s - tolerance_s)


def in_flight_at(windows, moment, exclude=None):
    """How many of *windows* run at *moment* (pure)."""
    return sum(1 for key, (start, end) in windows.items()
               if key != exclude and start <= moment <= end)


def incoming_violations(windows, limit):
    """Jobs that started while *limit* others were in flight (pure; every
    window goes to the same destination). 0 *limit*: no limit.
    """
    if not limit:
        return 0
    return sum(1 for key, (start, _end) in windows.items()
               if in_flight_at(windows, start, exclude=key) >= limit)


def most_in_flight(windows):
    """The most windows that overlap at once (pure)."""
    return max((in_flight_at(windows, start) for start, _end in
                windows.values()), default=0)


def run_round(cloud, k, run_cap_s, progress=print, not_before=None):
    """K concurrent live migrations from the source, asked for no sooner
    than *not_before* (monotonic seconds); the round's dict.
    """
    cli = openstack_cli.OpenStackCLI(cloud)
    conn = cloud.connection()
    w = workload()
    guest = nova_path.nova_workload(w)
    image = nova_path.image_name(cloud, w, guest)
    cloud.ensure_guest_image(image, guest)
    servers, observers, calls = [], {}, {}
    # Each observer stops once: before the samples are read, or on the
    # way out if the round fails first.
    observing = contextlib.ExitStack()
    result = {'k': k, 'servers': [], 'error': None}
    try:
        for i in range(k):
            name = 'bench-concurrent-%d-%d-%s' % (k, i, uuid.uuid4().hex[:6])
            servers.append(cli.boot(name, image, cloud_mod.FLAVOR_NAME,
                                    host=nova_path.SOURCE_HOST)['id'])
        source = observer_mod.bed_host_of(nova_path.SOURCE_HOST)
        for server_id in servers:
            watch = observer_mod.ServerObserver(cloud, server_id)
            nova_path.wait_for(
                lambda: 'mtw ready' in watch.console_text(source),
                nova_path.WORKLOAD_TIMEOUT_S,
                'the workload of %s' % server_id)
        for server_id in servers:
            observers[server_id] = nova_path.Observer(
                observer_mod.ServerObserver(cloud, server_id),
                source).start()
            observing.callback(observers[server_id].stop)
        progress('    %d servers up on %s; migrating them all at once ...'
                 % (k, nova_path.SOURCE_HOST))
        if not_before is not None and time.monotonic() < not_before:
            # The previous round's migrations have to settle on the
            # destination first, or the filter refuses every one.
            time.sleep(not_before - time.monotonic())
        go = threading.Barrier(k)

        def migrate(server_id):
            go.wait()
            asked = time.monotonic()
            done = cli.run('server', 'migrate', '--live-migration',
                           server_id, check=False)
            calls[server_id] = {
                'asked_at': asked, 'answered_s': time.monotonic() - asked,
                'returncode': getattr(done, 'returncode', None)}
        threads = [threading.Thread(target=migrate, args=(s,), daemon=True)
                   for s in servers]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(API_CALL_TIMEOUT_S)
        # Each migration may wait for the spacing of those before it.
        deadline = started + run_cap_s + (k * HOST_SPACING_S +
                                          nova_path.GRACE_S)
        for server_id in servers:
            entry = {'server_id': server_id}
            try:
                record = nova_path.wait_for_final_record(
                    cli, conn, server_id, max(1.0, deadline -
                                              time.monotonic()))
                entry['nova_migration_status'] = record and record['Status']
            except TimeoutError as exc:
                entry['error'] = str(exc)
            result['servers'].append(entry)
        observing.close()
        windows = job_windows({s: o.samples for s, o in observers.items()})
        for entry in result['servers']:
            server_id = entry['server_id']
            after = nova_path.settled_server(cli, server_id)
            end = nova_path.end_payload(cloud, server_id) or {}
            window = windows.get(server_id)
            entry.update(
                nova_host=openstack_cli.host_of(after),
                nova_server_status=after['status'],
                job_started_s=(None if window is None else
                               round(window[0] - started, 2)),
                job_s=(None if window is None else
                       round(window[1] - window[0], 2)),
                api=calls.get(server_id) and {
                    'asked_s': round(calls[server_id]['asked_at'] - started,
                                     2),
                    'answered_s': round(calls[server_id]['answered_s'], 2),
                    'returncode': calls[server_id]['returncode']},
                end_outcome=end.get('outcome'),
                waited_s=end.get('waited_s'),
                fallback_reason=end.get('fallback_reason'),
                monitor_poll_gap_max_ms=end.get('monitor_poll_gap_max_ms'))
        result.update(counts(result['servers'], windows))
    except Exception as exc:    # a round that cannot run is a failed round
        result['error'] = '%s: %s' % (type(exc).__name__, exc)
        progress('    failed: %s' % result['error'])
    finally:
        observing.close()
        for server_id in servers:
            cli.run('server', 'delete', '--wait', server_id, check=False)
    return result


def counts(entries, windows):
    """The round's figures from its servers and job windows (pure)."""
    gaps = [e['monitor_poll_gap_max_ms'] for e in entries
            if e.get('monitor_poll_gap_max_ms') is not None]
    statuses = {}
    for e in entries:
        status = e.get('nova_migration_status') or 'unknown'
        statuses[status] = statuses.get(status, 0) + 1
    return {
        'jobs_started': len(windows),
        'nova_statuses': statuses,
        'spacing_violations': spacing_violations(
            [start for start, _end in windows.values()], HOST_SPACING_S),
        'incoming_violations': incoming_violations(windows, MAX_INCOMING),
        'most_in_flight': most_in_flight(windows),
        'longest_monitor_poll_gap_ms': max(gaps) if gaps else None,
    }


def run_concurrent(cloud, rounds, run_cap_s, progress=print, results=None):
    """One round of each K in *rounds*; each appended to *results* (a new
    list by default) as it ends, which is returned.
    """
    bad = [k for k in rounds if not 2 <= k <= MAX_SERVERS]
    if bad or not rounds:
        raise ValueError('concurrency %s is invalid: expected 2..%d '
                         'servers per round'
                         % (', '.join(str(k) for k in bad) or 'none',
                            MAX_SERVERS))
    results = [] if results is None else results
    driver, options = nova_path.nova_options(methods.MIGTUNER, run_cap_s)
    options = list(options) + compute_options()
    progress('computes: %s driver, %s' % (driver, ', '.join(
        '%s.%s=%s' % o for o in options)))
    cloud.start_computes(driver, options)
    not_before = None
    for k in rounds:
        progress('[concurrent] %d live migrations from %s at once through '
                 'nova ...' % (k, nova_path.SOURCE_HOST))
        result = run_round(cloud, k, run_cap_s, progress=progress,
                           not_before=not_before)
        not_before = time.monotonic() + SETTLE_S + 1.0
        results.append(result)
        progress('    %s' % line(result))
    return results


def line(result):
    """One round in words."""
    if result.get('error') and 'jobs_started' not in result:
        return 'not measured: %s' % result['error']
    gap = result.get('longest_monitor_poll_gap_ms')
    return ('%d jobs started, nova says %s; %d spacing and %d incoming-limit '
            'violations; at most %d in flight; longest monitor poll gap %s'
            % (result['jobs_started'], ', '.join(
                '%s %d' % kv for kv in sorted(
                    result['nova_statuses'].items())),
               result['spacing_violations'], result['incoming_violations'],
               result['most_in_flight'],
               '-' if gap is None else '%d ms' % gap))


def table(results):
    """The rounds as a table."""
    lines = ['concurrent live migrations from %s through nova '
             '(max_concurrent_live_migrations %d, host_spacing_s %d, '
             'max_incoming_migrations %d, destination_settle_s %d)'
             % (nova_path.SOURCE_HOST, MAX_CONCURRENT, HOST_SPACING_S,
                MAX_INCOMING, SETTLE_S),
             '%-3s %-28s %8s %9s %9s %10s %14s' % (
                 'K', 'nova record status', 'started', 'spacing',
                 'incoming', 'in flight', 'poll gap (ms)'),
             '%-3s %-28s %8s %9s %9s %10s %14s' % (
                 '', '', 'jobs', 'violat.', 'violat.', 'at most', 'longest')]
    for r in results:
        if 'jobs_started' not in r:
            lines.append('%-3d not measured: %s' % (r['k'], r['error']))
            continue
        gap = r['longest_monitor_poll_gap_ms']
        lines.append('%-3d %-28s %8d %9d %9d %10d %14s' % (
            r['k'], ', '.join('%s %d' % kv for kv in
                              sorted(r['nova_statuses'].items())),
            r['jobs_started'], r['spacing_violations'],
            r['incoming_violations'], r['most_in_flight'],
            '-' if gap is None else gap))
    return '\n'.join(lines)
