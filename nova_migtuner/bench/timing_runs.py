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

"""Timing into quiet windows against starting at once (``--timing-runs``).

The ``bursty-quiet`` workload is migrated by the migtuner plan in two
ways, with the post-copy permission on and off, N runs each:

* ``at-once``: one 1 s dirty-rate sample, plan, start;
* ``quiet-window``: ``SAMPLING_S`` of 1 s samples, plan, and wait (at most
  ``MAX_DEFERRAL_S``) for the quiet window the plan's timing forecasts
  (``engine.dirtyrate.wait_for_quiet_window``), then start.

Run *i* of each way waits ``i x cycle / N`` s after boot before it
measures, so that the runs start in every phase of the workload and both
ways see the same phases.
"""

import time

from nova_migtuner.bench import methods
from nova_migtuner.bench import runs
from nova_migtuner.bench import workloads as wl_mod
from nova_migtuner.engine import dirtyrate
from nova_migtuner import units

AT_ONCE = 'at-once'
QUIET_WINDOW = 'quiet-window'
TIMINGS = (AT_ONCE, QUIET_WINDOW)
SAMPLING_S = 30
MAX_DEFERRAL_S = 40


def timing_plan(timing, libvirt, memory, run_cap_s, touched, permit_post_copy,
                mode):
    """A ``runs.run_case`` ``plan_for`` for *timing*."""
    def plan_for(dom, rate, cpu_load):
        def replan(samples):
            return methods.migtuner_plan(
                libvirt, memory, run_cap_s,
                samples[-1].bytes_per_second if samples
                else rate.bytes_per_second,
                touched, wl_mod.LINK_MIB_S,
                permit_post_copy=permit_post_copy,
                dirty_rate_samples=samples,
                max_deferral_s=MAX_DEFERRAL_S, guest_cpu_load=cpu_load,
                working_set=runs.working_set_of(wl_mod.bursty_quiet()))[0]

        started = time.monotonic()
        samples, waited = (), 0.0
        if timing == QUIET_WINDOW:
            samples = dirtyrate.sample_dirty_rates(
                dom, SAMPLING_S, libvirt_module=libvirt, mode=mode)
            plan, samples, waited = dirtyrate.wait_for_quiet_window(
                dom, samples, replan, MAX_DEFERRAL_S, SAMPLING_S,
                libvirt_module=libvirt, mode=mode)
        else:
            plan = replan(())
        base = (libvirt.VIR_MIGRATE_PEER2PEER |
                libvirt.VIR_MIGRATE_PERSIST_DEST)
        return plan, base, {
            'timing': {'way': timing, 'permit_post_copy': permit_post_copy,
                       'sampling_s': SAMPLING_S if samples else 0,
                       'waited_s': round(waited, 2),
                       'decided_after_s': round(time.monotonic() - started,
                                                2),
                       'decision': plan.timing.to_dict(),
                       'samples_mib_s': [
                           round(x.bytes_per_second / units.MiB, 1)
                           for x in samples]}}
    return plan_for


def run_timing(bed, n_runs, run_cap_s, touched, libvirt, progress=print,
               mode=dirtyrate.MODE_PAGE_SAMPLING):
    """``n_runs`` of each timing, post-copy permitted and not."""
    w = wl_mod.bursty_quiet()
    cycle = w.workload.burst_on_s + w.workload.burst_off_s
    memory = wl_mod.GUEST_MEMORY_MIB * units.MiB
    cases = []
    total = 2 * len(TIMINGS) * n_runs
    for permit_post_copy in (True, False):
        for i in range(n_runs):
            offset = i * cycle / n_runs
            for timing in TIMINGS:
                progress('[timing %d/%d] %s, post-copy %s, run %d (offset '
                         '%.0f s) ...' % (len(cases) + 1, total, timing,
                                          'permitted' if permit_post_copy
                                          else 'forbidden', i + 1, offset))
                case = runs.run_case(
                    bed, w, methods.MIGTUNER, run_cap_s, touched, libvirt,
                    progress=progress, start_offset_s=offset,
                    guest_name='bench-timing', dirty_rate_mode=mode,
                    plan_for=timing_plan(timing, libvirt, memory, run_cap_s,
                                         touched, permit_post_copy, mode))
                case['timing']['run'] = i + 1
                case['timing']['offset_s'] = offset
                cases.append(case)
                r = case['report']
                progress('    %s, %.1f s, %.0f MiB, waited %.0f s: %s' % (
                    r['outcome'], r['total_seconds'] or 0,
                    (r['data_bytes'] or 0) / units.MiB,
                    case['timing']['waited_s'],
                    case['timing']['decision']['reason'][:160]))
    return cases


def _mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def summary(cases):
    """Per (post-copy, timing): mean time, bytes, wait; and the savings."""
    rows = {}
    for c in cases:
        t = c['timing']
        key = (t['permit_post_copy'], t['way'])
        rows.setdefault(key, []).append(c)
    lines = ['post-copy  timing        runs  completed  mean s  mean MiB  '
             'mean wait s  heartbeat max gap ms']
    means = {}
    for (post, way), group in sorted(rows.items(), reverse=True):
        secs = _mean([c['report']['total_seconds'] for c in group])
        mib = _mean([(c['report']['data_bytes'] or 0) / units.MiB
                     for c in group])
        wait = _mean([c['timing']['waited_s'] for c in group])
        gap = _mean([c['heartbeat_longest_gap_ms'] for c in group])
        done = sum(1 for c in group
                   if c['report']['outcome'] == 'completed')
        means[(post, way)] = (secs, mib)
        lines.append('%-10s %-13s %4d  %9d  %6.1f  %8.0f  %11.1f  %s' % (
            'on' if post else 'off', way, len(group), done, secs or 0,
            mib or 0, wait or 0, '-' if gap is None else '%.0f' % gap))
    for post in (True, False):
        a, q = means.get((post, AT_ONCE)), means.get((post, QUIET_WINDOW))
        if a and q and a[0] and a[1]:
            lines.append('post-copy %s: quiet-window takes %.0f %% less time '
                         'and %.0f %% fewer bytes than at-once' % (
                             'on' if post else 'off',
                             100 * (1 - q[0] / a[0]),
                             100 * (1 - q[1] / a[1])))
    return '\n'.join(lines)
