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

"""The timing runs through nova: the computes' options, the runs' order and
offsets, and the summary read from the observer and the `.end`."""

from unittest import mock

import pytest

from nova_migtuner.bench import cli
from nova_migtuner.bench import nova_path
from nova_migtuner.bench import timing_nova
from nova_migtuner.bench import timing_runs
from nova_migtuner.cloud import cloud as cloud_mod


def test_quiet_window_samples_and_may_wait_at_once_does_neither():
    quiet = dict(((s, k), v) for s, k, v in timing_nova.compute_options(
        timing_runs.QUIET_WINDOW, True))
    at_once = dict(((s, k), v) for s, k, v in timing_nova.compute_options(
        timing_runs.AT_ONCE, False))
    assert quiet == {
        ('libvirt', 'live_migration_permit_post_copy'): 'true',
        ('migtuner', 'quiet_window_sampling_s'): str(timing_nova.SAMPLING_S),
        ('migtuner', 'max_deferral_s'): str(timing_nova.MAX_DEFERRAL_S)}
    assert at_once == {
        ('libvirt', 'live_migration_permit_post_copy'): 'false',
        ('migtuner', 'quiet_window_sampling_s'): '0',
        ('migtuner', 'max_deferral_s'): '0'}


def test_an_unknown_timing_is_refused_by_name():
    with pytest.raises(ValueError, match="'soon'.*at-once, quiet-window"):
        timing_nova.compute_options('soon', True)


def nova_case(total_s, data_mib, waited_s, predicted_s=None):
    return {'via': 'nova', 'workload': 'bursty-quiet', 'method': 'migtuner',
            'error': None,
            'observed': {'outcome': 'completed', 'total_time_s': total_s,
                         'data_bytes': data_mib * 2 ** 20,
                         'downtime_ms': 20, 'start_delay_s': 4.0 + waited_s,
                         'heartbeat_longest_gap_ms': 300},
            'notification': {'waited_s': waited_s,
                             'predicted_total_s': predicted_s,
                             'predicted_bytes': (data_mib * 2 ** 20
                                                 if predicted_s else None)}}


def test_runs_restart_the_computes_per_configuration_and_spread_offsets(
        monkeypatch):
    cloud = mock.Mock()
    seen = []

    def run_case(cloud_, w, method, run_cap, progress=print,
                 start_offset_s=0.0, planning_s=0.0):
        seen.append((cloud.start_computes.call_count, w.name, method,
                     start_offset_s, planning_s))
        return nova_case(6.0, 180, 5.0)

    monkeypatch.setattr(nova_path, 'run_case', run_case)
    cases = timing_nova.run_timing(cloud, 2, 90, progress=lambda _: None)
    assert [c.args for c in cloud.start_computes.call_args_list] == [
        ('migtuner', timing_nova.compute_options(way, post))
        for post in (True, False) for way in timing_runs.TIMINGS]
    planning = timing_nova.SAMPLING_S + timing_nova.MAX_DEFERRAL_S
    # Two runs per configuration, half a 24 s burst cycle apart.
    assert seen == [(n, 'bursty-quiet', 'migtuner', offset, planning)
                    for n in (1, 2, 3, 4) for offset in (0.0, 12.0)]
    assert [(c['timing']['way'], c['timing']['permit_post_copy'],
             c['timing']['run']) for c in cases] == [
        (way, post, run) for post in (True, False)
        for way in timing_runs.TIMINGS for run in (1, 2)]
    assert cases[0]['timing']['waited_s'] == 5.0
    assert cases[0]['timing']['start_delay_s'] == 9.0


def test_the_summary_reads_the_observer_and_the_end_notification():
    def timed(case, way):
        case['timing'] = {'way': way, 'permit_post_copy': True,
                          'waited_s': case['notification']['waited_s']}
        return case
    text = timing_nova.summary([
        timed(nova_case(20.0, 600, 0.0), timing_runs.AT_ONCE),
        timed(nova_case(6.0, 200, 8.0), timing_runs.QUIET_WINDOW)])
    assert ('post-copy on: quiet-window takes 70 % less time and 67 % '
            'fewer bytes than at-once') in text
    assert '8.0' in text.splitlines()[1]     # the quiet window's wait


def test_report_view_judges_the_observer_against_the_plans_prediction():
    view = nova_path.report_view(nova_case(6.0, 200, 0.0, predicted_s=5.0))
    assert view['total_seconds'] == 6.0
    assert view['predicted_total_seconds'] == 5.0
    assert view['predicted_converges'] is True
    stock = nova_path.report_view({'observed': {'outcome': 'failed'}})
    assert stock['outcome'] == 'failed'
    assert stock['predicted_converges'] is False


def test_only_the_chosen_post_copy_half_runs(monkeypatch):
    cloud = mock.Mock()
    monkeypatch.setattr(nova_path, 'run_case',
                        lambda *a, **kw: nova_case(6.0, 180, 5.0))
    cases = timing_nova.run_timing(cloud, 1, 90, progress=lambda _: None,
                                   post_copy=[timing_nova.FORBIDDEN])
    assert [c.args for c in cloud.start_computes.call_args_list] == [
        ('migtuner', timing_nova.compute_options(way, False))
        for way in timing_runs.TIMINGS]
    assert {c['timing']['permit_post_copy'] for c in cases} == {False}
    with pytest.raises(ValueError, match="post-copy sometimes is invalid"):
        timing_nova.run_timing(cloud, 1, 90, post_copy=['sometimes'])


def test_timing_runs_without_engine_go_through_the_cloud(tmp_path,
                                                         monkeypatch):
    cloud = mock.Mock()
    monkeypatch.setattr(cloud_mod, 'Cloud', lambda: cloud)
    asked = []

    def run_timing(cloud_, n, cap, progress, post_copy):
        asked.append((n, tuple(post_copy)))
        return []
    monkeypatch.setattr(timing_nova, 'run_timing', run_timing)
    args = cli.parse_args(['--timing-runs', '5', '--output', str(tmp_path)])
    assert cli._run_timing_nova(args, 90) == 0
    assert asked == [(5, timing_nova.POST_COPY_CHOICES)]
    cloud.up.assert_called_once_with()
    cloud.down.assert_called_once_with()
    assert 'prediction errors' in (tmp_path / 'results.txt').read_text()
