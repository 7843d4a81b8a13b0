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

import argparse

import pytest

from nova_migtuner.cmd import argtypes
from nova_migtuner import units

HUGE = '1' * 400


@pytest.mark.parametrize('func,text', [
    (argtypes.size, HUGE),
    (argtypes.size, HUGE + 'MiB'),
    (argtypes.size, '9' * 310 + '.5'),
    (argtypes.milliseconds, HUGE),
    (argtypes.milliseconds, HUGE + 'ms'),
    (argtypes.rate, HUGE),
    (argtypes.rate, HUGE + 'Gbit/s'),
    (argtypes.rate_or_zero, HUGE),
    (argtypes.seconds, HUGE),
    (argtypes.seconds, HUGE + 'h'),
])
def test_a_400_digit_number_is_refused_by_name(func, text):
    with pytest.raises(argparse.ArgumentTypeError) as exc:
        func(text)
    assert repr(text) in str(exc.value)
    assert 'too large' in str(exc.value)


@pytest.mark.parametrize('func,text', [
    (argtypes.size, '2000000TiB'),
    (argtypes.rate, '10000000TB/s'),
    (argtypes.seconds, '100000000h'),
    (argtypes.milliseconds, '100000000h'),
])
def test_values_beyond_the_upper_bound_are_refused(func, text):
    with pytest.raises(argparse.ArgumentTypeError) as exc:
        func(text)
    assert 'too large; at most' in str(exc.value)
    assert repr(text) in str(exc.value)


@pytest.mark.parametrize('func', [argtypes.size, argtypes.rate,
                                  argtypes.rate_or_zero, argtypes.seconds,
                                  argtypes.milliseconds, argtypes.fraction])
@pytest.mark.parametrize('text', ['inf', 'nan', '-inf', 'infinity', 'NaN%'])
def test_infinity_and_nan_are_refused(func, text):
    with pytest.raises(argparse.ArgumentTypeError) as exc:
        func(text)
    assert repr(text) in str(exc.value)


@pytest.mark.parametrize('func', [argtypes.size, argtypes.rate,
                                  argtypes.seconds, argtypes.milliseconds])
@pytest.mark.parametrize('text', ['\u00b2', '\u0661\u0662', '\uff15s'])
def test_digits_of_other_scripts_are_refused_not_a_traceback(func, text):
    # '²'.isdigit() is true but float('²') raises ValueError.
    with pytest.raises(argparse.ArgumentTypeError) as exc:
        func(text)
    assert repr(text) in str(exc.value)


@pytest.mark.parametrize('text', ['0', '0s', '0ms', '-1s'])
def test_positive_seconds_refuses_zero_and_negative(text):
    with pytest.raises(argparse.ArgumentTypeError) as exc:
        argtypes.positive_seconds(text)
    assert repr(text) in str(exc.value)


def test_values_in_range_still_parse():
    assert argtypes.size('32GiB') == 32 * units.GiB
    assert argtypes.rate('1Gbit/s') == 125e6
    assert argtypes.rate_or_zero('0') == 0.0
    assert argtypes.milliseconds('500') == 500
    assert argtypes.milliseconds('2s') == 2000
    assert argtypes.seconds('5min') == 300.0
    assert argtypes.positive_seconds('500ms') == 0.5
    assert argtypes.fraction('70%') == pytest.approx(0.7)
