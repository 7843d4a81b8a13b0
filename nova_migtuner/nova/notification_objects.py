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

"""The ``migtuner.live_migration.*`` payloads as nova versioned objects.

Each payload is an oslo.versionedobjects notification payload in the
``nova_migtuner`` namespace, registered with
``NovaObjectRegistry.register_notification`` as nova registers its own
(``nova/notifications/objects/``). Their fields are those of
``planning.notification_schema`` (the single source of truth); nested
values (the escalation ladder, the actions taken, the measurement) are
nested payload objects, as nova nests e.g. its flavor payload.

On the wire a payload is ``obj_to_primitive()``: nova's envelope
``nova_object.name`` / ``namespace`` / ``version`` / ``data``.

Only the payloads are objects: nova's ``NotificationBase`` carries an
``EventType`` whose action and phase are nova's own enums, which have no
``live_migration.deferred`` or ``.escalated``. The event types stay
``migtuner.live_migration.<event>`` and ``notifications.emit`` sends the
envelope through nova's versioned notifier.
"""

from nova.notifications.objects import base as notification_base
from nova.objects import base as nova_base
from nova.objects import fields as nova_fields

from nova_migtuner.planning import notification_schema as schema

# Fields of the flat dict that are the envelope's name and version.
ENVELOPE_FIELDS = ('payload_name', 'payload_version')

ESCALATION_STEP = 'MigTunerEscalationStepPayload'
ESCALATION_ACTION = 'MigTunerEscalationActionPayload'
MEASUREMENT = 'MigTunerMeasurementPayload'
# The nested payload object of each nested field list of the schema.
_NESTED = {
    schema.ESCALATION_STEP_FIELDS: ESCALATION_STEP,
    schema.ESCALATION_ACTION_FIELDS: ESCALATION_ACTION,
    schema.MEASUREMENT_FIELDS: MEASUREMENT,
}

_SCALAR_FIELDS = {
    'string': nova_fields.StringField,
    'integer': nova_fields.IntegerField,
    'number': nova_fields.FloatField,
    'boolean': nova_fields.BooleanField,
}


def _ovo_field(field):
    nullable = field.nullable
    if field.type in _SCALAR_FIELDS:
        return _SCALAR_FIELDS[field.type](nullable=nullable)
    if field.type == 'array' and field.items == 'string':
        return nova_fields.ListOfStringsField(nullable=nullable)
    if field.type == 'array' and field.items in _NESTED:
        return nova_fields.ListOfObjectsField(_NESTED[field.items],
                                              nullable=nullable)
    if field.type == 'object' and field.items in _NESTED:
        return nova_fields.ObjectField(_NESTED[field.items],
                                       nullable=nullable)
    raise TypeError('no versioned object field for %s (%s, items %r)'
                    % (field.name, field.type, field.items))


def ovo_fields(fields):
    """``fields`` of a payload object from the schema's *fields*."""
    return {f.name: _ovo_field(f) for f in fields
            if f.name not in ENVELOPE_FIELDS}


@nova_base.NovaObjectRegistry.register_if(False)
class MigTunerPayloadBase(notification_base.NotificationPayloadBase):
    """Base of every nova_migtuner payload: the project's own namespace."""
    OBJ_PROJECT_NAMESPACE = schema.PAYLOAD_NAMESPACE
    # Version 1.0: Initial version
    VERSION = '1.0'


@nova_base.NovaObjectRegistry.register_notification
class MigTunerEscalationStepPayload(MigTunerPayloadBase):
    """One step of the escalation ladder of a plan."""
    # Version 1.0: Initial version
    VERSION = '1.0'
    fields = ovo_fields(schema.ESCALATION_STEP_FIELDS)


@nova_base.NovaObjectRegistry.register_notification
class MigTunerEscalationActionPayload(MigTunerPayloadBase):
    """One action the plan took during a migration."""
    # Version 1.0: Initial version
    VERSION = '1.0'
    fields = ovo_fields(schema.ESCALATION_ACTION_FIELDS)


@nova_base.NovaObjectRegistry.register_notification
class MigTunerMeasurementPayload(MigTunerPayloadBase):
    """What was measured of the guest and the host before planning."""
    # Version 1.0: Initial version
    VERSION = '1.0'
    fields = ovo_fields(schema.MEASUREMENT_FIELDS)


# The versions of the event payloads: notification_schema.PAYLOAD_VERSION
# (1.x were flat dicts; 2.0 is the first versioned object).


@nova_base.NovaObjectRegistry.register_notification
class MigTunerLiveMigrationStartPayload(MigTunerPayloadBase):
    VERSION = schema.PAYLOAD_VERSION
    fields = ovo_fields(schema.START_FIELDS)


@nova_base.NovaObjectRegistry.register_notification
class MigTunerLiveMigrationDeferredPayload(MigTunerPayloadBase):
    VERSION = schema.PAYLOAD_VERSION
    fields = ovo_fields(schema.DEFERRED_FIELDS)


@nova_base.NovaObjectRegistry.register_notification
class MigTunerLiveMigrationEscalatedPayload(MigTunerPayloadBase):
    VERSION = schema.PAYLOAD_VERSION
    fields = ovo_fields(schema.ESCALATED_FIELDS)


@nova_base.NovaObjectRegistry.register_notification
class MigTunerLiveMigrationEndPayload(MigTunerPayloadBase):
    VERSION = schema.PAYLOAD_VERSION
    fields = ovo_fields(schema.END_FIELDS)


@nova_base.NovaObjectRegistry.register_notification
class MigTunerLiveMigrationErrorPayload(MigTunerPayloadBase):
    VERSION = schema.PAYLOAD_VERSION
    fields = ovo_fields(schema.ERROR_FIELDS)


PAYLOAD_CLASSES = {
    schema.START: MigTunerLiveMigrationStartPayload,
    schema.DEFERRED: MigTunerLiveMigrationDeferredPayload,
    schema.ESCALATED: MigTunerLiveMigrationEscalatedPayload,
    schema.END: MigTunerLiveMigrationEndPayload,
    schema.ERROR: MigTunerLiveMigrationErrorPayload,
}
NESTED_CLASSES = {
    ESCALATION_STEP: MigTunerEscalationStepPayload,
    ESCALATION_ACTION: MigTunerEscalationActionPayload,
    MEASUREMENT: MigTunerMeasurementPayload,
}


def _populate(cls, fields, values):
    obj = cls()
    for field in fields:
        if field.name in ENVELOPE_FIELDS:
            continue
        value = values[field.name]
        nested = NESTED_CLASSES.get(_NESTED.get(field.items))
        if nested is not None and value is not None:
            if field.type == 'array':
                value = [_populate(nested, field.items, item)
                         for item in value]
            else:
                value = _populate(nested, field.items, value)
        setattr(obj, field.name, value)
    return obj


def payload_object(event, payload):
    """The payload object of *event* from the flat dict that
    ``notification_schema.build`` returned (and so validated).
    """
    cls = PAYLOAD_CLASSES[event]
    if payload.get('payload_name') != cls.obj_name():
        raise ValueError('payload %r is not %s'
                         % (payload.get('payload_name'), cls.obj_name()))
    obj = _populate(cls, schema.PAYLOAD_FIELDS[event], payload)
    # Freshly built: every field looks changed, which says nothing
    # (nova's NotificationBase.emit drops it the same way).
    obj.obj_reset_changes(recursive=True)
    return obj


def envelope(event, payload):
    """What goes on the wire for *event*'s flat *payload*: the object's
    primitive (``nova_object.name``, ``namespace``, ``version``, ``data``).
    """
    return payload_object(event, payload).obj_to_primitive()
