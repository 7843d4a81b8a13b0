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

"""An operator's guest profile on the bench's command line."""

import argparse

import pytest

from nova_migtuner.bench import cli
from nova_migtuner.bench import profile
from nova_migtuner.bench import workloads as wl_mod
from nova_migtuner.testbed import guest


def test_a_matrix_name_is_the_matrix_workload():
    assert profile.parse('dirty-2x') == next(
        w for w in wl_mod.matrix() if w.name == 'dirty-2x')


def test_a_bursty_profile_takes_rate_buffer_and_pattern_in_plan_units():
    w = profile.parse('bursty:rate=100MiB/s,buffer=256MiB,on=2s,off=500ms')
    assert (w.workload.kind, w.workload.rate_mib_s, w.workload.dirty_mib,
            w.workload.burst_on_s, w.workload.burst_off_s) == (
        'bursty', 100.0, 256, 2.0, 0.5)
    guest.validate_guest_name('bench-%s-nova-best-static' % w.name)


def test_rates_in_bits_and_requests_per_second():
    w = profile.parse('constant:rate=400Mbit/s,requests=200/s')
    assert w.workload.rate_mib_s == pytest.approx(50e6 / 2 ** 20)
    assert w.workload.request_rate == 200
    assert profile.parse('idle').workload.kind == 'idle'
    assert profile.parse('idle:buffer=32MiB').workload.dirty_mib == 32


@pytest.mark.parametrize('text, message', [
    ('constant', 'needs rate=RATE'),
    ('constant:rate=1gb/s', "bad rate: rate '1gb/s' is ambiguous"),
    ('constant:rate=10MiB/s,buffer=1.5MiB', 'not a whole number of MiB'),
    ('idle:rate=10MiB/s', "key 'rate', which a idle workload does not take"),
    ('bursty:rate=1MiB/s,on=0s', 'burst_on_s=0.0 is invalid'),
    ('constant:rate=1MiB/s,rate=2MiB/s', 'gives rate twice'),
    ('constant:rate', "'rate' without a value"),
    ('busy:rate=1MiB/s', 'neither a workload of the matrix'),
    ('constant:rate=1MiB/s,requests=many', "bad requests 'many'"),
])
def test_bad_profiles_are_refused_naming_the_bad_value(text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message) as exc:
        profile.parse(text)
    assert repr(text) in str(exc.value)


def test_memory_and_link_use_plan_units_and_refuse_bad_values():
    assert profile.memory('2GiB') == 2048
    assert profile.link('1Gbit/s') == 119
    assert profile.link('64MiB/s') == 64
    for func, text, message in (
            (profile.memory, '64MiB', 'below 128 MiB'),
            (profile.memory, '1.5GB', 'not a whole number of MiB'),
            (profile.memory, '-1GiB', 'must not be negative'),
            (profile.link, '1Mbit/s', 'below 1 MiB/s'),
            (profile.link, '1gb/s', 'ambiguous')):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            func(text)


def test_cli_takes_a_profile_with_its_memory_and_link():
    args = cli.parse_args(['--engine', '--memory', '1GiB', '--link',
                           '16MiB/s', '--workload',
                           'constant:rate=20MiB/s,buffer=512MiB',
                           '--workload', 'idle'])
    assert (args.memory, args.link) == (1024, 16)
    names = [w.name for w in cli.chosen_matrix(args)]
    assert names[1] == 'idle'
    assert names[0].startswith('profile-constant-rate-20MiB')
    assert names[0] != cli.chosen_matrix(cli.parse_args([
        '--memory', '1GiB', '--workload',
        'constant:rate=20MiB/s,buffer=256MiB']))[0].name


def test_cli_refuses_a_buffer_larger_than_the_guest(capsys):
    with pytest.raises(SystemExit):
        cli.parse_args(['--workload', 'constant:rate=20MiB/s,buffer=512MiB'])
    assert 'does not fit in a 256 MiB guest' in capsys.readouterr().err


def test_cli_refuses_flavors_with_a_memory(capsys):
    with pytest.raises(SystemExit):
        cli.parse_args(['--flavors', '--memory', '1GiB'])
    assert '--flavors runs its own idle guests' in capsys.readouterr().err


def test_progress_off_with_requests_off_is_the_plain_guest():
    w = profile.parse('idle:requests=0,progress=0').workload
    assert (w.progress_ms, w.request_rate) == (0, 0)
    assert profile.parse('idle:progress=50ms').workload.progress_ms == 50
    with pytest.raises(argparse.ArgumentTypeError, match='progress_ms=2000'):
        profile.parse('idle:progress=2s')


def test_flavor_sizes_are_memories_in_plan_units(capsys):
    assert profile.sizes('1GiB, 256MiB,4GiB') == (256, 1024, 4096)
    with pytest.raises(argparse.ArgumentTypeError, match='below 128 MiB'):
        profile.sizes('256MiB,64MiB')
    with pytest.raises(argparse.ArgumentTypeError, match='name no size'):
        profile.sizes(',')
    assert cli.parse_args(['--flavors', '--sizes', '512MiB']).sizes == (512,)
    with pytest.raises(SystemExit):
        cli.parse_args(['--sizes', '512MiB'])
    assert '--sizes only goes with --flavors' in capsys.readouterr().err


def test_cli_keeps_the_workload_texts_and_runs_profiles_with_quick():
    args = cli.parse_args(['--quick', '--workload', 'idle', '--workload',
                           'constant:rate=20MiB/s,buffer=128MiB'])
    assert args.workload == ['idle', 'constant:rate=20MiB/s,buffer=128MiB']
    assert [w.workload.kind for w in cli.chosen_matrix(args)] == [
        'idle', 'constant']


def test_cli_refuses_flavors_with_timing_runs(capsys):
    with pytest.raises(SystemExit):
        cli.parse_args(['--flavors', '--timing-runs', '2'])
    assert 'nor --timing-runs' in capsys.readouterr().err
