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

import pytest

from nova_migtuner import units


@pytest.mark.parametrize('text,expected', [
    ('32GiB', 32 * 1024 ** 3),
    ('512MiB', 512 * 1024 ** 2),
    ('1.5 GB', 1_500_000_000),
    ('4096', 4096),
    ('4KiB', 4096),
    ('2tib', 2 * 1024 ** 4),
])
def test_parse_size(text, expected):
    assert units.parse_size(text) == expected


@pytest.mark.parametrize('text,expected', [
    ('1Gbit/s', 125_000_000.0),
    ('10Gbps', 1_250_000_000.0),
    ('110MB/s', 110_000_000.0),
    ('150MiB/s', 150 * 1024 ** 2),
    ('800 Mbit/s', 100_000_000.0),
    ('0', 0.0),
])
def test_parse_rate(text, expected):
    assert units.parse_rate(text) == pytest.approx(expected)


@pytest.mark.parametrize('text,expected', [
    ('500ms', 0.5), ('2s', 2.0), ('5min', 300.0), ('3', 3.0)])
def test_parse_duration(text, expected):
    assert units.parse_duration(text) == pytest.approx(expected)


@pytest.mark.parametrize('func,text,fragment', [
    (units.parse_size, '-3GiB', 'must not be negative'),
    (units.parse_size, '3XB', "unknown unit 'XB'"),
    (units.parse_size, 'lots', 'cannot be read'),
    (units.parse_rate, '1Gbps/s', 'per second" twice'),
    (units.parse_rate, '3 furlongs/s', "unknown unit 'furlongs'"),
    (units.parse_duration, '5 days', "unknown unit 'days'"),
])
def test_bad_values_name_the_value_and_what_is_allowed(func, text, fragment):
    with pytest.raises(units.UnitError) as exc:
        func(text)
    message = str(exc.value)
    assert repr(text) in message
    assert fragment in message
    assert 'expected' in message


def test_format_size_and_seconds():
    assert units.format_size(32 * units.GiB) == '32 GiB'
    assert units.format_size(1536 * units.MiB) == '1.5 GiB'
    assert units.format_size(12) == '12 B'
    assert units.format_seconds(0.25) == '250 ms'
    assert units.format_seconds(300) == '5.0 min'
    assert units.format_seconds(None) == 'unbounded'


@pytest.mark.parametrize('text,expected', [
    # b is a bit: the networking convention.
    ('1Gb/s', 125_000_000.0),
    ('10Gb/s', 1_250_000_000.0),
    ('1Gbit/s', 125_000_000.0),
    ('1Gbps', 125_000_000.0),
    ('100Mb/s', 12_500_000.0),
    ('100kbps', 12_500.0),
    ('8000b/s', 1000.0),
    # B is a byte.
    ('1GB/s', 1_000_000_000.0),
    ('1GiB/s', 1024 ** 3),
    ('5MBps', 5_000_000.0),
    ('1000B/s', 1000.0),
])
def test_rate_units_follow_the_networking_convention(text, expected):
    assert units.parse_rate(text) == pytest.approx(expected)


@pytest.mark.parametrize('text', [
    '1gb/s', '1GBPS', '1Gib/s', '1gbit/s', '1mb/s', '1gib/s', '1MIB/s'])
def test_rate_units_whose_case_is_in_doubt_are_refused(text):
    with pytest.raises(units.UnitError) as exc:
        units.parse_rate(text, what='link_bandwidth')
    message = str(exc.value)
    assert 'link_bandwidth %r is ambiguous' % text in message
    assert 'b is a bit, B a byte' in message
    assert 'Gbit/s' in message and 'GiB/s' in message


def test_rates_are_shown_in_bytes_and_in_bits():
    assert units.format_rate(125_000_000) == '119.2 MiB/s (1 Gbit/s)'
    assert units.format_rate(1024 ** 3) == '1 GiB/s (8.59 Gbit/s)'
    assert units.format_rate(0) == '0 B/s (0 bit/s)'
    assert units.format_bit_rate(100_000_000) == '800 Mbit/s'
