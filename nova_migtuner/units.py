"""Parsing of memory sizes, data rates and durations given by people.

Operators write "32GiB", "1Gbit/s", "150MiB/s", "500ms". Everything inside
the project is bytes, bytes per second and seconds (floats); libvirt wants
MiB/s and milliseconds, converted at the edge.
"""

import re

KiB = 1024
MiB = 1024 ** 2
GiB = 1024 ** 3
TiB = 1024 ** 4

_SIZE_UNITS = {
    'b': 1, 'kib': KiB, 'mib': MiB, 'gib': GiB, 'tib': TiB,
    'kb': 1000, 'mb': 1000 ** 2, 'gb': 1000 ** 3, 'tb': 1000 ** 4,
}
# Rates: byte based (B/s, KiB/s, ...) and bit based (bit/s, Kbit/s, Mbit/s,
# Gbit/s, and the short forms kbps, Mbps, Gbps that network people write).
_BIT_UNITS = {
    'bit': 1 / 8, 'kbit': 1000 / 8, 'mbit': 1000 ** 2 / 8,
    'gbit': 1000 ** 3 / 8, 'tbit': 1000 ** 4 / 8,
    'bps': 1 / 8, 'kbps': 1000 / 8, 'mbps': 1000 ** 2 / 8,
    'gbps': 1000 ** 3 / 8, 'tbps': 1000 ** 4 / 8,
}
_DURATION_UNITS = {'ms': 0.001, 's': 1.0, 'min': 60.0, 'h': 3600.0}

_NUMBER = r'(?P<num>\d+(?:\.\d*)?|\.\d+)'
_SIZE_RE = re.compile(r'^\s*' + _NUMBER + r'\s*(?P<unit>[a-z]*)\s*$',
                      re.IGNORECASE)
_RATE_RE = re.compile(
    r'^\s*' + _NUMBER + r'\s*(?P<unit>[a-z]*)\s*(?P<per>/\s*s)?\s*$',
    re.IGNORECASE)

SIZE_HELP = 'a size such as 512MiB, 2GiB, 1.5GB or a byte count (B, KiB, ' \
            'MiB, GiB, TiB, KB, MB, GB, TB)'
RATE_HELP = 'a rate such as 110MB/s, 150MiB/s, 1Gbit/s, 10Gbps or a byte ' \
            'count per second'
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


def parse_size(text, what='size'):
    """Return the number of bytes in *text* (int), e.g. '32GiB'."""
    m = _match(_SIZE_RE, text, what, SIZE_HELP)
    unit = m.group('unit').lower() or 'b'
    if unit not in _SIZE_UNITS:
        raise UnitError('%s %r has unknown unit %r; expected %s'
                        % (what, text, m.group('unit'), SIZE_HELP))
    return int(round(float(m.group('num')) * _SIZE_UNITS[unit]))


def parse_rate(text, what='rate'):
    """Return bytes per second in *text* (float), e.g. '1Gbit/s'."""
    m = _match(_RATE_RE, text, what, RATE_HELP)
    unit = m.group('unit').lower() or 'b'
    number = float(m.group('num'))
    if unit in _BIT_UNITS:
        if unit.endswith('ps') and m.group('per'):
            raise UnitError('%s %r says "per second" twice; expected %s'
                            % (what, text, RATE_HELP))
        return number * _BIT_UNITS[unit]
    if unit in _SIZE_UNITS:
        return float(number * _SIZE_UNITS[unit])
    raise UnitError('%s %r has unknown unit %r; expected %s'
                    % (what, text, m.group('unit'), RATE_HELP))


def parse_duration(text, what='duration'):
    """Return seconds in *text* (float), e.g. '500ms'."""
    m = _match(_SIZE_RE, text, what, DURATION_HELP)
    unit = m.group('unit').lower() or 's'
    if unit not in _DURATION_UNITS:
        raise UnitError('%s %r has unknown unit %r; expected %s'
                        % (what, text, m.group('unit'), DURATION_HELP))
    return float(m.group('num')) * _DURATION_UNITS[unit]


def format_size(nbytes):
    """Human text for a byte count: '1.5 GiB', '300 MiB', '12 KiB'."""
    nbytes = float(nbytes)
    for unit, factor in (('TiB', TiB), ('GiB', GiB), ('MiB', MiB),
                         ('KiB', KiB)):
        if abs(nbytes) >= factor:
            return '%.4g %s' % (nbytes / factor, unit)
    return '%d B' % nbytes


def format_rate(bytes_per_second):
    return '%s/s' % format_size(bytes_per_second)


def format_seconds(seconds):
    if seconds is None:
        return 'unbounded'
    if seconds < 1:
        return '%.0f ms' % (seconds * 1000)
    if seconds < 120:
        return '%.1f s' % seconds
    return '%.1f min' % (seconds / 60)
