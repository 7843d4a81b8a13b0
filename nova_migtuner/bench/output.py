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

"""Bench output: the text table, the JSON file and the PNG plot."""

import json

from nova_migtuner.bench import impact_output
from nova_migtuner.bench import methods

MiB = 1024.0 ** 2

COLUMNS = ('workload', 'method', 'outcome', 'total s', 'downtime ms',
           'heartbeat ms', 'data MiB', 'iter', 'thr %', 'escalations',
           'predicted s', 'pred err')


def _fmt(value, pattern='%.1f'):
    return '-' if value is None else pattern % value


def row(case):
    r = case['report']
    hb = case['heartbeat']
    escalations = ','.join(
        '%s@%.0fs' % ({'raise_downtime': 'dt%s' % e['downtime_ms'],
                       'post_copy': 'postcopy'}.get(e['kind'], e['kind']),
                      e['elapsed_s'])
        for e in r['escalations']) or '-'
    predicted = r['predicted_total_seconds']
    err = r['total_seconds_error']
    return (case['workload'], case['method'], r['outcome'],
            _fmt(r['total_seconds']), _fmt(r['downtime_ms'], '%d'),
            _fmt(hb['switch_gap_ms'], '%.0f'),
            _fmt(r['data_bytes'] and r['data_bytes'] / MiB, '%.0f'),
            _fmt(r['iterations'], '%d'),
            _fmt(r['auto_converge_throttle'], '%d'), escalations,
            _fmt(predicted) if case['method'] == methods.MIGTUNER else '-',
            _fmt(err and err * 100, '%+.0f%%')
            if case['method'] == methods.MIGTUNER else '-')


NOVA_COLUMNS = ('workload', 'method', 'outcome', 'total s', 'downtime ms',
                'heartbeat ms', 'data MiB', 'iter', 'thr %', 'API s',
                '.end bytes diff')


def nova_row(case):
    """A row of the nova path: the observer's numbers."""
    o = case['observed']
    diff = (case.get('difference') or {}).get('data_bytes_pct')
    outcome = o['outcome'] if not case.get('error') else 'failed: %s' % (
        case['error'][:60])
    return (case['workload'], case['method'], outcome,
            _fmt(o.get('total_time_s')), _fmt(o.get('downtime_ms'), '%d'),
            _fmt(o.get('heartbeat_switch_gap_ms'), '%.0f'),
            _fmt(o.get('data_bytes') and o['data_bytes'] / MiB, '%.0f'),
            _fmt(o.get('iterations'), '%d'),
            _fmt(o.get('auto_converge_throttle') or None, '%d'),
            _fmt(o.get('api_wall_s')),
            _fmt(diff, '%+.1f%%') if case['method'] == methods.MIGTUNER
            else '-')


def table(cases):
    if cases and cases[0].get('via') == 'nova':
        columns, rows = NOVA_COLUMNS, [nova_row(c) for c in cases]
    else:
        columns, rows = COLUMNS, [row(c) for c in cases]
    rows = [columns] + rows
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(columns))]
    lines = []
    for n, r in enumerate(rows):
        lines.append('  '.join(str(v).ljust(w) for v, w in zip(r, widths)))
        if n == 0:
            lines.append('  '.join('-' * w for w in widths))
    return '\n'.join(lines)


def fault_table(faults):
    lines = ['fault                 outcome   ok    error']
    for f in faults:
        lines.append('%-21s %-9s %-5s %s' % (
            f['fault'], f['report']['outcome'], f['check']['ok'],
            (f['report']['error'] or '')[:150]))
    return '\n'.join(lines)


def write_json(path, data):
    with open(path, 'w') as f:
        json.dump(data, f, indent=1, sort_keys=True, default=str)


def _numbers(case):
    """(outcome, total seconds, data bytes) of an engine or nova case."""
    if case.get('via') == 'nova':
        o = case['observed']
        return o['outcome'], o.get('total_time_s'), o.get('data_bytes')
    r = case['report']
    return r['outcome'], r['total_seconds'], r['data_bytes']


def plot(path, cases):
    """Bytes and time per workload and method; remaining bytes and the
    application's throughput over time.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    workloads = []
    for c in cases:
        if c['workload'] not in workloads:
            workloads.append(c['workload'])
    by_key = {(c['workload'], c['method']): c for c in cases}
    colours = {methods.STOCK: '#999999', methods.NOVA_BEST: '#4477aa',
               methods.MIGTUNER: '#ee6677'}
    ncols = max(2, len(workloads))
    fig = plt.figure(figsize=(4 * ncols, 12))
    grid = fig.add_gridspec(3, ncols)
    ax_bytes = fig.add_subplot(grid[0, :ncols // 2])
    ax_time = fig.add_subplot(grid[0, ncols // 2:])
    width = 0.8 / len(methods.METHODS)
    for i, method in enumerate(methods.METHODS):
        xs, data, secs, hatches = [], [], [], []
        for j, w in enumerate(workloads):
            c = by_key.get((w, method))
            if c is None:
                continue
            outcome, seconds, data_bytes = _numbers(c)
            xs.append(j + (i - 1) * width)
            data.append((data_bytes or 0) / MiB)
            secs.append(seconds or 0)
            hatches.append('' if outcome == 'completed' else '//')
        for ax, values in ((ax_bytes, data), (ax_time, secs)):
            bars = ax.bar(xs, values, width, label=method,
                          color=colours[method])
            for bar, hatch in zip(bars, hatches):
                bar.set_hatch(hatch)
    for ax, title in ((ax_bytes, 'data sent (MiB)'),
                      (ax_time, 'total time (s)')):
        ax.set_xticks(range(len(workloads)))
        ax.set_xticklabels(workloads, rotation=15)
        ax.set_title(title + '; hatched = did not complete')
        ax.legend(fontsize=8)
    for j, w in enumerate(workloads):
        ax = fig.add_subplot(grid[1, j])
        for method in methods.METHODS:
            c = by_key.get((w, method))
            if c is None or not c.get('remaining_series'):
                continue
            t, rem = zip(*c['remaining_series'])
            ax.plot(t, [v / MiB for v in rem], label=method,
                    color=colours[method], linewidth=1)
        ax.set_title('%s: remaining MiB' % w, fontsize=9)
        ax.set_xlabel('s')
        if j == 0:
            ax.legend(fontsize=7)
        impact_output.panel(
            fig.add_subplot(grid[2, j]), w,
            [by_key[(w, m)] for m in methods.METHODS if (w, m) in by_key],
            colours)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _errors(cases, measured_key, predicted_key):
    out = []
    for c in cases:
        r = c['report']
        measured, predicted = r.get(measured_key), r.get(predicted_key)
        if measured is not None and predicted:
            out.append((measured - predicted) / float(predicted))
    return out


PREDICTED = (('time', 'total_seconds', 'predicted_total_seconds'),
             ('bytes', 'data_bytes', 'predicted_bytes'),
             ('downtime', 'downtime_ms', 'predicted_downtime_ms'))


def prediction_summary(cases, tolerance=0.15):
    """The model's errors, (measured - predicted) / predicted, per workload
    and over every completed run planned by the migtuner planner that was
    predicted to complete: each run's error, the mean absolute and the
    worst, and the runs outside +/- *tolerance* on time or bytes.
    """
    judged = [c for c in cases
              if c['method'] == methods.MIGTUNER and
              c['report']['outcome'] == 'completed' and
              c['report']['predicted_converges']]
    # The first idle run measures the touched memory the others plan with.
    unknown = [c for c in judged if c.get('touched_bytes', 0) is None]
    judged = [c for c in judged if c not in unknown]
    if not judged:
        return 'prediction errors: no completed migtuner run to judge'
    lines = ['prediction errors, (measured - predicted) / predicted, over '
             '%d completed migtuner runs%s:' % (
                 len(judged), '' if not unknown else
                 ' (%d left out: planned before the touched memory was '
                 'measured)' % len(unknown))]
    workloads = []
    for c in judged:
        if c['workload'] not in workloads:
            workloads.append(c['workload'])
    for w in workloads:
        group = [c for c in judged if c['workload'] == w]
        parts = []
        for name, measured, predicted in PREDICTED:
            errs = _errors(group, measured, predicted)
            parts.append('%s %s' % (name, ' '.join(
                '%+.0f%%' % (e * 100) for e in errs) or '-'))
        lines.append('  %-14s %s' % (w, '; '.join(parts)))
    outside = 0
    for name, measured, predicted in PREDICTED:
        errs = _errors(judged, measured, predicted)
        if not errs:
            lines.append('  all %-9s -' % name)
            continue
        worst = max(errs, key=abs)
        lines.append('  all %-9s mean |err| %.1f %%, worst %+.1f %% (%d runs)'
                     % (name, 100 * sum(abs(e) for e in errs) / len(errs),
                        100 * worst, len(errs)))
    for c in judged:
        if any(abs(e) > tolerance for e in
               _errors([c], 'total_seconds', 'predicted_total_seconds') +
               _errors([c], 'data_bytes', 'predicted_bytes')):
            outside += 1
    lines.append('  %d of %d runs outside +/-%.0f %% on time or bytes'
                 % (outside, len(judged), tolerance * 100))
    return '\n'.join(lines)
