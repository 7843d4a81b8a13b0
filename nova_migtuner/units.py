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

"""Parsing of memory sizes, data rates and durations given by people.

Operators write "32GiB", "1Gbit/s", "150MiB/s", "500ms". Everything inside
the project is bytes, bytes per second and seconds (floats); libvirt wants
MiB/s and milliseconds, converted at the edge.
"""

import math
import re

KiB = 1024
MiB = 1024 ** 2
GiB = 1024 ** 3
TiB = 1024 ** 4

_SIZE_UNITS = {
    'b': 1, 'kib': KiB, 'mib': MiB, 'gib': GiB, 'tib': TiB,
    'kb': 1000, 'mb': 1000 ** 2, 'gb': 1000 ** 3, 'tb': 1000 ** 4,
}
# Rates follow the networking convention: "b" is a bit and "B" a byte, so
# the unit is read case-sensitively. Decimal prefixes k/K, M, G, T; binary
# prefixes Ki, Mi, Gi, Ti for bytes only. Forms whose case leaves bits and
# bytes (or milli and mega) in doubt, such as "gb/s", "MBPS" or "Gib/s",
# are refused rather than guessed.
_DECIMAL_PREFIXES = {'': 1, 'k': 1000, 'K': 1000, 'M': 1000 ** 2,
                     'G': 1000 ** 3, 'T': 1000 ** 4}
_BINARY_PREFIXES = {'Ki': KiB, 'Mi': MiB, 'Gi': GiB, 'Ti': TiB}
_RATE_UNIT_RE = re.compile(
    r'^(?P<prefix>[kKMGT]i?|)(?P<base>[bB]it|b|B)(?P<ps>ps)?$')
_DURATION_UNITS = {'ms': 0.001, 's': 1.0, 'min': 60.0, 'h': 3600.0}

_NUMBER = r'(?P<num>\d+(?:\.\d*)?|\.\d+)'
# ASCII only: \d would also take other scripts' digits (and \s their
# spaces), which are never what an operator meant to type.
_SIZE_RE = re.compile(r'^\s*' + _NUMBER + r'\s*(?P<unit>[a-z]*)\s*$',
                      re.IGNORECASE | re.ASCII)
_RATE_RE = re.compile(
    r'^\s*' + _NUMBER + r'\s*(?P<unit>[a-z]*)\s*(?P<per>/\s*s)?\s*$',
    re.IGNORECASE | re.ASCII)

SIZE_HELP = 'a size such as 512MiB, 2GiB, 1.5GB or a byte count (B, KiB, ' \
            'MiB, GiB, TiB, KB, MB, GB, TB)'
RATE_HELP = ('a rate such as 1Gbit/s, 10Gbps or 10Gb/s (bits: b) or '
             '110MB/s, 150MiB/s or 1GiB/s (bytes: B), or a byte count per '
             'second')
DURATION_HELP = 'a duration such as 500ms, 2s, 5min (a bare number is ' \
                'seconds)'


class UnitError(ValueError):
    """A value a person typed could not be read; the message says why."""


def _match(regex, text, what, allowed):
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        text = repr(text)
    if not isinstance(text, str):
        raise UnitError('%s %r is not text; expected %s'
                        % (what, text, allowed))
    if text.strip().startswith('-'):
        raise UnitError('%s %r must not be negative; expected %s'
                        % (what, text, allowed))
    m = regex.match(text)
    if not m:
        raise UnitError('%s %r cannot be read; expected %s'
                        % (what, text, allowed))
    return m


def _number(m, text, what, allowed):
    """The number of a match as a float, refused by name if infinite.

    A number with hundreds of digits reads as infinity.
    """
    number = float(m.group('num'))
    if not math.isfinite(number):
        raise UnitError('%s %r is too large; expected %s'
                        % (what, text, allowed))
    return number


def _finite(value, text, what, allowed):
    """*value* (a number times its unit) unless it overflowed."""
    if not math.isfinite(value):
        raise UnitError('%s %r is too large; expected %s'
                        % (what, text, allowed))
    return value


def parse_size(text, what='size'):
    """Return the number of bytes in *text* (int), e.g. '32GiB'."""
    m = _match(_SIZE_RE, text, what, SIZE_HELP)
    unit = m.group('unit').lower() or 'b'
    if unit not in _SIZE_UNITS:
        raise UnitError('%s %r has unknown unit %r; expected %s'
                        % (what, text, m.group('unit'), SIZE_HELP))
    number = _number(m, text, what, SIZE_HELP)
    return int(round(_finite(number * _SIZE_UNITS[unit], text, what,
                             SIZE_HELP)))


def _rate_factor(unit):
    """Bytes per second of one *unit*, or None if it is not a rate unit."""
    m = _RATE_UNIT_RE.match(unit)
    if not m:
        return None
    prefix, base = m.group('prefix'), m.group('base')
    if prefix in _BINARY_PREFIXES:
        # GiB is a byte unit; "Gib" is a gibibit or a mistyped GiB.
        return _BINARY_PREFIXES[prefix] if base == 'B' else None
    factor = _DECIMAL_PREFIXES[prefix]
    return factor if base == 'B' else factor / 8.0


def parse_rate(text, what='rate'):
    """Return bytes per second in *text* (float), e.g. '1Gbit/s'.

    ``b`` is a bit and ``B`` a byte: ``1Gb/s``, ``1Gbit/s`` and ``1Gbps``
    are 125 000 000 B/s; ``1GB/s`` is 10**9 B/s and ``1GiB/s`` 2**30 B/s.
    A unit whose case is in doubt (``1gb/s``, ``1GBPS``, ``1Gib/s``) is
    refused.
    """
    m = _match(_RATE_RE, text, what, RATE_HELP)
    unit = m.group('unit')
    number = _number(m, text, what, RATE_HELP)
    if not unit:
        return number
    factor = _rate_factor(unit)
    if factor is None:
        lower = unit.lower()
        known = (lower in _SIZE_UNITS or lower.endswith('bit') or
                 lower.endswith('bps'))
        if known:
            raise UnitError(
                '%s %r is ambiguous: unit %r does not say clearly whether '
                'it counts bits or bytes (b is a bit, B a byte; prefixes k, '
                'M, G, T, and Ki, Mi, Gi, Ti for bytes); write bits as '
                'Gbit/s, Gbps or Gb/s and bytes as GB/s or GiB/s; expected %s'
                % (what, text, unit, RATE_HELP))
        raise UnitError('%s %r has unknown unit %r; expected %s'
                        % (what, text, unit, RATE_HELP))
    if _RATE_UNIT_RE.match(unit).group('ps') and m.group('per'):
        raise UnitError('%s %r says "per second" twice; expected %s'
                        % (what, text, RATE_HELP))
    return _finite(float(number * factor), text, what, RATE_HELP)


def parse_duration(text, what='duration'):
    """Return seconds in *text* (float), e.g. '500ms'."""
    m = _match(_SIZE_RE, text, what, DURATION_HELP)
    unit = m.group('unit').lower() or 's'
    if unit not in _DURATION_UNITS:
        raise UnitError('%s %r has unknown unit %r; expected %s'
                        % (what, text, m.group('unit'), DURATION_HELP))
    number = _number(m, text, what, DURATION_HELP)
    return _finite(number * _DURATION_UNITS[unit], text, what,
                   DURATION_HELP)


def format_size(nbytes):
    """Human text for a byte count: '1.5 GiB', '300 MiB', '12 KiB'."""
    nbytes = float(nbytes)
    for unit, factor in (('TiB', TiB), ('GiB', GiB), ('MiB', MiB),
                         ('KiB', KiB)):
        if abs(nbytes) >= factor:
            return '%.4g %s' % (nbytes / factor, unit)
    return '%d B' % nbytes


def format_bit_rate(bytes_per_second):
    """Bits per second, decimal prefixes: '1 Gbit/s', '800 Mbit/s'."""
    bits = float(bytes_per_second) * 8
    for unit, factor in (('Tbit/s', 1e12), ('Gbit/s', 1e9),
                         ('Mbit/s', 1e6), ('kbit/s', 1e3)):
        if abs(bits) >= factor:
            return '%.4g %s' % (bits / factor, unit)
    return '%.4g bit/s' % bits


def format_rate(bytes_per_second):
    """A rate in bytes and in bits: '119.2 MiB/s (1 Gbit/s)'.

    Both, so that nobody has to wonder which one a number is.
    """
    return '%s/s (%s)' % (format_size(bytes_per_second),
                          format_bit_rate(bytes_per_second))


def format_seconds(seconds):
    if seconds is None:
        return 'unbounded'
    if seconds < 1:
        return '%.0f ms' % (seconds * 1000)
    if seconds < 120:
        return '%.1f s' % seconds
    return '%.1f min' % (seconds / 60)
