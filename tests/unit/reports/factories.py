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

"""A migration's end notification, as nova_migtuner emits it."""

import oslo_messaging

from nova_migtuner.reports import collector

END = collector.END_EVENT_TYPE


def end_payload(uuid, memory_mib, seconds, downtime, mb_out, mb_mem=None,
                outcome='completed', flavor=None):
    payload = {
        'payload_name': 'MigTunerLiveMigrationEndPayload',
        'payload_version': '1.0',
        'instance_uuid': uuid, 'migration_uuid': 'm-' + uuid,
        'source_host': 'compute1', 'destination_host': 'compute2',
        'strategy': 'balanced', 'outcome': outcome,
        'total_time_s': seconds, 'downtime_ms': downtime,
        'downtime_net_ms': downtime - 10,
        'data_bytes_transferred': int(mb_out * 1e6),
        'memory_bytes_transferred': int((mb_mem or mb_out) * 1e6),
        'memory_total_bytes': memory_mib * 2 ** 20, 'iterations': 3,
        'postcopy_requests': 0, 'predicted_total_s': seconds * 0.9,
        'predicted_bytes': int(mb_out * 1e6), 'final_max_downtime_ms': 500,
        'escalations_taken': 0, 'stats_source': 'destination'}
    if flavor:
        payload['flavor_name'] = flavor
    return payload


def fake_bus_notifier(conf):
    """A real Notifier on oslo.messaging's in-memory transport, sending
    as nova-compute does.
    """
    transport = oslo_messaging.get_notification_transport(conf,
                                                          url='fake:/')
    return oslo_messaging.Notifier(
        transport, publisher_id='nova-compute:compute1',
        driver='messaging', topics=['versioned_notifications'])


def envelope(payload):
    """A 2.x ``.end`` payload: *payload*'s fields in nova's envelope."""
    data = {k: v for k, v in payload.items()
            if k not in ('payload_name', 'payload_version')}
    return {'nova_object.name': 'MigTunerLiveMigrationEndPayload',
            'nova_object.namespace': 'nova_migtuner',
            'nova_object.version': '2.0', 'nova_object.data': data}
