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

"""``nova-migtuner plan``: the plan for a described guest."""

import json

import pytest

from nova_migtuner.cmd import cli


def run(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_field_notes_case_as_json(capsys):
    code, out, _ = run(capsys, 'plan', '--memory', '32GiB', '--dirty-rate',
                       '150MiB/s', '--bandwidth', '1Gbit/s', '--touched',
                       '28GiB', '--max-downtime', '500ms',
                       '--permit-post-copy', '--format', 'json')
    assert code == 0
    data = json.loads(out)
    assert data['strategy'] == 'balanced'
    assert 'VIR_MIGRATE_LIVE' in data['flags']
    assert 'VIR_MIGRATE_POSTCOPY' in data['flags']
    assert data['initial_downtime_ms'] <= 500
    assert data['prediction']['converges'] is True
    for key in ('total_seconds', 'bytes', 'downtime_ms', 'rounds'):
        assert key in data['prediction']
    assert isinstance(data['escalation'], list)
    assert data['timing']['action'] == 'start'
    assert any('post-copy permitted' in line for line in data['explain'])
    assert any('(given)' in line for line in data['inputs'])


def test_idle_guest_table(capsys):
    code, out, _ = run(capsys, 'plan', '--memory', '2GiB', '--dirty-rate',
                       '0', '--bandwidth', '1Gbit/s')
    assert code == 0
    assert 'VIR_MIGRATE_LIVE' in out
    assert 'VIR_MIGRATE_POSTCOPY' not in out
    assert 'completes in' in out


@pytest.mark.parametrize('argv,fragment', [
    (['--memory', '-3GiB'], "'-3GiB' must not be negative"),
    (['--memory', 'lots'], "'lots' cannot be read"),
    (['--memory', '2GiB', '--bandwidth', '0'], "'0' must be above zero"),
    (['--memory', '2GiB', '--strategy', 'yolo'],
     "unknown strategy 'yolo'; available: balanced, conservative, "
     "fastest, min_downtime"),
    (['--memory', '2GiB', '--max-downtime', '0ms'], 'at least 1 ms'),
    (['--memory', '2GiB', '--host-load', '140%'], 'outside 0..1'),
    (['--memory', '2GiB', '--touched', '3GiB'], 'touched memory 3 GiB'),
])
def test_bad_input_exits_2_naming_the_value(capsys, argv, fragment):
    with pytest.raises(SystemExit) as exc:
        cli.main(['plan'] + argv)
    assert exc.value.code == 2
    assert fragment in capsys.readouterr().err


def test_config_file_sets_the_default_strategy(capsys, tmp_path):
    f = tmp_path / 'nova.conf'
    f.write_text('[migtuner]\ndefault_strategy = conservative\n'
                 'max_downtime_ms = 300\n')
    code, out, _ = run(capsys, 'plan', '--memory', '4GiB', '--config-file',
                       str(f), '--format', 'json')
    data = json.loads(out)
    assert data['strategy'] == 'conservative'
    assert data['max_downtime_ms'] == 300


@pytest.mark.parametrize('text,option', [
    ('[migtuner]\nmax_downtime_ms = 3\n', 'max_downtime_ms'),
    ('[migtuner_strategy_fastest]\npost_copy_gain = 0.5\n', 'post_copy_gain'),
])
def test_bad_config_value_exits_2(capsys, tmp_path, text, option):
    f = tmp_path / 'nova.conf'
    f.write_text(text)
    with pytest.raises(SystemExit) as exc:
        cli.main(['plan', '--memory', '4GiB', '--config-file', str(f)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert option in err and str(f) in err


def test_bandwidth_in_bits_is_bits_and_echoed_both_ways(capsys):
    # "1Gb/s" is a gigabit: the plan shows it in bytes and in bits.
    code, out, _ = run(capsys, 'plan', '--memory', '2GiB', '--dirty-rate',
                       '0', '--bandwidth', '1Gb/s')
    assert code == 0
    assert 'link 119.2 MiB/s (1 Gbit/s)' in out


def test_ambiguous_bandwidth_is_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(['plan', '--memory', '2GiB', '--bandwidth', '1gb/s'])
    assert exc.value.code == 2
    assert "'1gb/s' is ambiguous" in capsys.readouterr().err


def test_auto_converge_only_when_nova_permits_it(capsys):
    # As on the compute: nova's live_migration_permit_auto_converge
    # (default False) bounds the plan.
    args = ('plan', '--memory', '2GiB', '--dirty-rate', '150MiB/s',
            '--bandwidth', '110MB/s', '--format', 'json')
    code, out, _ = run(capsys, *args)
    assert code == 0
    assert 'VIR_MIGRATE_AUTO_CONVERGE' not in json.loads(out)['flags']
    code, out, _ = run(capsys, *(args + ('--permit-auto-converge',)))
    assert code == 0
    assert 'VIR_MIGRATE_AUTO_CONVERGE' in json.loads(out)['flags']


def _fastest_method(capsys, *argv):
    code, out, _ = run(capsys, 'plan', '--memory', '2GiB', '--dirty-rate',
                       '40MiB/s', '--bandwidth', '1Gbit/s',
                       '--permit-post-copy', '--strategy', 'fastest',
                       '--format', 'json', *argv)
    assert code == 0
    return json.loads(out)['prediction']['method']


def test_config_file_tunes_the_strategy(capsys, tmp_path):
    # Post-copy is faster by more than the default gain of 1.1 ...
    assert _fastest_method(capsys) == 'post-copy'
    f = tmp_path / 'nova.conf'
    # ... but not by a gain of 100.
    f.write_text('[migtuner_strategy_fastest]\npost_copy_gain = 100\n')
    assert _fastest_method(capsys, '--config-file', str(f)) == 'pre-copy'


@pytest.mark.parametrize('argv,fragment', [
    (['--max-downtime', '5ms'],
     "'5ms' is outside 10..60000 ms, the range of [migtuner] "
     "max_downtime_ms"),
    (['--max-downtime', '2min'], "'2min' is outside 10..60000 ms"),
    (['--max-deferral', '25h'],
     "'25h' is outside 0..86400 s, the range of [migtuner] max_deferral_s"),
    (['--max-downtime', '1' * 400], 'too large'),
    (['--memory', '1' * 400], 'too large'),
    (['--bandwidth', '1' * 400], 'too large'),
    (['--since-last-migration', '1' * 400 + 's'], 'too large'),
])
def test_values_for_options_keep_the_option_bounds(capsys, argv, fragment):
    with pytest.raises(SystemExit) as exc:
        cli.main(['plan', '--memory', '2GiB'] + argv)
    assert exc.value.code == 2
    assert fragment in capsys.readouterr().err


def test_bench_workload_outside_the_quick_matrix_exits_2(capsys):
    from nova_migtuner.bench import cli as bench_cli
    with pytest.raises(SystemExit) as exc:
        bench_cli.parse_args(['--quick', '--workload', 'bursty-web'])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert 'bursty-web: not in the --quick matrix' in err
    assert 'idle' in err


def test_bench_unknown_workload_exits_2(capsys):
    from nova_migtuner.bench import cli as bench_cli
    with pytest.raises(SystemExit) as exc:
        bench_cli.parse_args(['--workload', 'typo'])
    assert exc.value.code == 2
    assert "invalid choice: 'typo'" in capsys.readouterr().err
    assert bench_cli.parse_args(['--quick', '--workload', 'idle']).workload \
        == ['idle']


@pytest.mark.parametrize('error', ['StrategyTimeoutError',
                                   'PlanInvariantError'])
def test_a_strategy_that_fails_to_plan_exits_1_saying_why(capsys,
                                                          monkeypatch,
                                                          error):
    from nova_migtuner.planning import planner

    def build_plan(*args, **kwargs):
        raise getattr(planner, error)('strategy x did not plan')
    monkeypatch.setattr(planner, 'build_plan', build_plan)
    assert cli.main(['plan', '--memory', '2GiB']) == 1
    assert ('strategy x did not plan; the compute would fall back to '
            "nova's own behaviour") in capsys.readouterr().err
