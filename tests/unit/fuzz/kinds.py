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
"""The kinds of bad input the fuzz tests and ``tools/fuzz-report`` try.

Each ``InputKind`` has a hypothesis strategy of inputs and an ``attempt``
that feeds one input to the project's parser and says what happened:

- ``valid``: parsed, and the value is within what the parser allows;
- ``clear error``: refused with the project's error type, naming the value;
- ``unclear error``: refused with that type, but the message does not name
  the value;
- ``silent acceptance``: parsed, but the value is out of range (or breaks
  the code that uses it next);
- ``traceback``: any other exception.

The goal is that only the first two happen.
"""

import argparse
import collections
import contextlib
import dataclasses
import io
import json
import math
import os
import tempfile
from typing import Any, Callable
from unittest import mock

import hypothesis
from hypothesis import strategies as st

from nova_migtuner.cmd import argtypes
from nova_migtuner.cmd import cli
from nova_migtuner.osc import planning as osc_planning
from nova_migtuner.osc.v1 import common as osc_common
from nova_migtuner.osc.v1 import drain as drain_cmd
from nova_migtuner.osc.v1 import migrate as migrate_cmd
from nova_migtuner.planning import notification_schema as schema
from nova_migtuner.planning import planner
from nova_migtuner.planning import policy
from nova_migtuner.reports import store as store_mod
from nova_migtuner.reports import summary
from nova_migtuner import units

VALID = 'valid'
CLEAR = 'clear error'
UNCLEAR = 'unclear error'
SILENT = 'silent acceptance'
TRACEBACK = 'traceback'
VERDICTS = (VALID, CLEAR, UNCLEAR, SILENT, TRACEBACK)
GOOD = (VALID, CLEAR)


@dataclasses.dataclass(frozen=True)
class Outcome:
    verdict: str
    detail: str = ''


@dataclasses.dataclass(frozen=True)
class InputKind:
    name: str
    strategy: Any               # hypothesis SearchStrategy of inputs
    attempt: Callable           # input -> Outcome


def _traceback(e):
    return Outcome(TRACEBACK, '%s: %s' % (type(e).__name__, str(e)[:300]))


# -- text that people type for numbers

_SPECIAL = ['', ' ', '.', '-', '-0', '0', '00', '0.0', '.5', '5.', '-.5',
            'inf', '-inf', 'nan', 'NaN', 'Infinity', '1e5', '1E-3', '0x10',
            '1_000', '+5', '\u00b2', '\u0661\u0662', '\uff15', '1\x00',
            '1' * 400, '9' * 4400, '0.' + '0' * 400 + '1']
_UNITS = ['', 'B', 'b', 'KiB', 'MiB', 'GiB', 'TiB', 'kb', 'MB', 'GB', 'TB',
          'gb', 'bit/s', 'Gbit/s', 'Gbps', 'Gb/s', 'MB/s', 'MiB/s', 'GiB/s',
          'gb/s', 'GBPS', 'Gib/s', 'Gbps/s', 'ms', 's', 'min', 'h', 'd', '%',
          'x', ' MiB', 's ']

_numbers = st.one_of(
    st.integers(min_value=-10 ** 420, max_value=10 ** 420).map(str),
    st.integers(min_value=0, max_value=100000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(min_value=0, max_value=1e6).map(lambda f: '%g' % f),
    st.text(alphabet='0123456789.-+e_ ', max_size=12),
    st.sampled_from(_SPECIAL))

number_text = st.one_of(
    st.builds(lambda n, u: n + u, _numbers, st.sampled_from(_UNITS)),
    st.text(max_size=20))


# -- argparse types

def _finite_within(low, high, integer=False, low_open=False):
    def check(value):
        if isinstance(value, bool) or not isinstance(
                value, int if integer else (int, float)):
            return 'not a%s number: %r' % ('n integer' if integer else '',
                                           value)
        if isinstance(value, float) and not math.isfinite(value):
            return 'not finite: %r' % value
        if value < low or (low_open and value == low) or value > high:
            return 'outside %s..%s: %r' % (low, high, value)
        return None
    return check


ARGTYPES = {
    'size': (argtypes.size,
             _finite_within(units.MiB, argtypes.MAX_SIZE_BYTES, True)),
    'rate': (argtypes.rate,
             _finite_within(0, argtypes.MAX_RATE_BYTES_S, low_open=True)),
    'rate_or_zero': (argtypes.rate_or_zero,
                     _finite_within(0, argtypes.MAX_RATE_BYTES_S)),
    'milliseconds': (argtypes.milliseconds,
                     _finite_within(1, argtypes.MAX_MILLISECONDS, True)),
    'seconds': (argtypes.seconds,
                _finite_within(0, argtypes.MAX_SECONDS)),
    'positive_seconds': (argtypes.positive_seconds,
                         _finite_within(0, argtypes.MAX_SECONDS,
                                        low_open=True)),
    'fraction': (argtypes.fraction, _finite_within(0, 1)),
    'positive_int': (osc_common.positive_int,
                     _finite_within(1, osc_common.MAX_COUNT, True)),
}


def attempt_argtype(name):
    parse, check = ARGTYPES[name]

    def attempt(text):
        try:
            value = parse(text)
        except argparse.ArgumentTypeError as e:
            if repr(text) in str(e):
                return Outcome(CLEAR)
            return Outcome(UNCLEAR, '%r: %s' % (text, e))
        except Exception as e:
            return _traceback(e)
        problem = check(value)
        if problem:
            return Outcome(SILENT, '%r -> %s' % (text, problem))
        return Outcome(VALID)
    return attempt


# -- whole command lines

def _valid_or(valid_texts):
    """Mostly good values (so that the command gets far), some bad."""
    return st.tuples(st.integers(0, 3), st.sampled_from(valid_texts),
                     number_text).map(lambda t: t[1] if t[0] else t[2])


_PLAN_OPTIONS = {
    '--memory': ['512MiB', '2GiB', '32GiB', '1TiB'],
    '--dirty-rate': ['0', '10MiB/s', '150MiB/s', '1GB/s'],
    '--bandwidth': ['1Gbit/s', '10Gbps', '110MB/s'],
    '--touched': ['256MiB', '1GiB'],
    '--working-set': ['64MiB', '1GiB'],
    '--max-downtime': ['10', '300ms', '2s', '60000'],
    '--host-load': ['0.5', '70%', '1'],
    '--since-last-migration': ['0', '30s', '5min'],
    '--max-deferral': ['0', '2min', '86400'],
}
_PLAN_BOUNDS = {'--max-downtime': (10, 60000), '--max-deferral': (0, 86400)}

plan_argv = st.fixed_dictionaries(
    {'--memory': _valid_or(_PLAN_OPTIONS['--memory'])},
    optional={k: _valid_or(v) for k, v in _PLAN_OPTIONS.items()
              if k != '--memory'}).flatmap(
    lambda values: st.tuples(
        st.just(values),
        st.lists(st.sampled_from(['--permit-post-copy',
                                  '--permit-auto-converge',
                                  '--permit-pause']), unique=True),
        st.sampled_from([None] + list(planner.available_strategies()) +
                        ['yolo', ''])))


def _shown_forms(value):
    """*value* as typed, and as an error may show it once read."""
    forms = [repr(value)]
    if len(value) > 1:
        forms.append(value)
    try:
        forms.append(units.format_size(argtypes.size(value)))
    except Exception:     # not a size (or an old parser's traceback)
        pass
    return forms


def _names_a_value(err, values):
    return any(form in err for v in values for form in _shown_forms(v)) \
        or 'unknown strategy' in err


def _plan_json_problem(data, values):
    """Why an accepted plan is out of range, or None."""
    text = json.dumps(data)
    if 'Infinity' in text or 'NaN' in text:
        return 'plan has a non-finite number'
    if data['initial_downtime_ms'] > data['max_downtime_ms']:
        return 'initial downtime above the cap'
    if '--max-downtime' in values:
        cap = argtypes.milliseconds(values['--max-downtime'])
        if data['max_downtime_ms'] > cap:
            return 'downtime %d above --max-downtime %d' % (
                data['max_downtime_ms'], cap)
    for option, (low, high) in _PLAN_BOUNDS.items():
        if option in values:
            parse = (argtypes.milliseconds if option == '--max-downtime'
                     else argtypes.seconds)
            value = parse(values[option])
            if not low <= value <= high:
                return '%s %r accepted outside %s..%s' % (
                    option, values[option], low, high)
    return None


def attempt_plan_argv(drawn):
    values, flags, strategy = drawn
    argv = ['plan', '--format', 'json']
    argv += ['%s=%s' % (k, v) for k, v in sorted(values.items())]
    argv += flags
    if strategy is not None:
        argv.append('--strategy=%s' % strategy)
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(argv)
    except SystemExit as e:
        if e.code == 2 and _names_a_value(err.getvalue(),
                                          list(values.values()) +
                                          [strategy or '']):
            return Outcome(CLEAR)
        return Outcome(UNCLEAR, '%r: exit %r: %s'
                       % (argv, e.code, err.getvalue()[-300:]))
    except Exception as e:
        return _traceback(e)
    if code != 0:
        return Outcome(UNCLEAR, '%r: exit %r' % (argv, code))
    try:
        problem = _plan_json_problem(json.loads(out.getvalue()), values)
    except Exception as e:
        return _traceback(e)
    if problem:
        return Outcome(SILENT, '%r: %s' % (argv, problem))
    return Outcome(VALID)


_OSC_OPTIONS = {
    drain_cmd.DrainHost: {
        '--max-parallel': ('positive_int', ['1', '2', '8']),
        '--spacing': ('seconds', ['0', '10s', '1min']),
        '--report-timeout': ('seconds', ['0', '30']),
        '--poll-interval': ('positive_seconds', ['500ms', '2s']),
        '--order': (None, ['cheapest-first', 'largest-first']),
        '--migration-timeout': ('seconds', ['0', '30min']),
        '--attempts': ('positive_int', ['1', '3']),
        '--retry-delay': ('seconds', ['0', '1min']),
    },
    migrate_cmd.MigrateServer: {
        '--ttl': ('seconds', ['300', '5min']),
        '--timeout': ('seconds', ['0', '10min']),
        '--report-timeout': ('seconds', ['0', '30']),
        '--poll-interval': ('positive_seconds', ['500ms', '2s']),
    },
}
_OSC_POSITIONAL = {drain_cmd.DrainHost: ['compute1'],
                   migrate_cmd.MigrateServer: ['web', '--wait']}
_parsers = {}


def _osc_parser(command_class):
    if command_class not in _parsers:
        _parsers[command_class] = command_class(
            mock.Mock(), None).get_parser('openstack migtuner')
    return _parsers[command_class]


osc_argv = st.sampled_from(sorted(_OSC_OPTIONS, key=lambda c: c.__name__)
                           ).flatmap(
    lambda command_class: st.tuples(
        st.just(command_class),
        st.fixed_dictionaries({}, optional={
            k: _valid_or(v[1]) for k, v in
            _OSC_OPTIONS[command_class].items()})))


def attempt_osc_argv(drawn):
    command_class, values = drawn
    argv = list(_OSC_POSITIONAL[command_class]) + [
        '%s=%s' % (k, v) for k, v in sorted(values.items())]
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), \
                contextlib.redirect_stdout(io.StringIO()):
            args = _osc_parser(command_class).parse_args(argv)
    except SystemExit as e:
        if e.code == 2 and _names_a_value(err.getvalue(), values.values()):
            return Outcome(CLEAR)
        return Outcome(UNCLEAR, '%r: %s' % (argv, err.getvalue()[-300:]))
    except Exception as e:
        return _traceback(e)
    for option, (type_name, _) in _OSC_OPTIONS[command_class].items():
        if option not in values or type_name is None:
            continue
        value = getattr(args, option[2:].replace('-', '_'))
        problem = ARGTYPES[type_name][1](value)
        if problem:
            return Outcome(SILENT, '%r: %s %s' % (argv, option, problem))
    return Outcome(VALID)


def attempt_report_since(text):
    try:
        since = summary.parse_since(text, 1.7e9)
    except ValueError as e:
        if repr(text) in str(e):
            return Outcome(CLEAR)
        return Outcome(UNCLEAR, '%r: %s' % (text, e))
    except Exception as e:
        return _traceback(e)
    if not isinstance(since, float) or not math.isfinite(since):
        return Outcome(SILENT, '%r -> %r' % (text, since))
    return Outcome(VALID)


since_text = st.one_of(
    number_text,
    st.builds(lambda n, u: n + u, _numbers,
              st.sampled_from(['s', 'min', 'm', 'h', 'd', 'w'])),
    st.datetimes().map(lambda d: d.isoformat()),
    st.text(alphabet='0123456789-:T+Z. ', max_size=30))


# -- flavor extra specs and image properties

STRATEGIES = tuple(planner.available_strategies())
TENANT_STRATEGIES = ('balanced', 'min_downtime')
_spec_values = st.one_of(
    number_text,
    st.sampled_from(['true', 'false', 'True', 'NO', 'on', '1', '0', 'yes ',
                     'maybe'] + list(STRATEGIES) + ['yolo', 'Balanced']),
    st.integers(min_value=-10 ** 30, max_value=10 ** 30),
    st.booleans(), st.none(), st.floats())


def _spec_dict(prefix, extra_keys):
    names = [s.name for s in policy.SPECS]
    keys = st.one_of(
        st.sampled_from([prefix + n for n in names] + extra_keys),
        st.text(max_size=12).map(lambda t: prefix + t),
        st.text(max_size=12))
    return st.dictionaries(keys, _spec_values, max_size=6)


extra_specs = _spec_dict(policy.FLAVOR_PREFIX,
                         ['migtuner:cpu_mode', 'hw:cpu_policy'])
image_properties = _spec_dict(policy.IMAGE_PREFIX,
                              ['hw_disk_bus', 'os_distro'])


def _policy_problem(guest, allowed):
    if guest.strategy is not None and guest.strategy not in allowed:
        return 'strategy %r not allowed' % guest.strategy
    low, high = policy.MAX_DOWNTIME_RANGE
    wish = guest.max_downtime_ms
    if wish is not None and (isinstance(wish, bool) or
                             not isinstance(wish, int) or
                             not low <= wish <= high):
        return 'max_downtime_ms %r outside %d..%d' % (wish, low, high)
    for name in ('permit_post_copy', 'permit_auto_converge'):
        if getattr(guest, name) not in (None, True, False):
            return '%s %r not a boolean' % (name, getattr(guest, name))
    return None


def _attempt_policy(specs, props, allowed):
    try:
        guest = policy.guest_policy_from(
            extra_specs=specs, image_properties=props,
            available_strategies=STRATEGIES,
            tenant_strategies=TENANT_STRATEGIES)
    except policy.PolicyError as e:
        message = str(e)
        bad = list((specs or {}).items()) + list((props or {}).items())
        if any(k in message and repr(v) in message for k, v in bad):
            return Outcome(CLEAR)
        return Outcome(UNCLEAR, '%r %r: %s' % (specs, props, message))
    except Exception as e:
        return _traceback(e)
    problem = _policy_problem(guest, allowed)
    if problem:
        return Outcome(SILENT, '%r %r: %s' % (specs, props, problem))
    return Outcome(VALID)


def attempt_extra_specs(specs):
    return _attempt_policy(specs, {}, STRATEGIES)


def attempt_image_properties(props):
    return _attempt_policy({}, props, TENANT_STRATEGIES)


# -- report-collector payloads

_GOOD_VALUES = {'string': 'x', 'integer': 1, 'number': 1.5,
                'boolean': True, 'array': [], 'object': {}}
_GOOD_END = {f.name: _GOOD_VALUES[f.type]
             for f in schema.PAYLOAD_FIELDS[schema.END]}
_GOOD_END.update(payload_name=schema.PAYLOAD_NAMES[schema.END],
                 payload_version=schema.PAYLOAD_VERSION,
                 instance_uuid='4b1c5b5e-0f8e-4d57-9a1d-7d3b1e0c2a11',
                 outcome=schema.OUTCOME_COMPLETED)

_json_scalars = st.one_of(
    st.none(), st.booleans(), st.text(max_size=10),
    st.integers(min_value=-2 ** 70, max_value=2 ** 70),
    st.sampled_from([2 ** 63, 2 ** 64, -2 ** 63 - 1, 10 ** 400]),
    st.floats(allow_nan=True, allow_infinity=True))
_json_values = st.recursive(
    _json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=5), inner,
                                            max_size=3)),
    max_leaves=6)

payloads = st.one_of(
    st.builds(
        lambda changes, dropped, extra: {
            **{k: v for k, v in _GOOD_END.items() if k not in dropped},
            **changes, **extra},
        st.dictionaries(st.sampled_from(sorted(_GOOD_END)), _json_values,
                        max_size=4),
        st.sets(st.sampled_from(sorted(_GOOD_END)), max_size=2),
        st.dictionaries(st.text(max_size=8), _json_values, max_size=1)),
    st.dictionaries(st.sampled_from(sorted(_GOOD_END)), _json_values),
    _json_values)


class _StoreBox:
    """One temporary report database for all attempts of a run."""
    store = None
    count = 0

    @classmethod
    def get(cls):
        if cls.store is None:
            path = os.path.join(tempfile.mkdtemp(prefix='fuzz-reports-'),
                                'reports.sqlite')
            cls.store = store_mod.ReportStore(path)
        return cls.store


def _names_payload_problem(problems, payload):
    if not isinstance(payload, dict):
        return any('object' in p for p in problems)
    return all(any(str(name) in p for name in payload) or 'missing' in p
               for p in problems)


def attempt_payload(payload):
    try:
        problems = schema.validate(schema.END, payload)
    except Exception as e:
        return _traceback(e)
    if problems:
        if _names_payload_problem(problems, payload):
            return Outcome(CLEAR)
        return Outcome(UNCLEAR, '%r: %s' % (payload, problems))
    # Accepted: what the collector and the commands then do with it must
    # work.
    try:
        report_store = _StoreBox.get()
        _StoreBox.count += 1
        message_id = 'fuzz-%d' % _StoreBox.count
        try:
            report = store_mod.report_row(message_id, payload)
        except ValueError as e:
            # The collector counts it as rejected, naming the field.
            return Outcome(CLEAR if 'payload' in str(e) else UNCLEAR,
                           str(e))
        report_store.add(report, payload)
        stored = report_store.reports(migration_uuid=report.migration_uuid)
        summary.by_flavor(stored)
        osc_planning.history_notes(stored)
        for number in (report.total_time_s, report.downtime_ms,
                       report.data_bytes, report.predicted_total_s):
            if number is not None and not math.isfinite(number):
                return Outcome(SILENT, '%r: %r stored' % (payload, number))
    except Exception as e:
        return Outcome(SILENT, '%r accepted, then %s: %s' % (
            payload, type(e).__name__, str(e)[:200]))
    return Outcome(VALID)


KINDS = tuple(
    [InputKind('argtypes.%s' % name, number_text, attempt_argtype(name))
     for name in ARGTYPES] + [
        InputKind('nova-migtuner plan', plan_argv, attempt_plan_argv),
        InputKind('openstack migtuner drain/migrate', osc_argv,
                  attempt_osc_argv),
        InputKind('openstack migtuner report --since', since_text,
                  attempt_report_since),
        InputKind('flavor extra specs', extra_specs, attempt_extra_specs),
        InputKind('image properties', image_properties,
                  attempt_image_properties),
        InputKind('collector payloads', payloads, attempt_payload),
    ])
KINDS_BY_NAME = {k.name: k for k in KINDS}


def run(kind, examples, seed=None):
    """Try *examples* inputs of *kind*; never fails, it counts.

    :returns: ``(Counter of verdicts, {verdict: first detail})``.
    """
    counts = collections.Counter()
    details = {}

    @hypothesis.settings(max_examples=examples, deadline=None,
                         database=None, phases=[hypothesis.Phase.generate],
                         suppress_health_check=list(hypothesis.HealthCheck))
    @hypothesis.given(kind.strategy)
    def attempt(value):
        outcome = kind.attempt(value)
        counts[outcome.verdict] += 1
        if outcome.verdict not in GOOD:
            details.setdefault(outcome.verdict, outcome.detail)
    if seed is not None:
        attempt = hypothesis.seed(seed)(attempt)
    attempt()
    return counts, details
