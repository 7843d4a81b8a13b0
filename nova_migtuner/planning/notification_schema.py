"""The ``migtuner.live_migration.*`` notification payloads: the schema.

Payloads are flat JSON objects with stable field names, described field by
field in ``PAYLOAD_FIELDS`` (the single source of truth: ``build`` refuses
a payload that does not match it, ``schema`` turns it into a JSON schema,
and ``doc/source/admin/notifications.rst`` documents it). Every payload
carries ``payload_name`` and ``payload_version``; the version follows nova's
rules: a new optional field bumps the minor version, a renamed or removed
field or a changed type bumps the major version.

Pure: ``nova_migtuner.nova.notifications.emit`` sends what ``build``
returns through nova's versioned notifier.
"""

import collections
import logging

from nova_migtuner.engine import report as report_mod

LOG = logging.getLogger(__name__)

EVENT_PREFIX = 'migtuner.live_migration.'
START = 'start'
DEFERRED = 'deferred'
ESCALATED = 'escalated'
END = 'end'
ERROR = 'error'
EVENTS = (START, DEFERRED, ESCALATED, END, ERROR)

PAYLOAD_VERSION = '1.1'

# Outcomes of a migration, in ``.end`` and ``.error``.
# The outcomes are the reports' (one vocabulary).
OUTCOME_COMPLETED = report_mod.OUTCOME_COMPLETED
OUTCOME_ABORTED = report_mod.OUTCOME_ABORTED
OUTCOME_CANCELLED = report_mod.OUTCOME_CANCELLED
OUTCOME_FAILED = report_mod.OUTCOME_FAILED
OUTCOME_REFUSED = report_mod.OUTCOME_REFUSED
OUTCOME_ERROR = report_mod.OUTCOME_ERROR
OUTCOMES = report_mod.OUTCOMES

Field = collections.namedtuple('Field', 'name type nullable description')

_T = {'string': str, 'integer': int, 'number': (int, float),
      'boolean': bool, 'array': (list, tuple), 'object': dict}


def _f(name, type_, description, nullable=False):
    return Field(name, type_, nullable, description)


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
       'with (after the plan was applied to nova\'s host flags).'),
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
)

START_FIELDS = COMMON_FIELDS + PLAN_FIELDS + (
    _f('escalation', 'array',
       'The escalation ladder: objects with ``trigger``, ``threshold``, '
       '``action``, ``downtime_ms`` and ``reason``.'),
    _f('predicted_downtime_ms', 'number', 'Predicted downtime in ms.', True),
    _f('predicted_method', 'string',
       '``pre-copy``, ``auto-converge``, ``post-copy`` or ``paused``.',
       True),
    _f('measurement', 'object',
       'What was measured before planning: ``memory_bytes``, '
       '``touched_bytes``, ``dirty_rate_bytes_s``, ``guest_cpu_load``, '
       '``host_cpu_load``, ``window_s`` (null values were not measurable) '
       'and ``notes`` saying why.'),
    _f('inputs', 'array',
       'One line per planning input, saying measured/given/assumed.'),
    _f('explain', 'array', 'The plan\'s reasons, one line each.'),
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
       '``applied`` and ``error``.'),
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
       'statistics read on the destination), ``source`` (the last sample '
       'of the running job) or ``none``.'),
    _f('fallback_reason', 'string',
       'Why the migration ran untuned (null when tuned).', True),
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
    props = {}
    for field in PAYLOAD_FIELDS[event]:
        types = [field.type, 'null'] if field.nullable else field.type
        props[field.name] = {'type': types,
                             'description': field.description}
    return {
        '$schema': 'http://json-schema.org/draft-07/schema#',
        'title': PAYLOAD_NAMES[event],
        'version': PAYLOAD_VERSION,
        'type': 'object',
        'properties': props,
        'required': [f.name for f in PAYLOAD_FIELDS[event]],
        'additionalProperties': False,
    }


def validate(event, payload):
    """Return a list of problems of *payload* against *event*'s fields."""
    problems = []
    fields = {f.name: f for f in PAYLOAD_FIELDS[event]}
    missing = sorted(set(fields) - set(payload))
    extra = sorted(set(payload) - set(fields))
    if missing:
        problems.append('missing fields: %s' % ', '.join(missing))
    if extra:
        problems.append('undeclared fields: %s' % ', '.join(extra))
    for name, value in sorted(payload.items()):
        field = fields.get(name)
        if field is None:
            continue
        if value is None:
            if not field.nullable:
                problems.append('%s is null' % name)
            continue
        expected = _T[field.type]
        if isinstance(value, bool) and field.type in ('integer', 'number'):
            problems.append('%s is a boolean, not %s' % (name, field.type))
        elif not isinstance(value, expected):
            problems.append('%s=%r is not %s' % (name, value, field.type))
    if payload.get('payload_version') not in (None, PAYLOAD_VERSION):
        problems.append('payload_version %r is not %s'
                        % (payload.get('payload_version'), PAYLOAD_VERSION))
    return problems


def build(event, **values):
    """Return the payload dict of *event*; raise PayloadError if invalid."""
    payload = dict(values)
    payload['payload_name'] = PAYLOAD_NAMES[event]
    payload['payload_version'] = PAYLOAD_VERSION
    problems = validate(event, payload)
    if problems:
        raise PayloadError('%s payload: %s' % (event, '; '.join(problems)))
    return payload
