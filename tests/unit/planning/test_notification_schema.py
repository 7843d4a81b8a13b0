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

"""The versioned notifications' schema and payload checks."""

import json

import pytest

from nova_migtuner.planning import notification_schema as notif


@pytest.mark.parametrize('event', notif.EVENTS)
def test_schema_is_json_and_lists_every_field(event):
    schema = json.loads(json.dumps(notif.schema(event)))
    names = [f.name for f in notif.PAYLOAD_FIELDS[event]]
    assert len(names) == len(set(names))
    assert schema['required'] == names
    assert schema['additionalProperties'] is False
    assert set(schema['properties']) == set(names)
    for field in notif.PAYLOAD_FIELDS[event]:
        assert field.description.strip()


def test_end_payload_has_the_documented_fields():
    names = {f.name for f in notif.END_FIELDS}
    for required in ('instance_uuid', 'source_host', 'destination_host',
                     'strategy', 'flags', 'initial_downtime_ms',
                     'final_max_downtime_ms', 'escalations_taken',
                     'downtime_ms', 'downtime_net_ms',
                     'data_bytes_transferred', 'memory_bytes_transferred',
                     'memory_total_bytes', 'iterations', 'postcopy_requests',
                     'total_time_s', 'predicted_total_s', 'predicted_bytes',
                     'outcome', 'payload_version'):
        assert required in names


def test_build_refuses_missing_extra_and_mistyped_fields():
    common = dict(instance_uuid='u', migration_uuid=None, source_host='a',
                  destination_host='b', tuned=True, strategy='balanced',
                  flavor_name=None)
    ok = notif.build(notif.DEFERRED, wait_for='spacing', max_wait_s=3.0,
                     reason='r', **common)
    assert ok['payload_version'] == notif.PAYLOAD_VERSION
    assert ok['payload_name'] == 'MigTunerLiveMigrationDeferredPayload'
    with pytest.raises(notif.PayloadError, match='missing fields: reason'):
        notif.build(notif.DEFERRED, wait_for='spacing', max_wait_s=3,
                    **common)
    with pytest.raises(notif.PayloadError, match='undeclared fields: x'):
        notif.build(notif.DEFERRED, wait_for='spacing', max_wait_s=3,
                    reason='r', x=1, **common)
    with pytest.raises(notif.PayloadError, match='max_wait_s'):
        notif.build(notif.DEFERRED, wait_for='spacing', max_wait_s='3',
                    reason='r', **common)
    with pytest.raises(notif.PayloadError, match='tuned is null'):
        notif.build(notif.DEFERRED, wait_for='spacing', max_wait_s=3,
                    reason='r', **dict(common, tuned=None))


def test_admin_doc_lists_every_field_of_every_payload():
    import os
    doc = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'doc',
                       'source', 'admin', 'notifications.rst')
    with open(doc) as f:
        text = f.read()
    assert 'payload_version' in text and notif.PAYLOAD_VERSION in text
    for event in notif.EVENTS:
        assert 'migtuner.live_migration.%s' % event in text
        for field in notif.PAYLOAD_FIELDS[event]:
            assert '``%s``' % field.name in text, (event, field.name)
