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

"""argparse types: parse people's units, reject bad values by name.

Every type refuses what it cannot read, what is out of its range and what
is absurdly large (hundreds of digits, which would overflow to infinity),
with an ``argparse.ArgumentTypeError`` naming the value.
"""

import argparse
import math

from nova_migtuner import units

# Upper bounds far beyond any real guest, link or wait, so that every value
# that passes stays a finite number that libvirt, SQLite and time.sleep
# accept.
MAX_SIZE_BYTES = 2 ** 60                      # 1 EiB
MAX_RATE_BYTES_S = float(2 ** 60)             # 1 EiB/s
MAX_SECONDS = 10 * 365 * 24 * 3600.0          # ten years
MAX_MILLISECONDS = int(MAX_SECONDS * 1000)


def _at_most(value, maximum, text, what, shown):
    if not value <= maximum:     # also refuses NaN
        raise argparse.ArgumentTypeError(
            '%s %r is too large; at most %s' % (what, text, shown))
    return value


def _positive(value, text, what, allowed):
    if value <= 0:
        raise argparse.ArgumentTypeError(
            '%s %r must be above zero; expected %s' % (what, text, allowed))
    return value


def size(text):
    try:
        value = units.parse_size(text, what='size')
    except units.UnitError as e:
        raise argparse.ArgumentTypeError(str(e))
    if value < units.MiB:
        raise argparse.ArgumentTypeError(
            'size %r is below 1 MiB; expected %s (a bare number is bytes)'
            % (text, units.SIZE_HELP))
    return _at_most(value, MAX_SIZE_BYTES, text, 'size', '1 EiB')


def rate(text):
    try:
        value = _positive(units.parse_rate(text, what='rate'), text, 'rate',
                          units.RATE_HELP)
    except units.UnitError as e:
        raise argparse.ArgumentTypeError(str(e))
    return _at_most(value, MAX_RATE_BYTES_S, text, 'rate', '1 EiB/s')


def rate_or_zero(text):
    try:
        value = units.parse_rate(text, what='rate')
    except units.UnitError as e:
        raise argparse.ArgumentTypeError(str(e))
    return _at_most(value, MAX_RATE_BYTES_S, text, 'rate', '1 EiB/s')


def milliseconds(text):
    """'500ms', '2s'; a bare number is milliseconds here."""
    stripped = str(text).strip()
    try:
        # A bare number is read as a duration in ms (the same parser, so
        # the same errors for what it cannot read).
        if stripped and stripped.replace('.', '', 1).isascii() and \
                stripped.replace('.', '', 1).isdigit():
            value = units.parse_duration(stripped + 'ms',
                                         what='duration') * 1000.0
        else:
            value = units.parse_duration(text, what='duration') * 1000.0
    except units.UnitError as e:
        raise argparse.ArgumentTypeError(str(e).replace(
            repr(stripped + 'ms'), repr(text)))
    if value < 1:
        raise argparse.ArgumentTypeError(
            'duration %r must be at least 1 ms; expected e.g. 500ms or 2s'
            % text)
    _at_most(value, MAX_MILLISECONDS, text, 'duration', 'ten years')
    return int(round(value))


def seconds(text):
    try:
        value = units.parse_duration(text, what='duration')
    except units.UnitError as e:
        raise argparse.ArgumentTypeError(str(e))
    if value < 0:
        raise argparse.ArgumentTypeError('duration %r must not be negative'
                                         % text)
    return _at_most(value, MAX_SECONDS, text, 'duration', 'ten years')


def positive_seconds(text):
    """A duration above zero, e.g. a poll interval: 0 would spin."""
    value = seconds(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(
            'duration %r must be above zero; expected e.g. 500ms or 2s'
            % text)
    return value


def fraction(text):
    """A load: 0.7, or 70%."""
    stripped = str(text).strip()
    try:
        value = (float(stripped[:-1]) / 100.0 if stripped.endswith('%')
                 else float(stripped))
    except ValueError:
        raise argparse.ArgumentTypeError(
            'load %r cannot be read; expected a fraction 0..1 or a '
            'percentage like 70%%' % text)
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(
            'load %r is outside 0..1 (0%%..100%%)' % text)
    return value


def within_option(parse, option, unit, group='migtuner'):
    """*parse*, then refuse values outside the bounds of *option*.

    A command-line value that stands for a configuration option (such as
    ``--max-downtime`` for ``[migtuner] max_downtime_ms``) gets the same
    bounds as the option has in nova.conf.
    """
    minimum, maximum = option.type.min, option.type.max

    def check(text):
        value = parse(text)
        if ((minimum is not None and value < minimum) or
                (maximum is not None and value > maximum)):
            raise argparse.ArgumentTypeError(
                '%r is outside %s..%s %s, the range of [%s] %s'
                % (text, minimum, maximum, unit, group, option.name))
        return value
    check.__name__ = parse.__name__
    return check


def port(text):
    """A TCP port, 1..65535."""
    try:
        value = int(str(text).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            'port %r is not a number; expected 1..65535' % text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(
            'port %r is outside 1..65535' % text)
    return value


def non_negative_int(text):
    """A count, 0 or more."""
    try:
        value = int(str(text).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            '%r is not a whole number; expected 0 or more' % text)
    if value < 0:
        raise argparse.ArgumentTypeError(
            '%r is negative; expected 0 or more' % text)
    return value


def non_negative_float(text):
    """A finite number, 0 or more."""
    try:
        value = float(str(text).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            '%r is not a number; expected 0 or more' % text)
    if not 0 <= value < float('inf'):
        raise argparse.ArgumentTypeError(
            '%r is not a finite number of 0 or more' % text)
    return value
