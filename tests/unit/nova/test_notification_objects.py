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

"""The payloads as nova versioned notification objects."""

import json
import os

from nova.objects import base as nova_base
from oslo_versionedobjects import fixture as ovo_fixture
import pytest

from nova_migtuner.engine import escalation
from nova_migtuner.engine import measure
from nova_migtuner.nova import notification_objects as objects_mod
from nova_migtuner.planning import notification_schema as notif
from nova_migtuner.planning import payloads
from tests.unit.planning import test_payloads

GiB = 2 ** 30
SAMPLES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'doc',
                       'notification_samples')

# As nova's test_notification.py: a changed object without a version bump
# fails here. Bump the version (a new field: minor), update the sample in
# doc/notification_samples/ and then the hash.
OBJECT_HASHES = {
    'MigTunerEscalationActionPayload': '1.0-626ac3d030e0489485db444f808a3f9a',
    'MigTunerEscalationStepPayload': '1.0-2dbc6e7f5ab3905c574d7ca55e770778',
    'MigTunerLiveMigrationDeferredPayload':
        '2.3-3c8b8e75bf63ec1ad1ae6c96bef0bab8',
    'MigTunerLiveMigrationEndPayload': '2.3-dcc215fecc07d264245e09a35fe52189',
    'MigTunerLiveMigrationErrorPayload':
        '2.3-38625d90e5e87d4657fc8a89b0af1d3e',
    'MigTunerLiveMigrationEscalatedPayload':
        '2.3-2f409274ebc19a03412f63daabe338ba',
    'MigTunerLiveMigrationStartPayload':
        '2.3-f1b766dc403dc55ca497e3b43869a8c1',
    'MigTunerMeasurementPayload': '1.0-fc0a78d8e7fe6fcc43417e4a5695a6e3',
}


def _all_classes():
    return dict(objects_mod.PAYLOAD_CLASSES, **objects_mod.NESTED_CLASSES)


def test_versions_change_with_the_fields():
    checker = ovo_fixture.ObjectVersionChecker(
        {cls.obj_name(): [cls] for cls in _all_classes().values()})
    expected, actual = checker.test_hashes(OBJECT_HASHES)
    assert expected == actual, (
        'payload objects changed: bump their version, update their sample '
        'and then the hashes here')


def test_registered_as_nova_registers_its_notifications():
    registered = nova_base.NovaObjectRegistry.notification_classes
    for cls in _all_classes().values():
        assert cls in registered
        assert cls.OBJ_PROJECT_NAMESPACE == notif.PAYLOAD_NAMESPACE
    for event, cls in objects_mod.PAYLOAD_CLASSES.items():
        assert cls.obj_name() == notif.PAYLOAD_NAMES[event]
        assert cls.VERSION == notif.PAYLOAD_VERSION
        # Every field of the schema but the envelope's name and version.
        assert set(cls.fields) == {
            f.name for f in notif.PAYLOAD_FIELDS[event]} - {
            'payload_name', 'payload_version'}


def _end_payload():
    action = escalation.Action(kind='raise_downtime', reason='stalled',
                               elapsed_s=12.5, downtime_ms=300)
    fields = payloads.end_fields(
        plan=test_payloads._plan(), flag_names=['VIR_MIGRATE_LIVE'],
        outcome='completed',
        completed_stats={'type': 3, 'downtime': 42, 'downtime_net': 40,
                         'data_processed': 3 * GiB,
                         'memory_processed': 2 * GiB,
                         'memory_total': 2 * GiB, 'memory_iteration': 5,
                         'time_elapsed': 20500},
        samples=[], applied=[(action, True, None)], final_downtime_ms=300,
        wall_seconds=25.0, waited_s=0.0, fallback_reason=None,
        post_copy=False)
    return notif.build(notif.END, **dict(test_payloads._common(), **fields))


def _start_payload():
    fields = payloads.start_fields(
        test_payloads._plan(), ['VIR_MIGRATE_LIVE'],
        measure.Measurement(memory_bytes=GiB, notes=('no dirty rate',)),
        0.0, None)
    return notif.build(notif.START, **dict(test_payloads._common(), **fields))


@pytest.mark.parametrize('event,build', [(notif.END, _end_payload),
                                         (notif.START, _start_payload)])
def test_envelope_carries_every_field_and_reads_back(event, build):
    payload = build()
    wire = json.loads(json.dumps(objects_mod.envelope(event, payload)))
    assert wire['nova_object.name'] == notif.PAYLOAD_NAMES[event]
    assert wire['nova_object.namespace'] == 'nova_migtuner'
    assert wire['nova_object.version'] == notif.PAYLOAD_VERSION
    assert 'nova_object.changes' not in wire
    assert set(wire['nova_object.data']) == set(payload) - {
        'payload_name', 'payload_version'}
    assert notif.flat_payload(event, wire) == payload
    assert notif.validate(event, notif.flat_payload(event, wire)) == []


def test_nested_values_are_nested_objects():
    wire = objects_mod.envelope(notif.END, _end_payload())
    (action,) = wire['nova_object.data']['escalations']
    assert action['nova_object.name'] == 'MigTunerEscalationActionPayload'
    assert action['nova_object.data']['downtime_ms'] == 300
    start = objects_mod.envelope(notif.START, _start_payload())
    measurement = start['nova_object.data']['measurement']
    assert measurement['nova_object.name'] == 'MigTunerMeasurementPayload'
    assert measurement['nova_object.data']['notes'] == ['no dirty rate']
    step = start['nova_object.data']['escalation'][0]
    assert step['nova_object.name'] == 'MigTunerEscalationStepPayload'


def test_a_payload_of_another_event_is_refused():
    with pytest.raises(ValueError, match='is not MigTunerLiveMigrationStart'):
        objects_mod.payload_object(notif.START, _end_payload())


@pytest.mark.parametrize('event', notif.EVENTS)
def test_sample_is_a_valid_payload_of_its_event(event):
    path = os.path.join(SAMPLES, 'migtuner-live_migration-%s.json' % event)
    with open(path) as f:
        sample = json.load(f)
    assert sample['event_type'] == notif.event_type(event)
    assert sample['priority'] == ('ERROR' if event == notif.ERROR
                                  else 'INFO')
    flat = notif.flat_payload(event, sample['payload'])
    assert notif.validate(event, flat) == []
    # The sample is what the objects make of its own values.
    assert objects_mod.envelope(event, flat) == sample['payload']
