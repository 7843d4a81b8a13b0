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

"""The report collector: notifications from the bus into the store."""

import time

from oslo_config import cfg
import oslo_messaging

from nova_migtuner.reports import collector
from nova_migtuner.reports import store as store_mod

from tests.unit.reports.factories import END
from tests.unit.reports.factories import end_payload


def test_redelivered_notification_is_stored_once(report_store):
    endpoint = collector.ReportEndpoint(report_store)
    payload = end_payload('u1', 512, 19, 483, 456)
    for _ in range(2):
        endpoint.info({}, 'p', END, payload, {'message_id': 'same'})
    assert (endpoint.stored, endpoint.duplicates) == (1, 1)
    assert len(report_store.reports()) == 1


def test_bad_payload_is_dropped_not_requeued(report_store):
    endpoint = collector.ReportEndpoint(report_store)
    result = endpoint.info({}, 'p', END, {'outcome': 'completed'},
                           {'message_id': 'x'})
    assert result == oslo_messaging.NotificationResult.HANDLED
    assert endpoint.rejected == 1
    assert report_store.reports() == ()


def test_listener_stores_notifications_from_the_bus(report_store):
    # oslo.messaging's in-memory driver: the same listener code as on
    # RabbitMQ, with a real Notifier on the other side.
    conf = cfg.ConfigOpts()
    conf([])
    listener, endpoint = collector.build_listener(conf, report_store,
                                                  url='fake:/')
    listener.start()
    try:
        transport = oslo_messaging.get_notification_transport(
            conf, url='fake:/')
        notifier = oslo_messaging.Notifier(
            transport, publisher_id='nova-compute:compute1',
            driver='messaging', topics=['versioned_notifications'])
        notifier.info({}, 'migtuner.live_migration.start', {'x': 1})
        notifier.info({}, END, end_payload('u1', 2048, 20, 533, 443))
        deadline = time.monotonic() + 10
        while not report_store.reports() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        listener.stop()
        listener.wait()
    (report,) = report_store.reports()
    assert (report.instance_uuid, report.downtime_ms, report.data_bytes) == \
        ('u1', 533, 443 * 10 ** 6)
    assert report.emitted_at is not None
    assert endpoint.stored == 1


def test_describe_url_hides_passwords():
    from oslo_config import cfg
    conf = cfg.ConfigOpts()
    conf([])
    assert collector.describe_url(
        conf, 'rabbit://nova:pw@10.0.0.5:5672,nova:pw@10.0.0.6:5672/nova'
    ) == 'rabbit://nova@10.0.0.5:5672,nova@10.0.0.6:5672/nova'


def test_default_transport_url_is_not_a_bus():
    from oslo_config import cfg
    conf = cfg.ConfigOpts()
    collector.register_transport_opts(conf)
    conf([])
    assert conf.transport_url == 'rabbit://'      # oslo.messaging's default
    assert collector.transport_url(conf) == (None, None)
    conf.set_override('transport_url', 'rabbit://nova:pw@10.0.0.5:5672/',
                      group='oslo_messaging_notifications')
    assert collector.transport_url(conf) == (
        'rabbit://nova:pw@10.0.0.5:5672/',
        '[oslo_messaging_notifications] transport_url')


def test_write_errors_requeue_the_notification(tmp_path, monkeypatch):
    report_store = store_mod.ReportStore(str(tmp_path / 'r.sqlite'))
    endpoint = collector.ReportEndpoint(report_store)

    def disk_full(report, payload):
        raise store_mod.ReportStoreError('cannot write to report database '
                                         'r.sqlite: database or disk is full')
    monkeypatch.setattr(report_store, 'add', disk_full)
    result = endpoint.info({}, 'nova-compute:c1', collector.END_EVENT_TYPE,
                           {'instance_uuid': 'u1', 'outcome': 'completed'},
                           {})
    assert result == oslo_messaging.NotificationResult.REQUEUE
    assert endpoint.failed == 1
