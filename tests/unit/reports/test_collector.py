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
import pytest

from nova_migtuner.reports import collector
from nova_migtuner.reports import store as store_mod
from nova_migtuner.reports import summary

from tests.unit.reports.factories import END
from tests.unit.reports.factories import end_payload
from tests.unit.reports.factories import envelope


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


# -- payloads of both versions, checked against the schema ----------------


def test_reports_of_1x_and_2x_payloads_read_alike(report_store):
    endpoint = collector.ReportEndpoint(report_store)
    flat = end_payload('u1', 2048, 20, 533, 443, flavor='small')
    endpoint.handle(END, flat, {'message_id': 'old'})
    endpoint.handle(END, envelope(dict(flat, instance_uuid='u2')),
                    {'message_id': 'new'})
    old, new = report_store.reports()
    assert [getattr(old, f) for f in ('downtime_ms', 'data_bytes',
                                      'flavor')] == \
        [getattr(new, f) for f in ('downtime_ms', 'data_bytes', 'flavor')]
    (row,) = summary.by_flavor(report_store.reports())
    assert (row.flavor, row.migrations, row.downtime_ms) == ('small', 2, 533)
    # The stored payload reads back flat, whichever form was received.
    assert report_store.payload('new')['downtime_ms'] == 533
    assert report_store.payload('new')['payload_version'] == '2.0'
    assert report_store.payload('old') == flat


@pytest.mark.parametrize('change,message', [
    ({'downtime_ms': {'ms': 1}}, 'downtime_ms='),           # was an
    ({'data_bytes_transferred': 2 ** 70}, 'out of range'),   # sqlite error
    ({'total_time_s': '19'}, 'total_time_s=\'19\' is not number'),
    ({'downtime_ms': True}, 'is a boolean'),
    ({'source_host': ['a']}, 'source_host='),
    ({'flavor_name': 7}, 'flavor_name=7 is not string'),
    ({'escalations': [{'action': 1}]}, 'escalations[0]'),
    ({'instance_uuid': ''}, 'payload has no instance_uuid'),
])
def test_payloads_that_do_not_match_the_schema_are_counted_and_dropped(
        report_store, change, message, caplog):
    endpoint = collector.ReportEndpoint(report_store)
    payload = dict(end_payload('u1', 512, 19, 483, 456), **change)
    for form in (payload, envelope(payload)):
        result = endpoint.info({}, 'p', END, form, {})
        assert result == oslo_messaging.NotificationResult.HANDLED
    assert endpoint.rejected == 2
    assert report_store.reports() == ()
    assert message in caplog.text
    # What used to break: the report table and the planner's history.
    summary.by_flavor(report_store.reports())


@pytest.mark.parametrize('payload,message', [
    ('a string', 'payload is not an object'),
    (dict(envelope(end_payload('u1', 512, 1, 1, 1)),
          **{'nova_object.namespace': 'nova'}), 'is not nova_migtuner'),
    (dict(envelope(end_payload('u1', 512, 1, 1, 1)),
          **{'nova_object.version': '3.0'}), 'this version reads 2.x'),
    (dict(envelope(end_payload('u1', 512, 1, 1, 1)),
          **{'nova_object.name': 'InstancePayload'}), 'InstancePayload'),
])
def test_foreign_or_future_payloads_are_rejected(report_store, payload,
                                                 message, caplog):
    endpoint = collector.ReportEndpoint(report_store)
    endpoint.handle(END, payload, {})
    assert endpoint.rejected == 1
    assert message in caplog.text


def test_a_newer_minor_version_with_a_new_field_is_stored(report_store):
    endpoint = collector.ReportEndpoint(report_store)
    payload = envelope(end_payload('u1', 512, 19, 483, 456))
    payload['nova_object.version'] = '2.99'
    payload['nova_object.data']['a_field_of_a_later_release'] = False
    assert endpoint.handle(END, payload, {}) is not None


# -- retention --------------------------------------------------------------


def _stored(report_store, count, start=0.0, step=86400.0):
    endpoint = collector.ReportEndpoint(report_store)
    for i in range(count):
        report = store_mod.report_row(
            'm%d' % i, end_payload('u%d' % i, 512, 1, 1, 1),
            emitted_at=start + i * step)
        report_store.add(report, {})
    return endpoint


def test_retention_keeps_days(report_store):
    _stored(report_store, 10)                  # one a day, days 0..9
    deleted = collector.Retention(days=3).prune(report_store,
                                                now=9 * 86400.0)
    assert deleted == 6
    assert [r.message_id for r in report_store.reports()] == [
        'm6', 'm7', 'm8', 'm9']


def test_retention_keeps_rows(report_store):
    from nova_migtuner.reports import metrics as metrics_mod
    _stored(report_store, 10)
    metrics = metrics_mod.CollectorMetrics()
    assert collector.Retention(rows=4).prune(report_store, metrics) == 6
    assert [r.message_id for r in report_store.reports()] == [
        'm6', 'm7', 'm8', 'm9']
    assert metrics.registry.get_sample_value(
        'migtuner_report_collector_pruned_reports_total') == 6


def test_retention_zero_keeps_everything(report_store):
    _stored(report_store, 3, start=0.0)
    assert not collector.Retention().enabled
    assert collector.Retention(days=0, rows=0).prune(report_store) == 0
    assert len(report_store.reports()) == 3


@pytest.mark.parametrize('values', [dict(days=-1), dict(rows=-2),
                                    dict(interval_s=0)])
def test_retention_refuses_nonsense(values):
    with pytest.raises(ValueError):
        collector.Retention(**values)


def test_collector_prunes_periodically(report_store):
    _stored(report_store, 5, start=time.time() - 10 * 86400, step=1.0)
    conf = cfg.ConfigOpts()
    conf([])
    import threading
    stop = threading.Event()
    thread = threading.Thread(target=collector.listen, args=(
        conf, report_store), kwargs=dict(
        stop_event=stop, url='fake:/',
        retention=collector.Retention(days=1, interval_s=0.5)))
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while report_store.reports() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(30)
    assert report_store.reports() == ()
