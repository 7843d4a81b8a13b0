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

"""Timing into quiet windows through nova (``--timing-runs N``).

The ``bursty-quiet`` workload is live-migrated through the nova API with
``MigTunerDriver`` in both computes, configured two ways, each with nova's
post-copy permission on and off:

* ``at-once``: ``[migtuner] quiet_window_sampling_s = 0`` and
  ``max_deferral_s = 0``: the driver takes its one dirty-rate sample,
  plans and starts;
* ``quiet-window``: ``quiet_window_sampling_s = SAMPLING_S`` and
  ``max_deferral_s = MAX_DEFERRAL_S``: the driver samples the guest's
  dirty rate, and waits for the quiet period its plan forecasts.

Run *i* of each configuration is asked for ``i x cycle / N`` s after the
guest's workload is up, so that the runs start in every phase of the
bursts. The observer measures every run as it measures the matrix
(``bench.nova_path``); the wait comes from the ``.end`` notification
(``waited_s``) and, from outside, as the time from the API call to the
job's first poll (``start_delay_s``, which also holds nova's own
scheduling and pre-checks and the sampling).
"""

from nova_migtuner.bench import methods
from nova_migtuner.bench import nova_path
from nova_migtuner.bench import timing_runs
from nova_migtuner.bench import workloads as wl_mod

SAMPLING_S = timing_runs.SAMPLING_S
MAX_DEFERRAL_S = timing_runs.MAX_DEFERRAL_S
PERMITTED, FORBIDDEN = 'permitted', 'forbidden'
# nova's [libvirt] live_migration_permit_post_copy, as --timing-post-copy
# names it.
POST_COPY_CHOICES = (PERMITTED, FORBIDDEN)


def compute_options(timing, permit_post_copy):
    """The ``[libvirt]`` and ``[migtuner]`` options of the computes for
    one way of timing, post-copy permitted or not.
    """
    if timing not in timing_runs.TIMINGS:
        raise ValueError('timing %r is invalid: expected one of %s'
                         % (timing, ', '.join(timing_runs.TIMINGS)))
    sampling, deferral = ((SAMPLING_S, MAX_DEFERRAL_S)
                          if timing == timing_runs.QUIET_WINDOW else (0, 0))
    return [('libvirt', 'live_migration_permit_post_copy',
             str(bool(permit_post_copy)).lower()),
            ('migtuner', 'quiet_window_sampling_s', str(sampling)),
            ('migtuner', 'max_deferral_s', str(deferral))]


def run_timing(cloud, n_runs, run_cap_s, progress=print,
               post_copy=POST_COPY_CHOICES):
    """``n_runs`` of each timing, with nova's post-copy permission as each
    of *post_copy* says, through nova; the cases in
    ``nova_path.run_case``'s form with a ``timing`` entry.
    """
    unknown = [p for p in post_copy if p not in POST_COPY_CHOICES]
    if unknown or not post_copy:
        raise ValueError('post-copy %s is invalid: expected some of %s'
                         % (', '.join(unknown) or 'none',
                            ', '.join(POST_COPY_CHOICES)))
    w = wl_mod.bursty_quiet()
    cycle = w.workload.burst_on_s + w.workload.burst_off_s
    cases = []
    total = len(post_copy) * len(timing_runs.TIMINGS) * n_runs
    # By configuration, so that the computes restart once for each.
    for permit_post_copy in [p == PERMITTED for p in POST_COPY_CHOICES
                             if p in post_copy]:
        for timing in timing_runs.TIMINGS:
            options = compute_options(timing, permit_post_copy)
            progress('computes: migtuner driver, %s' % ', '.join(
                '%s.%s=%s' % o for o in options))
            cloud.start_computes('migtuner', options)
            for i in range(n_runs):
                offset = i * cycle / n_runs
                progress('[timing %d/%d] %s through nova, post-copy %s, '
                         'run %d (asked for %.0f s after the workload is '
                         'up) ...' % (len(cases) + 1, total, timing,
                                      'permitted' if permit_post_copy
                                      else 'forbidden', i + 1, offset))
                case = nova_path.run_case(
                    cloud, w, methods.MIGTUNER, run_cap_s, progress=progress,
                    start_offset_s=offset,
                    planning_s=SAMPLING_S + MAX_DEFERRAL_S)
                end = case.get('notification') or {}
                case['timing'] = {
                    'way': timing, 'permit_post_copy': permit_post_copy,
                    'run': i + 1, 'offset_s': offset,
                    'sampling_s': (SAMPLING_S if timing ==
                                   timing_runs.QUIET_WINDOW else 0),
                    'waited_s': end.get('waited_s'),
                    'start_delay_s': (case.get('observed') or {}).get(
                        'start_delay_s'),
                    'compute_options': options}
                cases.append(case)
    return cases


def summary(cases):
    """``timing_runs.summary`` of nova-path timing cases."""
    return timing_runs.summary(nova_path.with_report_views(cases))
