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

"""The bench's prediction-error and timing summaries."""

import argparse

import pytest

from nova_migtuner.bench import cli
from nova_migtuner.bench import output
from nova_migtuner.bench import timing_runs

MiB = 1024 ** 2


def case(workload, secs, pred_secs, mib, pred_mib, down=None,
         pred_down=None, method='migtuner', outcome='completed',
         timing=None):
    c = {'workload': workload, 'method': method,
         'heartbeat_longest_gap_ms': 10.0,
         'report': {'outcome': outcome, 'total_seconds': secs,
                    'predicted_total_seconds': pred_secs,
                    'data_bytes': mib * MiB,
                    'predicted_bytes': pred_mib * MiB,
                    'downtime_ms': down, 'predicted_downtime_ms': pred_down,
                    'predicted_converges': True}}
    if timing:
        c['timing'] = timing
    return c


def test_prediction_summary_per_workload_mean_and_worst():
    text = output.prediction_summary([
        case('idle', 4.4, 4.0, 110, 100, 40, 50),
        case('dirty-0.5x', 12.0, 15.0, 360, 300),
        case('dirty-2x', 90, 10, 3000, 300, method='stock-nova'),
        case('dirty-3x', 90, 10, 3000, 300, outcome='aborted'),
        dict(case('idle', 4.3, 8.0, 119, 256), touched_bytes=None),
    ])
    assert '(1 left out: planned before the touched memory' in text
    assert 'over 2 completed migtuner runs' in text
    assert 'idle           time +10%; bytes +10%; downtime -20%' in text
    assert 'dirty-0.5x     time -20%; bytes +20%; downtime -' in text
    assert 'all time      mean |err| 15.0 %, worst -20.0 % (2 runs)' in text
    assert '1 of 2 runs outside +/-15 %' in text
    assert 'dirty-2x' not in text


def test_prediction_summary_without_runs():
    assert 'no completed' in output.prediction_summary([])


def test_timing_summary_reports_the_savings():
    def t(way, post):
        return {'way': way, 'permit_post_copy': post, 'waited_s': 3.0}
    cases = [case('bursty-quiet', 20, 10, 600, 200,
                  timing=t(timing_runs.AT_ONCE, True)),
             case('bursty-quiet', 6, 6, 200, 200,
                  timing=t(timing_runs.QUIET_WINDOW, True))]
    text = timing_runs.summary(cases)
    assert ('post-copy on: quiet-window takes 70 % less time and 67 % '
            'fewer bytes than at-once') in text


@pytest.mark.parametrize('text', ['1', '80,90', 'a,b', '2000,3000,4000'])
def test_bad_ports_are_refused_by_value(text):
    with pytest.raises(argparse.ArgumentTypeError, match=repr(text)):
        cli._ports(text)


def test_ports_parse():
    assert cli._ports('16681,16682') == (16681, 16682)
