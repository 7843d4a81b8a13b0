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

"""Run one bench case (workload x method) on the test bed and measure it."""

import logging
import time

from nova_migtuner.bench import impact as impact_mod
from nova_migtuner.bench import methods
from nova_migtuner.bench import traffic as traffic_mod
from nova_migtuner.bench import workloads as wl_mod
from nova_migtuner.engine import dirtyrate
from nova_migtuner.engine import measure
from nova_migtuner.engine import runner
from nova_migtuner.testbed import heartbeat
from nova_migtuner import units

LOG = logging.getLogger(__name__)

SOURCE, DEST = 'a', 'b'
# Page sampling hashes about 512 pages per GiB: over 1 s a guest dirtying
# 16 MiB/s of 256 MiB changes ~8 sampled pages (+/- 35 %); 3 s triples
# the count.
DIRTY_RATE_PERIOD_S = 3
MONITOR_INTERVAL_S = 0.5
# Beyond the window itself: progress lines arrive a little after the host
# time they stand for.
PROGRESS_WAIT_MARGIN_S = 0.5
PROGRESS_TIMEOUT_S = 15.0


def wait_for_progress(probe, workload, since, until,
                      timeout_s=PROGRESS_TIMEOUT_S):
    """Wait until the probe has progress lines from ``since`` (or earlier)
    to ``until`` (host monotonic times), or ``timeout_s`` has passed;
    return whether they cover it.

    Before a migration this is the baseline of the normal rate; after it,
    the recovery the application impact counts. A workload without
    progress lines has nothing to wait for.
    """
    if not workload.progress_ms:
        return False
    deadline = time.monotonic() + timeout_s
    while True:
        lines = probe.progress()
        if lines and lines[0].time <= since and lines[-1].time >= until:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def heartbeat_downtime(samples, source=SOURCE, dest=DEST):
    """Downtime as the heartbeat saw it.

    ``switch_gap_ms``: from the last heartbeat on the source to the first
    on the destination (the switch-over, as an outside observer saw it);
    None if the guest never beat on the destination.
    ``longest_source_gap_ms``: the longest silence while still on the
    source (auto-converge throttling and pauses show up here).
    """
    ordered = sorted(samples, key=lambda s: s.time)
    first_dest = next((s for s in ordered if s.host == dest), None)
    on_source = [s for s in ordered if s.host == source and (
        first_dest is None or s.time <= first_dest.time)]
    switch = heartbeat.switch_gap_ms(ordered, source, dest)
    gaps = [(b.time - a.time) * 1000.0
            for a, b in zip(on_source, on_source[1:])]
    return {'switch_gap_ms': switch,
            'longest_source_gap_ms': max(gaps) if gaps else None,
            'beats_source': len(on_source),
            'beats_dest': sum(1 for s in ordered if s.host == dest)}


def working_set_of(bench_workload):
    """The workload's buffer (bytes) for a dirtying workload, else None."""
    w = bench_workload.workload
    if w.kind == 'idle':
        return None
    return w.dirty_mib * units.MiB


def measure_guest(dom, libvirt, mode=dirtyrate.MODE_PAGE_SAMPLING):
    """``(DirtyRateMeasurement, guest CPU load or None)`` over one period.

    The guest's CPU time around the dirty-rate period says how much of its
    vCPU its dirtying needs (how much auto-converge's throttle slows it).
    """
    try:
        info0, t0 = dom.info(), time.monotonic()
    except libvirt.libvirtError:
        info0 = None
    rate = dirtyrate.measure_dirty_rate(dom, DIRTY_RATE_PERIOD_S,
                                        libvirt_module=libvirt, mode=mode)
    load = None
    if info0 is not None:
        try:
            info1 = dom.info()
            load = measure.guest_cpu_load_from(
                info0[4], info1[4], time.monotonic() - t0, info1[3])
        except libvirt.libvirtError:
            pass
    return rate, load


def run_case(bed, bench_workload, method, run_cap_s, touched, libvirt,
             progress=print, guest_name=None, plan_for=None,
             start_offset_s=0.0,
             dirty_rate_mode=dirtyrate.MODE_PAGE_SAMPLING, memory_mib=None,
             link_mib_s=None):
    """Boot, measure the dirty rate, plan, migrate, measure; return a dict.

    :param plan_for: ``plan_for(dom, rate, guest_cpu_load) -> (plan,
        base_flags, extra)`` in place of the method's own plan; *extra* is
        added to the result.
    :param start_offset_s: wait this long after boot before measuring
        (puts a bursty workload in another phase).
    :param dirty_rate_mode: ``engine.dirtyrate`` ``MODE_*``.
    :param memory_mib: the guest's memory (default the bench's guest).
    :param link_mib_s: the link cap the plan is made for (default the
        bench's).

    The guest is destroyed afterwards on both hosts, whatever happened.
    """
    name = guest_name or 'bench-%s-%s' % (bench_workload.name, method)
    bed.destroy_guest(name)
    memory_mib = memory_mib or wl_mod.GUEST_MEMORY_MIB
    link_mib_s = link_mib_s or wl_mod.LINK_MIB_S
    memory = memory_mib * units.MiB
    probe = None
    try:
        dom = bed.boot_guest(name, host=SOURCE,
                             memory_mib=memory_mib,
                             workload=bench_workload.workload)
        if start_offset_s > 0:
            time.sleep(start_offset_s)
        # Started before the dirty rate is measured, so that the normal
        # rate's baseline is there when the migration starts.
        probe = bed.heartbeat_probe(name).start()
        rate, cpu_load = measure_guest(dom, libvirt, dirty_rate_mode)
        extra = {}
        if plan_for is not None:
            plan, base, extra = plan_for(dom, rate, cpu_load)
        else:
            plan, base = methods.build(
                method, libvirt, memory, run_cap_s, rate.bytes_per_second,
                touched, link_mib_s, guest_cpu_load=cpu_load,
                working_set=working_set_of(bench_workload))
        series = []
        started = []

        def on_sample(sample):
            # Iteration 0 is libvirt's setup (remaining reads 0).
            if (sample.active and sample.remaining_bytes is not None and
                    sample.memory_iteration != 0):
                if not started:
                    started.append(sample.taken_at)
                series.append((round(sample.taken_at - started[0], 2),
                               sample.remaining_bytes))

        def on_escalation(action):
            progress('    %s' % action.describe())

        now = time.monotonic()
        wait_for_progress(probe, bench_workload.workload,
                          now - impact_mod.BASELINE_S, now)
        mig = runner.LibvirtMigration(
            dom, plan, bed.uri(DEST), bed.migration_uri(DEST),
            base_flags=base, monitor_interval_s=MONITOR_INTERVAL_S,
            on_sample=on_sample, on_escalation=on_escalation,
            libvirt_module=libvirt)
        traffic = traffic_mod.QemuTraffic(
            lambda host: traffic_mod.qemu_pid(bed.hosts[host], name), SOURCE,
            DEST, dest_ports=bed.hosts[DEST].migration_ports).start()
        started_at = time.monotonic()
        try:
            result = mig.run()
        finally:
            ended_at = time.monotonic()
            moved = traffic.stop()
        # Beats where the guest now runs give the switch-over gap its end;
        # the progress lines after the end, the application's recovery.
        probe.wait_for_beats(bed.host_of(name))
        wait_for_progress(probe, bench_workload.workload, started_at,
                          ended_at +
                          impact_mod.AFTER_END_S + PROGRESS_WAIT_MARGIN_S)
        probe.stop()
        # The downtime figures count from the start, as before the probe
        # started early for the baseline.
        beats = [b for b in probe.samples() if b.time >= started_at]
        beat = heartbeat.summarize(beats, started_at, time.monotonic())
        app = impact_mod.application_impact(
            probe.progress(), probe.samples(),
            impact_mod.unit_for(bench_workload.workload), started_at,
            ended_at, SOURCE, DEST)
        return dict(app, **dict(extra, **{
            'workload': bench_workload.name,
            'workload_description': bench_workload.description,
            'method': method,
            'dirty_rate': {'bytes_per_second': rate.bytes_per_second,
                           'text': rate.describe()},
            'guest_cpu_load': cpu_load,
            'touched_bytes': touched,
            'plan': plan.to_dict(),
            'report': result.to_dict(),
            'heartbeat': heartbeat_downtime(beats),
            'heartbeat_longest_gap_ms': beat.longest_gap_ms,
            'guest_host_after': bed.host_of(name),
            'remaining_series': series,
            'guest_memory_mib': memory_mib,
            'link_mib_s': link_mib_s,
            'traffic': moved,
        }))
    finally:
        if probe is not None and probe.result is None:
            probe.stop()
        bed.destroy_guest(name)
