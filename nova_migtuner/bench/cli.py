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

"""``nova-migtuner bench [--quick] [--faults] [--output DIR]``.

Migrates every workload of the matrix three ways on the local two-host
test bed (``nova_migtuner.testbed``) and writes ``results.json``,
``results.txt`` (the table) and ``results.png`` to the output directory.
Needs root, libvirt, QEMU and the test bed's prerequisites; prints the
install command when they are missing.
"""

import argparse
import logging
import os
import sys
import time

from nova_migtuner.bench import concurrency_nova
from nova_migtuner.bench import faults as faults_mod
from nova_migtuner.bench import faults_nova
from nova_migtuner.bench import flavors as flavors_mod
from nova_migtuner.bench import impact_output
from nova_migtuner.bench import methods
from nova_migtuner.bench import output
from nova_migtuner.bench import profile
from nova_migtuner.bench import runs
from nova_migtuner.bench import timing_nova
from nova_migtuner.bench import timing_runs
from nova_migtuner.bench import workloads as wl_mod
from nova_migtuner import signals
from nova_migtuner import units

LOG = logging.getLogger(__name__)

RUN_CAP_S = 90.0
QUICK_RUN_CAP_S = 30.0
# The bench's own test bed: its own work dir, ports and migration ports, so
# it never collides with a test session's bed.
BENCH_WORKDIR = '/var/tmp/nova-migtuner-bench'
BENCH_PORTS = (16809, 16810)
BENCH_MIGRATION_PORT_BASE = 49600


def parse_args(argv, prog='nova-migtuner bench'):
    parser = argparse.ArgumentParser(
        prog=prog,
        description='Stock nova vs nova best static vs nova_migtuner: '
                    'live migrations through the nova API of a real '
                    'one-machine cloud on the local libvirt/QEMU test bed '
                    '(or, with --engine, driven by the engine on the bare '
                    'test bed).')
    parser.add_argument('--quick', action='store_true',
                        help='2 workloads, %.0f s run cap (CI smoke)'
                             % QUICK_RUN_CAP_S)
    parser.add_argument('--faults', action='store_true',
                        help='also run the fault-injection runs during '
                             'pre-copy: the destination QEMU or libvirtd '
                             'killed, the migration link cut, the source '
                             'libvirtd killed, the source nova-compute '
                             'restarted (with --engine: the first three)')
    parser.add_argument('--faults-only', action='store_true',
                        help='only the fault-injection runs')
    parser.add_argument('--fault-runs', type=int, default=3, metavar='N',
                        help='through nova: runs of each fault with each '
                             'method (default 3; stock-nova and migtuner '
                             'unless --method)')
    parser.add_argument('--fault', action='append', default=None,
                        choices=faults_nova.ALL_FAULTS, metavar='FAULT',
                        help='with --faults or --faults-only: only these '
                             'faults (repeatable): %s (default: all but '
                             'the last, whose run takes about 15 min); with '
                             '--engine, only the first three'
                             % ', '.join(faults_nova.ALL_FAULTS))
    parser.add_argument('--fault-phase', action='append', default=None,
                        choices=faults_nova.PHASES,
                        help='through nova, with --method migtuner beyond '
                             'pre-copy: inject the faults in these phases '
                             '(repeatable; default pre-copy): %s'
                             % ', '.join(faults_nova.PHASES))
    parser.add_argument('--output', default='bench-results',
                        help='directory for results.json/.txt/.png')
    parser.add_argument('--workdir', default=BENCH_WORKDIR)
    # Parsed after argparse (see _workloads): args.workload keeps the texts.
    parser.add_argument('--workload', action='append', default=None,
                        metavar='NAME|KIND:...',
                        help='only these workloads (repeatable): %s'
                             % (profile.SYNTAX % ', '.join(
                                 w.name for w in wl_mod.matrix())))
    parser.add_argument('--memory', type=profile.memory, default=None,
                        help='guest memory, e.g. 2GiB (default: %d MiB)'
                             % wl_mod.GUEST_MEMORY_MIB)
    parser.add_argument('--link', type=profile.link, default=None,
                        help='migration bandwidth cap, e.g. 64MiB/s or '
                             '1Gbit/s, in whole MiB/s (default: %d MiB/s)'
                             % wl_mod.LINK_MIB_S)
    parser.add_argument('--flavors', action='store_true',
                        help='the flavor experiment: idle guests of %s '
                             'MiB, stock nova and nova_migtuner, link '
                             'capped at %d MiB/s (or --link)'
                             % (', '.join(str(m) for m in
                                          flavors_mod.SIZES_MIB),
                                flavors_mod.LINK_MIB_S))
    parser.add_argument('--sizes', type=profile.sizes, default=None,
                        metavar='SIZE,SIZE,...',
                        help='with --flavors: these guest sizes instead, '
                             'e.g. 256MiB,1GiB,4GiB')
    parser.add_argument('--engine', action='store_true',
                        help='drive the migrations with the engine on the '
                             'bare test bed instead of through nova '
                             '(quick experiments; the fault runs always '
                             'use it)')
    parser.add_argument('--keep-cloud', action='store_true',
                        help='leave the cloud running afterwards (nova '
                             'path)')
    parser.add_argument('--method', action='append', default=None,
                        choices=methods.METHODS,
                        help='only these methods (repeatable)')
    parser.add_argument('--keep-bed', action='store_true',
                        help='leave the test bed running afterwards')
    parser.add_argument('--ports', type=_ports, default=BENCH_PORTS,
                        metavar='A,B',
                        help='TCP ports of the engine path\'s two libvirtd '
                             '(default %d,%d; other ports get migration '
                             'ports of their own)' % BENCH_PORTS)
    parser.add_argument('--timing-runs', type=int, default=0, metavar='N',
                        help='migrate the bursty-quiet workload N times at '
                             'once and N times into a quiet window, '
                             'post-copy permitted and not: through nova '
                             'with the migtuner driver (only these runs), '
                             'or with --engine after the matrix')
    parser.add_argument('--timing-post-copy', action='append', default=None,
                        choices=timing_nova.POST_COPY_CHOICES,
                        help='with --timing-runs through nova: only the '
                             'runs with nova\'s post-copy permission so '
                             '(repeatable; default both)')
    parser.add_argument('--concurrent', type=_concurrency, default=None,
                        metavar='K[,K...]',
                        help='through nova only: for each K, boot K '
                             'dirty-0.5x servers on one compute and '
                             'live-migrate them all at once (only these '
                             'runs); count host_spacing_s and '
                             'max_incoming_migrations violations and the '
                             'longest gap between nova\'s monitor polls, '
                             'e.g. 2,4')
    parser.add_argument('-v', '--verbose', action='store_true')
    args = parser.parse_args(argv)
    args.workloads = _workloads(parser, args)
    if args.workload and not args.faults_only:
        # A matrix workload left out of the --quick matrix would be run
        # under the smoke run's cap: refused (profiles are run as given).
        runnable = [w.name for w in wl_mod.matrix(args.quick)]
        named = [w.name for w in wl_mod.matrix()]
        outside = [w for w in args.workload
                   if w in named and w not in runnable]
        if outside:
            parser.error('--workload %s: not in the %s matrix; choose from '
                         '%s or a profile' % (', '.join(outside),
                                              '--quick' if args.quick
                                              else 'full',
                                              ', '.join(runnable)))
    if args.flavors and (args.memory or args.workload or args.timing_runs):
        parser.error('--flavors runs its own idle guests of every size; '
                     'it takes neither --memory nor --workload nor '
                     '--timing-runs')
    if args.fault_runs < 1:
        parser.error('--fault-runs %d: expected 1 or more runs'
                     % args.fault_runs)
    if args.timing_runs < 0:
        parser.error('--timing-runs %d: expected 0 or more runs'
                     % args.timing_runs)
    if args.timing_runs and not args.engine and (args.workload or
                                                 args.method or
                                                 args.memory or args.link):
        parser.error('--timing-runs through nova runs the bursty-quiet '
                     'workload with the migtuner driver only; --workload, '
                     '--method, --memory and --link go with --engine')
    other_runs = [name for name, given in (
        ('--engine', args.engine), ('--faults', args.faults),
        ('--faults-only', args.faults_only), ('--flavors', args.flavors),
        ('--timing-runs', args.timing_runs), ('--workload', args.workload),
        ('--method', args.method), ('--memory', args.memory),
        ('--link', args.link), ('--quick', args.quick)) if given]
    if args.concurrent and other_runs:
        parser.error('--concurrent runs its own servers through nova with '
                     'the migtuner driver; it takes none of %s'
                     % ', '.join(other_runs))
    if args.fault and not (args.faults or args.faults_only):
        parser.error('--fault only goes with --faults or --faults-only')
    engine_only = [f for f in args.fault or () if args.engine and
                   f not in faults_mod.FAULTS]
    if engine_only:
        parser.error('--fault %s: the engine path injects only %s'
                     % (', '.join(engine_only),
                        ', '.join(faults_mod.FAULTS)))
    args.fault = args.fault or list(faults_nova.FAULTS if not args.engine
                                    else faults_mod.FAULTS)
    if args.fault_phase and (args.engine or not (args.faults or
                                                 args.faults_only)):
        parser.error('--fault-phase only goes with --faults or --faults-only '
                     'through nova')
    beyond = [p for p in args.fault_phase or () if p != faults_nova.PRE_COPY]
    if beyond and args.method != [methods.MIGTUNER]:
        parser.error('--fault-phase %s: only nova_migtuner\'s plans enter '
                     'it here (stock nova\'s defaults never throttle, '
                     'pause or switch to post-copy within a fault run); add '
                     '--method migtuner' % ', '.join(beyond))
    args.fault_phase = args.fault_phase or [faults_nova.PRE_COPY]
    if args.timing_post_copy and (args.engine or not args.timing_runs):
        parser.error('--timing-post-copy only goes with --timing-runs '
                     'through nova')
    args.timing_post_copy = args.timing_post_copy or list(
        timing_nova.POST_COPY_CHOICES)
    if args.sizes and not args.flavors:
        parser.error('--sizes only goes with --flavors')
    args.sizes = args.sizes or flavors_mod.SIZES_MIB
    misfit = profile.check_fits(args.workloads or wl_mod.matrix(args.quick),
                                args.memory or wl_mod.GUEST_MEMORY_MIB)
    if misfit:
        parser.error(misfit)
    return args


def _workloads(parser, args):
    """The ``BenchWorkload`` of every --workload (a matrix name or a
    profile, ``profile.parse``), in their order; None without any.
    """
    if not args.workload:
        return None
    parsed = []
    for text in args.workload:
        try:
            parsed.append(profile.parse(text))
        except argparse.ArgumentTypeError as exc:
            parser.error('argument --workload: %s' % exc)
    return parsed


def chosen_matrix(args):
    """The workloads to run: those given by --workload, in their order,
    else the matrix (two with --quick).
    """
    return list(args.workloads or wl_mod.matrix(args.quick))


def _concurrency(text):
    try:
        rounds = [int(k) for k in text.split(',')]
    except ValueError:
        rounds = []
    top = concurrency_nova.MAX_SERVERS
    if not rounds or not all(2 <= k <= top for k in rounds):
        raise argparse.ArgumentTypeError(
            '%r is not a list of server counts K,K,... within 2..%d'
            % (text, top))
    return rounds


def _ports(text):
    try:
        ports = tuple(int(p) for p in text.split(','))
    except ValueError:
        ports = ()
    if len(ports) != 2 or not all(1024 <= p <= 65535 for p in ports):
        raise argparse.ArgumentTypeError(
            '%r is not two TCP ports A,B within 1024..65535' % text)
    return ports


def _touched(cases):
    """Memory the guest touches besides its workload buffer, measured by
    the first completed idle migration (zero pages cost nothing).
    """
    for c in cases:
        r = c['report']
        if c['workload'] == 'idle' and r['outcome'] == 'completed' \
                and r['memory_bytes']:
            buffer = 64 * units.MiB
            return max(0, r['memory_bytes'] - buffer)
    return None


def main(argv=None, prog='nova-migtuner bench'):
    args = parse_args(sys.argv[1:] if argv is None else argv, prog)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format='%(asctime)s %(levelname)s %(name)s %(message)s')
    import libvirt
    from nova_migtuner.testbed import Testbed

    # libvirt prints every error on stderr by default; the engine handles
    # (and logs) the expected ones, e.g. jobStats on a guest that has left.
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    run_cap = QUICK_RUN_CAP_S if args.quick else RUN_CAP_S
    os.makedirs(args.output, exist_ok=True)
    # Other ports get migration ports of their own (derived from them), so
    # that a second bed never competes for the bench's.
    bed = Testbed(workdir=args.workdir, ports=args.ports,
                  migration_port_base=(BENCH_MIGRATION_PORT_BASE
                                       if args.ports == BENCH_PORTS
                                       else None))
    missing = bed.missing_prerequisites()
    if missing:
        print('test bed prerequisites missing: %s\ninstall with: %s'
              % ('; '.join(str(m) for m in missing), bed.install_hint()),
              file=sys.stderr)
        return 2
    # SIGTERM and SIGINT end the run through the same clean-up as a normal
    # end: the finally in _run (_run_nova) stops both libvirtd and their
    # QEMUs (and the cloud).
    try:
        with signals.terminate_gracefully():
            if args.flavors:
                return (_run_flavors(args, bed, run_cap, libvirt)
                        if args.engine else
                        _run_flavors_nova(args, run_cap))
            if args.engine:
                return _run(args, bed, run_cap, libvirt)
            if args.timing_runs:
                return _run_timing_nova(args, run_cap)
            if args.concurrent:
                return _run_concurrent_nova(args, run_cap)
            return _run_nova(args, run_cap)
    except signals.Terminated as exc:
        print('bench %s; the test bed is down' % exc, file=sys.stderr)
        return exc.exit_code


def _run_nova(args, run_cap):
    """Every case through nova's API on the cloud, then the fault runs if
    asked for; see bench.nova_path and bench.faults_nova.
    """
    from nova_migtuner.bench import nova_path
    from nova_migtuner.cloud import cloud as cloud_mod
    from nova_migtuner.cloud import configs

    started = time.monotonic()
    matrix = chosen_matrix(args)
    chosen = args.method or list(methods.METHODS)
    memory_mib = args.memory or cloud_mod.FLAVOR_RAM_MB
    timeline = nova_path.nova_timeline(run_cap,
                                       nova_path.nova_data_gb(memory_mib))
    flavor = (None if args.memory is None else
              (nova_path.flavor_name(memory_mib), memory_mib))
    cases, fault_results = [], []
    if args.faults_only:
        matrix = []
    results = {'via': 'nova', 'run_cap_s': run_cap,
               'link_mib_s': args.link or configs.LINK_CAP_MIB_S,
               'guest_memory_mib': memory_mib,
               'quick': args.quick, 'nova_timeline': timeline,
               'methods': {m: nova_path.nova_options(
                   m, run_cap, args.link, memory_mib) for m in chosen},
               'cases': cases, 'faults': fault_results,
               'notes': nova_path.__doc__.strip()}
    print('nova timeline scaled to the %.0f s run cap: [libvirt] '
          'live_migration_completion_timeout = %d (x %d GiB = %d s), '
          'live_migration_downtime_delay = %d (a step every %d s)'
          % (run_cap, timeline['live_migration_completion_timeout'],
             nova_path.nova_data_gb(memory_mib),
             timeline['effective_timeout_s'],
             timeline['live_migration_downtime_delay'],
             timeline['effective_step_s']), flush=True)
    cloud = cloud_mod.Cloud()
    try:
        print('bringing the cloud up in %s ...' % cloud.layout.workdir,
              flush=True)
        cloud.up()
        total = len(matrix) * len(chosen)
        # By method, so that the computes restart once per configuration.
        for method in (chosen if matrix else ()):
            driver, options = nova_path.nova_options(
                method, run_cap, args.link, memory_mib)
            print('computes: %s driver, %s' % (driver, ', '.join(
                '%s.%s=%s' % o for o in options) or 'no extra options'),
                flush=True)
            cloud.start_computes(driver, options)
            for w in matrix:
                print('[%d/%d] %s (%s) via %s through nova, cap %.0f s ...'
                      % (len(cases) + 1, total, w.name, w.description,
                         method, run_cap), flush=True)
                cases.append(nova_path.run_case(cloud, w, method, run_cap,
                                                flavor=flavor))
                output.write_json(os.path.join(args.output, 'results.json'),
                                  results)
        if args.faults or args.faults_only:
            def progress(text):
                print(text, flush=True)
                output.write_json(os.path.join(args.output, 'results.json'),
                                  results)
            faults_nova.run_faults(
                cloud, args.fault_runs, QUICK_RUN_CAP_S,
                chosen=args.method or faults_nova.METHODS,
                faults=args.fault, phases=args.fault_phase,
                progress=progress, results=fault_results)
    except cloud_mod.CloudError as exc:
        results['error'] = str(exc)
        # The cases that could not run are failed cases, with the reason.
        for method in chosen:
            for w in matrix:
                if not any(c['workload'] == w.name and c['method'] == method
                           for c in cases):
                    cases.append({'via': 'nova', 'workload': w.name,
                                  'workload_description': w.description,
                                  'method': method, 'error': str(exc),
                                  'observed': {'outcome': 'not run'}})
    finally:
        if not args.keep_cloud:
            cloud.down()
    cases.sort(key=lambda c: ([w.name for w in matrix].index(c['workload']),
                              list(methods.METHODS).index(c['method'])))
    results['wall_seconds'] = time.monotonic() - started
    output.write_json(os.path.join(args.output, 'results.json'), results)
    parts = []
    if cases:
        parts = [output.table(cases), impact_output.table(cases),
                 output.prediction_summary(
                     nova_path.with_report_views(cases))]
        output.plot(os.path.join(args.output, 'results.png'), cases)
    if args.faults or args.faults_only:
        output.write_json(os.path.join(args.output, 'faults.json'),
                          [faults_nova.entry(r) for r in fault_results])
        parts.append(faults_nova.table(fault_results))
    text = '\n\n'.join(parts)
    with open(os.path.join(args.output, 'results.txt'), 'w') as f:
        f.write(text + '\n')
    print('\n' + text)
    print('\nresults in %s (%.0f s)' % (args.output, results['wall_seconds']))
    failed = (results.get('error') or any(c.get('error') for c in cases) or
              not all(f['check']['ok'] for f in fault_results) or
              ((args.faults or args.faults_only) and not fault_results))
    return 1 if failed else 0


def _on_cloud(args, run, on_error):
    """``run(cloud)`` on the cloud, brought up first and down afterwards
    (unless --keep-cloud); a ``CloudError`` goes to ``on_error(exc)``.
    """
    from nova_migtuner.cloud import cloud as cloud_mod

    cloud = cloud_mod.Cloud()
    try:
        print('bringing the cloud up in %s ...' % cloud.layout.workdir,
              flush=True)
        cloud.up()
        run(cloud)
    except cloud_mod.CloudError as exc:
        print('the cloud failed: %s' % exc, file=sys.stderr)
        on_error(exc)
    finally:
        if not args.keep_cloud:
            cloud.down()


def _run_concurrent_nova(args, run_cap):
    """Concurrent migrations through nova's API; see
    bench.concurrency_nova.
    """
    from nova_migtuner.bench import concurrency_nova

    started = time.monotonic()
    rounds = []
    results = {'via': 'nova', 'run_cap_s': run_cap, 'concurrent': rounds,
               'notes': concurrency_nova.__doc__.strip()}

    def progress(text):
        print(text, flush=True)
        output.write_json(os.path.join(args.output, 'results.json'), results)

    def run(cloud):
        concurrency_nova.run_concurrent(cloud, args.concurrent, run_cap,
                                        progress=progress, results=rounds)

    _on_cloud(args, run, lambda exc: results.update(error=str(exc)))
    results['wall_seconds'] = time.monotonic() - started
    output.write_json(os.path.join(args.output, 'results.json'), results)
    text = concurrency_nova.table(rounds)
    with open(os.path.join(args.output, 'results.txt'), 'w') as f:
        f.write(text + '\n')
    print('\n' + text)
    print('\nresults in %s (%.0f s)' % (args.output, results['wall_seconds']))
    failed = (results.get('error') or len(rounds) < len(args.concurrent) or
              any(r.get('error') or r.get('spacing_violations') or
                  r.get('incoming_violations') for r in rounds))
    return 1 if failed else 0


def _run_timing_nova(args, run_cap):
    """The timing runs through nova's API; see bench.timing_nova."""
    from nova_migtuner.bench import nova_path
    from nova_migtuner.cloud import cloud as cloud_mod
    from nova_migtuner.cloud import configs

    started = time.monotonic()
    cases = []
    results = {'via': 'nova', 'run_cap_s': run_cap,
               'link_mib_s': configs.LINK_CAP_MIB_S,
               'guest_memory_mib': cloud_mod.FLAVOR_RAM_MB,
               'quick': args.quick, 'cases': [], 'timing_runs': cases,
               'notes': timing_nova.__doc__.strip()}

    def progress(text):
        print(text, flush=True)
        output.write_json(os.path.join(args.output, 'results.json'), results)

    def run(cloud):
        cases.extend(timing_nova.run_timing(
            cloud, args.timing_runs, run_cap, progress=progress,
            post_copy=args.timing_post_copy))

    _on_cloud(args, run, lambda exc: results.update(error=str(exc)))
    results['wall_seconds'] = time.monotonic() - started
    output.write_json(os.path.join(args.output, 'results.json'), results)
    text = '\n\n'.join([
        timing_nova.summary(cases), impact_output.table(cases),
        output.prediction_summary(nova_path.with_report_views(cases))])
    with open(os.path.join(args.output, 'results.txt'), 'w') as f:
        f.write(text + '\n')
    print('\n' + text)
    print('\nresults in %s (%.0f s)' % (args.output, results['wall_seconds']))
    failed = results.get('error') or any(c.get('error') for c in cases)
    return 1 if failed else 0


def _run(args, bed, run_cap, libvirt):
    started = time.monotonic()
    print('bringing the test bed up in %s ...' % args.workdir, flush=True)
    cases, fault_results, timing_cases = [], [], []
    memory_mib = args.memory or wl_mod.GUEST_MEMORY_MIB
    link_mib_s = args.link or wl_mod.LINK_MIB_S
    results = {'run_cap_s': run_cap, 'link_mib_s': link_mib_s,
               'guest_memory_mib': memory_mib,
               'quick': args.quick, 'cases': cases,
               'faults': fault_results, 'timing_runs': timing_cases,
               'notes': methods.__doc__.strip()}

    def progress(text):
        print(text, flush=True)

    try:
        bed.up()
        if not args.faults_only:
            matrix = chosen_matrix(args)
            chosen = args.method or list(methods.METHODS)
            total = len(matrix) * len(chosen)
            for w in matrix:
                for method in chosen:
                    touched = _touched(cases)
                    touched = (None if touched is None else
                               touched + w.workload.dirty_mib * units.MiB)
                    progress('[%d/%d] %s (%s) via %s, cap %.0f s ...' % (
                        len(cases) + 1, total, w.name, w.description,
                        method, run_cap))
                    case = runs.run_case(bed, w, method, run_cap, touched,
                                         libvirt, progress=progress,
                                         memory_mib=memory_mib,
                                         link_mib_s=link_mib_s)
                    cases.append(case)
                    progress('    %s; heartbeat switch gap %s ms; %s; %s' % (
                        _summary(case), _ms(case['heartbeat']
                                            ['switch_gap_ms']),
                        case['dirty_rate']['text'],
                        impact_output.summary(case.get('impact'))))
                    output.write_json(os.path.join(args.output,
                                                   'results.json'), results)
        if args.timing_runs:
            touched = (_touched(cases) or 60 * units.MiB) + \
                wl_mod.BUFFER_MIB * units.MiB
            timing_cases.extend(timing_runs.run_timing(
                bed, args.timing_runs, run_cap, touched, libvirt,
                progress=progress))
            output.write_json(os.path.join(args.output, 'results.json'),
                              results)
        if args.faults or args.faults_only:
            touched = _touched(cases) or 60 * units.MiB
            for fault in args.fault:
                progress('[fault] %s during pre-copy ...' % fault)
                result = faults_mod.run_fault(bed, fault, QUICK_RUN_CAP_S,
                                              touched + 128 * units.MiB,
                                              libvirt, progress=progress)
                fault_results.append(result)
                progress('    %s: %s; checks %s' % (
                    result['report']['outcome'], result['report']['error'],
                    result['check']))
                output.write_json(os.path.join(args.output,
                                               'results.json'), results)
    finally:
        if not args.keep_bed:
            bed.down()
    results['wall_seconds'] = time.monotonic() - started
    output.write_json(os.path.join(args.output, 'results.json'), results)
    text = ''
    if cases:
        text = output.table(cases) + '\n\n' + impact_output.table(cases)
        output.plot(os.path.join(args.output, 'results.png'), cases)
    if timing_cases:
        text += '\n\n' + timing_runs.summary(timing_cases)
    if cases or timing_cases:
        text += '\n\n' + output.prediction_summary(cases + timing_cases)
    if fault_results:
        text += '\n\n' + output.fault_table(fault_results)
    with open(os.path.join(args.output, 'results.txt'), 'w') as f:
        f.write(text + '\n')
    print('\n' + text)
    print('\nresults in %s (%.0f s)' % (args.output,
                                        results['wall_seconds']))
    failed_faults = [f for f in fault_results if not f['check']['ok']]
    return 1 if failed_faults else 0


def _write_flavors(args, results, started):
    cases = results['cases']
    results['wall_seconds'] = time.monotonic() - started
    output.write_json(os.path.join(args.output, 'results.json'), results)
    text = (flavors_mod.table(cases, results['link_mib_s']) + '\n\n' +
            impact_output.table(cases))
    output.plot(os.path.join(args.output, 'results.png'), cases)
    with open(os.path.join(args.output, 'results.txt'), 'w') as f:
        f.write(text + '\n')
    print('\n' + text)
    print('\nresults in %s (%.0f s)' % (args.output,
                                        results['wall_seconds']))
    return 1 if any(c.get('error') for c in cases) else 0


def _flavor_results(args, via):
    return {'via': via, 'flavors': True, 'run_cap_s': None,
            'link_mib_s': args.link or flavors_mod.LINK_MIB_S,
            'sizes_mib': list(args.sizes), 'cases': [],
            'notes': flavors_mod.__doc__.strip()}


def _run_flavors(args, bed, run_cap, libvirt):
    """The flavor experiment on the bare test bed (see bench.flavors)."""
    started = time.monotonic()
    results = _flavor_results(args, 'engine')
    results['run_cap_s'] = run_cap
    cases = results['cases']
    jobs = flavors_mod.cases_to_run(
        args.sizes, chosen=args.method or flavors_mod.METHODS)
    print('bringing the test bed up in %s ...' % args.workdir, flush=True)
    try:
        bed.up()
        touched = {}
        for n, (size, w, method) in enumerate(jobs):
            print('[%d/%d] %s via %s, link %d MiB/s ...' % (
                n + 1, len(jobs), w.description, flavors_mod.method_label(
                    method, 'engine'), results['link_mib_s']), flush=True)
            case = runs.run_case(bed, w, method, run_cap, touched.get(size),
                                 libvirt, memory_mib=size,
                                 link_mib_s=results['link_mib_s'])
            if case['report']['outcome'] == 'completed':
                # What the guest touched, for the next method's plan.
                touched.setdefault(size, case['report']['memory_bytes'])
            cases.append(case)
            print('    %s; heartbeat switch gap %s ms; %s' % (
                _summary(case), _ms(case['heartbeat']['switch_gap_ms']),
                impact_output.summary(case.get('impact'))), flush=True)
            output.write_json(os.path.join(args.output, 'results.json'),
                              results)
    finally:
        if not args.keep_bed:
            bed.down()
    return _write_flavors(args, results, started)


def _run_flavors_nova(args, run_cap):
    """The flavor experiment through nova's API, a flavor per size."""
    from nova_migtuner.bench import nova_path

    started = time.monotonic()
    results = _flavor_results(args, 'nova')
    results['run_cap_s'] = run_cap
    cases = results['cases']
    chosen = args.method or flavors_mod.METHODS

    def run(cloud):
        # By method, so that the computes restart once per configuration
        # (the timeline only changes above 2 GiB).
        for method in chosen:
            for size, w, _ in flavors_mod.cases_to_run(args.sizes,
                                                       chosen=(method,)):
                driver, options = nova_path.nova_options(
                    method, run_cap, results['link_mib_s'], size)
                cloud.start_computes(driver, options)
                print('[%d/%d] %s via %s through nova ...' % (
                    len(cases) + 1, len(chosen) * len(args.sizes),
                    w.description, method), flush=True)
                cases.append(nova_path.run_case(
                    cloud, w, method, run_cap,
                    flavor=(nova_path.flavor_name(size), size)))
                output.write_json(os.path.join(args.output, 'results.json'),
                                  results)

    def not_run(exc):
        cases.append({'via': 'nova', 'workload': 'flavors', 'method': '-',
                      'guest_memory_mib': 0, 'error': str(exc),
                      'observed': {'outcome': 'not run'}})

    _on_cloud(args, run, not_run)
    return _write_flavors(args, results, started)


def _summary(case):
    r = case['report']
    parts = [r['outcome'], '%.1f s' % (r['total_seconds'] or 0)]
    if r['downtime_ms'] is not None:
        parts.append('downtime %d ms' % r['downtime_ms'])
    if r['data_bytes']:
        parts.append('%.0f MiB' % (r['data_bytes'] / units.MiB))
    if r['error']:
        parts.append(r['error'][:120])
    return ', '.join(parts)


def _ms(value):
    return '-' if value is None else '%.0f' % value


if __name__ == '__main__':
    sys.exit(main())
