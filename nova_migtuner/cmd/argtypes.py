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

"""argparse types: parse people's units, reject bad values by name."""

import argparse

from nova_migtuner import units


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
    return value


def rate(text):
    try:
        return _positive(units.parse_rate(text, what='rate'), text, 'rate',
                         units.RATE_HELP)
    except units.UnitError as e:
        raise argparse.ArgumentTypeError(str(e))


def rate_or_zero(text):
    try:
        return units.parse_rate(text, what='rate')
    except units.UnitError as e:
        raise argparse.ArgumentTypeError(str(e))


def milliseconds(text):
    """'500ms', '2s'; a bare number is milliseconds here."""
    stripped = str(text).strip()
    try:
        if stripped.replace('.', '', 1).isdigit():
            value = float(stripped)
        else:
            value = units.parse_duration(stripped, what='duration') * 1000.0
    except units.UnitError as e:
        raise argparse.ArgumentTypeError(str(e))
    if value < 1:
        raise argparse.ArgumentTypeError(
            'duration %r must be at least 1 ms; expected e.g. 500ms or 2s'
            % text)
    return int(round(value))


def seconds(text):
    try:
        value = units.parse_duration(text, what='duration')
    except units.UnitError as e:
        raise argparse.ArgumentTypeError(str(e))
    if value < 0:
        raise argparse.ArgumentTypeError('duration %r must not be negative'
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
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(
            'load %r is outside 0..1 (0%%..100%%)' % text)
    return value


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
