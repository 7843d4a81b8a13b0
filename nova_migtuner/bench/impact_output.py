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

"""The application impact in the bench's text and plot."""

from nova_migtuner.bench import impact as impact_mod

COLUMNS = ('workload', 'method', 'work', 'normal /s', 'work lost s',
           'slowest 1 s', 'p99 gap ms', 'max gap ms', 'window s')
STYLES = (('start_s', '--', 'start'), ('switch_s', ':', 'switch-over'),
          ('end_s', '-.', 'end'))


def _fmt(value, pattern):
    return '-' if value is None else pattern % value


def row(case):
    i = case.get('impact') or {}
    return (case['workload'], case['method'], i.get('unit') or '-',
            _fmt(i.get('normal_rate_per_s'), '%.0f'),
            _fmt(i.get('work_lost_s'), '%.2f'),
            _fmt(None if i.get('slowest_1s_fraction') is None else
                 i['slowest_1s_fraction'] * 100, '%.0f%%'),
            _fmt(i.get('p99_request_gap_ms'), '%.0f'),
            _fmt(i.get('max_request_gap_ms'), '%.0f'),
            _fmt(i.get('window_s'), '%.1f') + (
                '' if i.get('window_covered', True) else ' (short)'))


def table(cases):
    """The work-lost table: one row per case."""
    rows = [COLUMNS] + [row(c) for c in cases]
    widths = [max(len(str(r[n])) for r in rows) for n in range(len(COLUMNS))]
    lines = ['application impact, from %.0f s before the migration (normal '
             'rate) to %.0f s after its end; work: pages dirtied or requests '
             'completed' % (impact_mod.BASELINE_S, impact_mod.AFTER_END_S)]
    for n, r in enumerate(rows):
        lines.append('  '.join(str(v).ljust(w) for v, w in zip(r, widths)))
        if n == 0:
            lines.append('  '.join('-' * w for w in widths))
    return '\n'.join(lines)


def panel(ax, workload, cases, colours):
    """Throughput over time of one workload, one line per method, the
    migration's start, switch-over and end marked in the method's colour.
    """
    drawn = False
    for case in cases:
        series = case.get('throughput_series')
        if not series:
            continue
        colour = colours.get(case['method'])
        t, fraction = zip(*series)
        ax.plot(t, [100 * f for f in fraction], color=colour, linewidth=1,
                label=case['method'])
        for key, style, _ in STYLES:
            at = (case.get('markers') or {}).get(key)
            if at is not None:
                ax.axvline(at, color=colour, linestyle=style, linewidth=0.8)
        drawn = True
    unit = next(((c.get('impact') or {}).get('unit') for c in cases
                 if (c.get('impact') or {}).get('unit')), None)
    ax.set_title('%s: %s, %% of normal' % (workload, unit or 'no work'),
                 fontsize=9)
    ax.set_xlabel('s since start (-- start, : switch-over, -. end)',
                  fontsize=7)
    ax.set_ylim(bottom=0)
    if drawn:
        ax.legend(fontsize=7)


def summary(impact):
    """One line of a case's impact, for the progress output."""
    impact = impact or {}
    if impact.get('work_lost_s') is None:
        return 'work lost: not measured'
    slowest = impact.get('slowest_1s_fraction')
    return ('work lost %.2f s (%s), slowest 1 s %s, request gap p99 %s '
            'max %s ms' % (impact['work_lost_s'], impact.get('unit'),
                           _fmt(None if slowest is None else 100 * slowest,
                                '%.0f%%'),
                           _fmt(impact.get('p99_request_gap_ms'), '%.0f'),
                           _fmt(impact.get('max_request_gap_ms'), '%.0f')))
