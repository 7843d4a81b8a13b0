#!/usr/bin/env python3
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

"""Print how long building one migration plan takes (target: < 5 ms).

Builds plans for a spread of guests (idle to dirtying 3x the link, 512 MiB
to 1 TiB, with and without post-copy) with every installed strategy and
prints per-strategy mean, median, 99th percentile and worst time. Run with
the project venv: .venv/bin/python tools/bench_planner.py [--repeat N]
"""

import argparse
import statistics
import time

from nova_migtuner.planning import context as ctx
from nova_migtuner.planning import planner
from nova_migtuner import units

TARGET_MS = 5.0


def contexts():
    link = 110e6
    for memory_gib in (0.5, 2, 8, 32, 128, 1024):
        for dirty_ratio in (0.0, 0.1, 0.5, 0.9, 1.5, 3.0):
            for post_copy in (False, True):
                yield ctx.MigrationInputs(
                    memory_bytes=int(memory_gib * units.GiB),
                    link_bandwidth=link, dirty_rate=dirty_ratio * link,
                    touched_bytes=int(memory_gib * units.GiB * 0.85),
                    limits=ctx.AdminLimits(permit_post_copy=post_copy,
                                           permit_pause=True))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=20,
                        help='builds of each (strategy, context) pair')
    args = parser.parse_args(argv)
    cases = list(contexts())
    print('%-14s %8s %8s %8s %8s %8s' % ('strategy', 'plans', 'mean ms',
                                         'p50 ms', 'p99 ms', 'max ms'))
    worst_p99 = 0.0
    for name in planner.available_strategies():
        samples = []
        for c in cases:
            for _ in range(args.repeat):
                start = time.perf_counter()
                planner.build_plan(c, operator_strategy=name)
                samples.append((time.perf_counter() - start) * 1000.0)
        samples.sort()
        p99 = samples[int(len(samples) * 0.99) - 1]
        worst_p99 = max(worst_p99, p99)
        print('%-14s %8d %8.3f %8.3f %8.3f %8.3f' % (
            name, len(samples), statistics.fmean(samples),
            statistics.median(samples), p99, samples[-1]))
    verdict = 'within' if worst_p99 < TARGET_MS else 'ABOVE'
    print('worst p99 %.3f ms: %s the %.0f ms target' % (worst_p99, verdict,
                                                        TARGET_MS))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
