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

"""The ``migtuner.live_migration.*`` notification payloads: the schema.

Every payload field is described in ``PAYLOAD_FIELDS`` (the single source
of truth: ``build`` refuses a payload that does not match it, ``schema``
turns it into a JSON schema, ``nova_migtuner.nova.notification_objects``
turns it into the versioned objects that go on the wire, and
``doc/source/admin/notifications.rst`` documents it). The version follows
nova's rules: a new optional field bumps the minor version, a renamed or
removed field or a changed type bumps the major version.

On the wire, from 2.0 on, a payload is nova's versioned object envelope
(``nova_object.name``, ``nova_object.namespace`` ``nova_migtuner``,
``nova_object.version``, ``nova_object.data``); 1.x payloads were the flat
dicts ``build`` returns. ``flat_payload`` reads both into the flat form.

Pure: ``build`` returns the flat dict (with ``payload_name`` and
``payload_version``, the envelope's name and version).
"""

import collections
import logging
import math

from nova_migtuner.engine import report as report_mod

LOG = logging.getLogger(__name__)

EVENT_PREFIX = 'migtuner.live_migration.'
START = 'start'
DEFERRED = 'deferred'
ESCALATED = 'escalated'
END = 'end'
ERROR = 'error'
EVENTS = (START, DEFERRED, ESCALATED, END, ERROR)

# 1.0: flat payloads; 1.1: flavor_name.
# 2.0: nova's versioned object envelope; payload_name and payload_version
#      are the envelope's nova_object.name and nova_object.version.
# 2.1: guest_left_paused in .end.
# 2.2: post_copy_recovery and post_copy_recovery_attempts in .end.
# 2.3: monitor_poll_gap_max_ms, predicted_downtime_ms and predicted_method
#      in .end.
PAYLOAD_VERSION = '2.3'
# The namespace of the payload objects (nova's own are ``nova``).
PAYLOAD_NAMESPACE = 'nova_migtuner'

# nova's versioned object envelope.
ENVELOPE_NAME = 'nova_object.name'
ENVELOPE_NAMESPACE = 'nova_object.namespace'
ENVELOPE_VERSION = 'nova_object.version'
ENVELOPE_DATA = 'nova_object.data'

# Integers are those of nova's database and SQLite: signed 64-bit.
INTEGER_MIN = -2 ** 63
INTEGER_MAX = 2 ** 63 - 1

# Outcomes of a migration, in ``.end`` and ``.error``.
# The outcomes are the reports' (one vocabulary).
OUTCOME_COMPLETED = report_mod.OUTCOME_COMPLETED
OUTCOME_ABORTED = report_mod.OUTCOME_ABORTED
OUTCOME_CANCELLED = report_mod.OUTCOME_CANCELLED
OUTCOME_FAILED = report_mod.OUTCOME_FAILED
OUTCOME_REFUSED = report_mod.OUTCOME_REFUSED
OUTCOME_ERROR = report_mod.OUTCOME_ERROR
OUTCOMES = report_mod.OUTCOMES

# *items*: for ``array`` fields the type of the elements (``string``) or the
# fields of the objects they hold; for ``object`` fields its fields.
Field = collections.namedtuple('Field', 'name type nullable description '
                               'items', defaults=(None,))

_T = {'string': str, 'integer': int, 'number': (int, float),
      'boolean': bool, 'array': (list, tuple), 'object': dict}


def _f(name, type_, description, nullable=False, items=None):
    return Field(name, type_, nullable, description, items)


ESCALATION_STEP_FIELDS = (
    _f('trigger', 'string', '``iteration``, ``stalled`` or ``elapsed``.'),
    _f('threshold', 'number',
       'The iteration, or the seconds, at which the step fires.'),
    _f('action', 'string',
       '``raise_downtime``, ``post_copy``, ``pause`` or ``abort``.'),
    _f('downtime_ms', 'integer', 'New max downtime (raise_downtime only).',
       True),
    _f('reason', 'string', 'Why the step is on the ladder.'),
)

ESCALATION_ACTION_FIELDS = (
    _f('action', 'string',
       '``raise_downtime``, ``post_copy``, ``pause`` or ``abort``.'),
    _f('downtime_ms', 'integer', 'New max downtime (raise_downtime only).',
       True),
    _f('source', 'string',
       '``escalation``, ``deadline`` or ``pause-watchdog``.'),
    _f('elapsed_s', 'number', 'Seconds since the migration started.'),
    _f('reason', 'string', 'Why, with the numbers.'),
    _f('applied', 'boolean', 'False when libvirt refused the action.'),
    _f('error', 'string', 'libvirt\'s error when not applied.', True),
)

MEASUREMENT_FIELDS = (
    _f('memory_bytes', 'integer', 'Guest memory size.', True),
    _f('touched_bytes', 'integer', 'Memory the guest has touched.', True),
    _f('dirty_rate_bytes_s', 'number', 'Measured dirty rate, bytes/s.',
       True),
    _f('guest_cpu_load', 'number', 'Guest CPU load, 0..1 of its vCPUs.',
       True),
    _f('host_cpu_load', 'number', 'Host CPU load, 0..1.', True),
    _f('window_s', 'number', 'Length of the measurement, s.', True),
    _f('notes', 'array', 'Why a value could not be measured.',
       items='string'),
)


COMMON_FIELDS = (
    _f('payload_name', 'string',
       'Name of the payload type, e.g. ``MigTunerLiveMigrationEndPayload``.'),
    _f('payload_version', 'string',
       'Version of the payload type, ``major.minor``.'),
    _f('instance_uuid', 'string', 'UUID of the migrated instance.'),
    _f('migration_uuid', 'string', 'UUID of nova\'s Migration record.',
       nullable=True),
    _f('source_host', 'string', 'Compute host the migration started on.'),
    _f('destination_host', 'string', 'Compute host migrated to.'),
    _f('tuned', 'boolean',
       'True when a migtuner plan drives the migration; false when it runs '
       'as stock nova does (disabled, or fell back after an error).'),
    _f('strategy', 'string',
       'Strategy that built the plan, or ``stock`` when untuned.'),
    _f('flavor_name', 'string',
       'Name of the instance\'s flavor, so that reports can be grouped '
       'per flavor (added in 1.1).', nullable=True),
)

PLAN_FIELDS = (
    _f('flags', 'array',
       'libvirt ``VIR_MIGRATE_*`` flag names the migration was started '
       'with (after the plan was applied to nova\'s host flags).',
       items='string'),
    _f('initial_downtime_ms', 'integer',
       'Max downtime set when the migration started, in ms.', True),
    _f('max_downtime_ms', 'integer',
       'Highest max downtime the plan may escalate to, in ms.', True),
    _f('bandwidth_mib_s', 'integer',
       'Bandwidth cap in MiB/s, 0 when not limited.', True),
    _f('parallel_connections', 'integer',
       'Number of migration connections (multifd).', True),
    _f('compression', 'string', 'Compression method, or null.', True),
    _f('completion_deadline_s', 'number',
       'Seconds after the start at which the deadline action is taken.',
       True),
    _f('deadline_action', 'string',
       '``abort``, ``post_copy``, ``pause`` or ``raise_downtime``.', True),
    _f('predicted_total_s', 'number',
       'Predicted total migration time in s; null when the prediction is '
       'that pre-copy does not converge.', True),
    _f('predicted_bytes', 'integer',
       'Predicted bytes to transfer; null when not predicted to converge.',
       True),
    _f('predicted_downtime_ms', 'number',
       'Predicted downtime in ms; null when not predicted to converge '
       '(in ``.end`` since 2.3).', True),
    _f('predicted_method', 'string',
       '``pre-copy``, ``auto-converge``, ``post-copy`` or ``paused`` (in '
       '``.end`` since 2.3).', True),
)

START_FIELDS = COMMON_FIELDS + PLAN_FIELDS + (
    _f('escalation', 'array',
       'The escalation ladder: objects with ``trigger``, ``threshold``, '
       '``action``, ``downtime_ms`` and ``reason``.',
       items=ESCALATION_STEP_FIELDS),
    _f('measurement', 'object',
       'What was measured before planning: ``memory_bytes``, '
       '``touched_bytes``, ``dirty_rate_bytes_s``, ``guest_cpu_load``, '
       '``host_cpu_load``, ``window_s`` (null values were not measurable) '
       'and ``notes`` saying why.', items=MEASUREMENT_FIELDS),
    _f('inputs', 'array',
       'One line per planning input, saying measured/given/assumed.',
       items='string'),
    _f('explain', 'array', 'The plan\'s reasons, one line each.',
       items='string'),
    _f('timing_action', 'string', '``start``, ``wait`` or ``refuse``.',
       True),
    _f('timing_reason', 'string', 'Why the migration started when it did.',
       True),
    _f('waited_s', 'number', 'Seconds waited before starting.'),
    _f('fallback_reason', 'string',
       'Why the migration is untuned (null when tuned).', True),
)

DEFERRED_FIELDS = COMMON_FIELDS + (
    _f('wait_for', 'string',
       '``spacing`` (a fixed time), ``quiet`` (a quieter host, at most '
       'the time) or ``quiet-window`` (the guest\'s next quiet period long '
       'enough for the migration, at most the time).'),
    _f('max_wait_s', 'number', 'Longest time the migration will wait.'),
    _f('reason', 'string', 'Why it waits, with the numbers.'),
)

ESCALATED_FIELDS = COMMON_FIELDS + (
    _f('action', 'string',
       '``raise_downtime``, ``post_copy``, ``pause`` or ``abort``.'),
    _f('downtime_ms', 'integer', 'New max downtime (raise_downtime only).',
       True),
    _f('source', 'string',
       '``escalation`` (a ladder step), ``deadline`` or ``pause-watchdog``.'),
    _f('step', 'integer', 'Index of the ladder step, null otherwise.', True),
    _f('elapsed_s', 'number', 'Seconds since the migration started.'),
    _f('iteration', 'integer', 'QEMU memory iteration when it fired.', True),
    _f('remaining_bytes', 'integer', 'Memory still to send when it fired.',
       True),
    _f('reason', 'string', 'Why, with the numbers that triggered it.'),
    _f('applied', 'boolean', 'False when libvirt refused the action.'),
    _f('error', 'string', 'libvirt\'s error when not applied.', True),
)

END_FIELDS = COMMON_FIELDS + PLAN_FIELDS + (
    _f('outcome', 'string', 'One of: %s.' % ', '.join(
        '``%s``' % o for o in OUTCOMES)),
    _f('final_max_downtime_ms', 'integer',
       'Max downtime in force when the migration ended, in ms.', True),
    _f('escalations_taken', 'integer',
       'Number of escalation actions libvirt accepted.'),
    _f('escalations', 'array',
       'Every action the plan took, in order: objects with ``action``, '
       '``downtime_ms``, ``source``, ``elapsed_s``, ``reason``, '
       '``applied`` and ``error``.', items=ESCALATION_ACTION_FIELDS),
    _f('post_copy', 'boolean', 'True if the migration switched to '
       'post-copy.'),
    _f('downtime_ms', 'integer',
       'Measured downtime (guest paused on the source to resumed on the '
       'destination), libvirt ``downtime``, in ms.', True),
    _f('downtime_net_ms', 'integer',
       'Downtime without the clock difference between the hosts, libvirt '
       '``downtime_net``, in ms.', True),
    _f('data_bytes_transferred', 'integer',
       'All bytes sent (memory and disks), libvirt ``data_processed``.',
       True),
    _f('memory_bytes_transferred', 'integer',
       'Memory bytes sent, libvirt ``memory_processed``.', True),
    _f('memory_total_bytes', 'integer',
       'Guest memory size, libvirt ``memory_total``.', True),
    _f('iterations', 'integer',
       'Pre-copy memory iterations, libvirt ``memory_iteration``.', True),
    _f('postcopy_requests', 'integer',
       'Pages the destination requested during post-copy.', True),
    _f('total_time_s', 'number',
       'Migration time as libvirt measured it (``time_elapsed``), or as '
       'the source driver timed it when libvirt did not report it.', True),
    _f('max_auto_converge_throttle', 'integer',
       'Highest vCPU throttle percentage seen.', True),
    _f('waited_s', 'number', 'Seconds waited before starting.'),
    _f('stats_source', 'string',
       'Where the numbers come from: ``destination`` (completed job '
       'statistics read on the destination), ``source completed`` (the '
       'statistics the source announced when the job completed: after '
       'post-copy), ``source`` (the last sample of the running job) or '
       '``none``.'),
    _f('fallback_reason', 'string',
       'Why the migration ran untuned, or why it was refused (outcome '
       '``refused``: the plan\'s timing or ``host_spacing_s``); null when '
       'tuned.', True),
    _f('guest_left_paused', 'boolean',
       'True if the plan paused the guest and it could not be resumed: '
       'the guest is paused on the source and needs an operator.'),
    _f('post_copy_recovery', 'string',
       'How a post-copy that failed after the switch (the migration link '
       'broke) ended: ``recovered`` (resumed with libvirt\'s '
       '``VIR_MIGRATE_POSTCOPY_RESUME``; the guest runs on the '
       'destination) or ``split`` (not resumed within the bound: the '
       'guest is paused on the source and its newest memory is on the '
       'destination; an operator must resume the post-copy or recover '
       'the guest). Null when post-copy did not fail.', True),
    _f('post_copy_recovery_attempts', 'integer',
       'How many times the failed post-copy was resumed (null when it '
       'did not fail).', True),
    _f('monitor_poll_gap_max_ms', 'integer',
       'The longest time between two polls of the job by nova\'s migration '
       'monitor, in ms. nova polls every 500 ms; a longer gap is time in '
       'which no escalation step, pause watchdog or abort could act (a '
       'blocked monitor). Null when the job was polled fewer than twice.',
       True),
)

ERROR_FIELDS = COMMON_FIELDS + (
    _f('phase', 'string',
       'Where it happened: ``measure``, ``plan``, ``timing``, ``tune``, '
       '``monitor``, ``report`` or ``migrate``.'),
    _f('exception_class', 'string', 'Class of the exception.'),
    _f('error', 'string', 'Message of the exception.'),
    _f('fallback', 'boolean',
       'True when the migration continued with nova\'s stock behaviour; '
       'false when nova itself failed the migration.'),
    _f('outcome', 'string', 'Outcome when the migration ended, or null '
       'while it continues.', True),
)

PAYLOAD_FIELDS = {
    START: START_FIELDS,
    DEFERRED: DEFERRED_FIELDS,
    ESCALATED: ESCALATED_FIELDS,
    END: END_FIELDS,
    ERROR: ERROR_FIELDS,
}

PAYLOAD_NAMES = {
    START: 'MigTunerLiveMigrationStartPayload',
    DEFERRED: 'MigTunerLiveMigrationDeferredPayload',
    ESCALATED: 'MigTunerLiveMigrationEscalatedPayload',
    END: 'MigTunerLiveMigrationEndPayload',
    ERROR: 'MigTunerLiveMigrationErrorPayload',
}


class PayloadError(ValueError):
    """A payload does not match its declared fields."""


def event_type(event):
    return EVENT_PREFIX + event


def schema(event):
    """A JSON schema (draft 7) of the payload of *event*."""
    return dict(_json_schema(PAYLOAD_FIELDS[event]), **{
        '$schema': 'http://json-schema.org/draft-07/schema#',
        'title': PAYLOAD_NAMES[event],
        'version': PAYLOAD_VERSION})


def _json_schema(fields):
    props = {}
    for field in fields:
        types = [field.type, 'null'] if field.nullable else field.type
        prop = {'type': types, 'description': field.description}
        if field.type == 'array' and field.items == 'string':
            prop['items'] = {'type': 'string'}
        elif field.type == 'array' and field.items:
            prop['items'] = _json_schema(field.items)
        elif field.type == 'object' and field.items:
            nested = _json_schema(field.items)
            del nested['type']             # keeps a nullable object's null
            prop.update(nested)
        props[field.name] = prop
    return {
        'type': 'object',
        'properties': props,
        'required': [f.name for f in fields],
        'additionalProperties': False,
    }


def _kind(field_type, value):
    """The problem of *value* as a *field_type*, or None."""
    if isinstance(value, bool) and field_type in ('integer', 'number'):
        return 'is a boolean, not %s' % field_type
    if not isinstance(value, _T[field_type]):
        return 'is not %s' % field_type
    if isinstance(value, int) and not isinstance(value, bool) and \
            not INTEGER_MIN <= value <= INTEGER_MAX:
        return 'is out of range (%d..%d)' % (INTEGER_MIN, INTEGER_MAX)
    if isinstance(value, float) and not math.isfinite(value):
        return 'is not a finite number'
    return None


def _value_problems(field, value, where):
    if value is None:
        return [] if field.nullable else ['%s is null' % where]
    kind = _kind(field.type, value)
    if kind:
        return ['%s=%s %s' % (where, _short_repr(value), kind)]
    problems = []
    if field.type == 'array' and field.items == 'string':
        for i, item in enumerate(value):
            if not isinstance(item, str):
                problems.append('%s[%d]=%s is not string'
                                % (where, i, _short_repr(item)))
    elif field.type == 'array' and field.items:
        for i, item in enumerate(value):
            problems += _object_problems(field.items, item,
                                         '%s[%d]' % (where, i))
    elif field.type == 'object' and field.items:
        problems += _object_problems(field.items, value, where)
    return problems


def _short_repr(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + '...'


def _object_problems(fields, payload, where='', missing_ok=False,
                     extra_ok=False):
    if not isinstance(payload, dict):
        return ['%s=%s is not object'
                % (where or 'payload', _short_repr(payload))]
    prefix = where + '.' if where else ''
    problems = []
    declared = {f.name: f for f in fields}
    missing = sorted(set(declared) - set(payload))
    extra = sorted(set(payload) - set(declared))
    if missing and not missing_ok:
        problems.append('missing fields: %s' % ', '.join(
            prefix + name for name in missing))
    if extra and not extra_ok:
        problems.append('undeclared fields: %s' % ', '.join(
            prefix + name for name in extra))
    for name, value in sorted(payload.items()):
        field = declared.get(name)
        if field is not None:
            problems += _value_problems(field, value, prefix + name)
    return problems


def validate(event, payload, missing_ok=False, extra_ok=False):
    """Return a list of problems of *payload* against *event*'s fields.

    A reader of payloads of other versions passes *missing_ok* (an older
    version lacks later fields) and *extra_ok* (a newer minor version adds
    fields); the fields that are there must still have their types.
    """
    problems = _object_problems(PAYLOAD_FIELDS[event], payload,
                                missing_ok=missing_ok, extra_ok=extra_ok)
    version = payload.get('payload_version') if isinstance(
        payload, dict) else None
    if not (missing_ok or extra_ok) and version not in (None,
                                                        PAYLOAD_VERSION):
        problems.append('payload_version %r is not %s'
                        % (version, PAYLOAD_VERSION))
    outcome = payload.get('outcome') if isinstance(payload, dict) else None
    if isinstance(outcome, str) and outcome not in OUTCOMES:
        # Stored, it would count in no column of the report.
        problems.append('outcome=%r is not one of: %s'
                        % (outcome, ', '.join(OUTCOMES)))
    return problems


def major_version(version):
    """The major number of a ``major.minor`` version; ValueError if not."""
    parts = str(version).split('.')
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError('payload version %r is not major.minor'
                         % (version,))
    return int(parts[0])


def _unwrap(value):
    if isinstance(value, dict) and ENVELOPE_DATA in value:
        data = value[ENVELOPE_DATA]
        if not isinstance(data, dict):
            raise ValueError('%s of %s is not an object'
                             % (ENVELOPE_DATA, value.get(ENVELOPE_NAME)))
        return {k: _unwrap(v) for k, v in data.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def is_envelope(payload):
    return isinstance(payload, dict) and ENVELOPE_DATA in payload


def flat_payload(event, payload):
    """The flat dict (1.x form) of *payload*, an envelope or a 1.x dict.

    Nested objects become dicts; the envelope's name and version become
    ``payload_name`` and ``payload_version``.

    :raises ValueError: not a payload of *event* in a version this code
        reads (namespace, name, or major version).
    """
    if not isinstance(payload, dict):
        raise ValueError('payload is not an object: %s'
                         % _short_repr(payload))
    if not is_envelope(payload):
        # 1.x as sent, or what this function made of an envelope.
        version = payload.get('payload_version')
        if version is not None and major_version(version) > major_version(
                PAYLOAD_VERSION):
            raise ValueError('payload version %r: this version reads up '
                             'to %d.x' % (version,
                                          major_version(PAYLOAD_VERSION)))
        return dict(payload)
    namespace = payload.get(ENVELOPE_NAMESPACE)
    name = payload.get(ENVELOPE_NAME)
    version = payload.get(ENVELOPE_VERSION)
    if namespace != PAYLOAD_NAMESPACE:
        raise ValueError('%s %r is not %s' % (ENVELOPE_NAMESPACE, namespace,
                                              PAYLOAD_NAMESPACE))
    if name != PAYLOAD_NAMES[event]:
        raise ValueError('%s %r is not %s' % (ENVELOPE_NAME, name,
                                              PAYLOAD_NAMES[event]))
    if major_version(version) != major_version(PAYLOAD_VERSION):
        raise ValueError('%s %r: this version reads %d.x' % (
            ENVELOPE_VERSION, version, major_version(PAYLOAD_VERSION)))
    flat = _unwrap(payload)
    flat.update(payload_name=name, payload_version=version)
    return flat


def build(event, **values):
    """Return the payload dict of *event*; raise PayloadError if invalid."""
    payload = dict(values)
    payload['payload_name'] = PAYLOAD_NAMES[event]
    payload['payload_version'] = PAYLOAD_VERSION
    problems = validate(event, payload)
    if problems:
        raise PayloadError('%s payload: %s' % (event, '; '.join(problems)))
    return payload
