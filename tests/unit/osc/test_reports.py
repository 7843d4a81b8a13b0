import time

from oslo_config import cfg
import oslo_messaging
import pytest

from nova_migtuner.cmd import cli
from nova_migtuner.reports import collector
from nova_migtuner.reports import store as store_mod
from nova_migtuner.reports import summary

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


@pytest.fixture
def report_store(tmp_path):
    return store_mod.ReportStore(str(tmp_path / 'reports.sqlite'))


def test_field_notes_table_from_stored_reports(report_store):
    endpoint = collector.ReportEndpoint(report_store)
    rows = [('tiny', 512, 19, 483, 456), ('small', 2048, 20, 533, 443),
            ('xlarge', 16384, 24, 531, 829)]
    for i, (flavor, mib, sec, down, mb) in enumerate(rows):
        endpoint.info({}, 'nova-compute:compute1', END,
                      end_payload('u%d' % i, mib, sec, down, mb,
                                  flavor=flavor),
                      {'message_id': 'msg-%d' % i,
                       'timestamp': '2025-06-01 12:00:0%d.000000' % i})
    # A failed migration of a tiny guest: counted, not averaged.
    endpoint.handle(END, end_payload('u9', 512, 99, 9999, 9999,
                                     outcome='aborted', flavor='tiny'),
                    {'message_id': 'msg-9'})
    table = summary.by_flavor(report_store.reports())
    assert [(r.flavor, r.migrations, r.completed, r.failed, r.total_s,
             r.downtime_ms, round(r.mb_sent)) for r in table] == [
        ('tiny', 2, 1, 1, 19, 483, 456),
        ('small', 1, 1, 0, 20, 533, 443),
        ('xlarge', 1, 1, 0, 24, 531, 829)]


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


def test_flavor_unknown_is_labelled_by_memory(report_store):
    endpoint = collector.ReportEndpoint(report_store)
    endpoint.handle(END, end_payload('u1', 512, 19, 483, 456), {})
    (row,) = summary.by_flavor(report_store.reports())
    assert row.flavor == 'unknown (512 MiB)'
    report_store.set_flavor('u1', 'm1.tiny')
    (row,) = summary.by_flavor(report_store.reports())
    assert row.flavor == 'm1.tiny'


def test_since_filters_by_emission_time(report_store):
    endpoint = collector.ReportEndpoint(report_store)
    endpoint.handle(END, end_payload('old', 512, 1, 1, 1),
                    {'message_id': 'a', 'timestamp': '2025-01-01 00:00:00'})
    endpoint.handle(END, end_payload('new', 512, 1, 1, 1),
                    {'message_id': 'b', 'timestamp': '2025-06-01 00:00:00'})
    since = summary.parse_since('2025-03-01', now=0)
    assert [r.instance_uuid for r in report_store.reports(since=since)] == \
        ['new']


@pytest.mark.parametrize('text,expected', [
    ('30min', 1000 - 1800), ('24h', 1000 - 86400), ('2d', 1000 - 172800),
    ('1970-01-01T00:10:00', 600), ('1970-01-01T01:10:00+01:00', 600)])
def test_parse_since(text, expected):
    assert summary.parse_since(text, now=1000) == expected


def test_parse_since_rejects_nonsense():
    with pytest.raises(ValueError, match="'yesterday' cannot be read"):
        summary.parse_since('yesterday', now=0)


def test_reading_a_missing_database_names_the_collector(tmp_path):
    with pytest.raises(store_mod.ReportStoreError,
                       match='nova-migtuner report-collector'):
        store_mod.ReportStore(str(tmp_path / 'none.sqlite'), create=False)


def test_listener_stores_notifications_from_the_bus(report_store):
    # oslo.messaging's in-memory driver: the same listener code as on
    # RabbitMQ, with a real Notifier on the other side.
    conf = cfg.ConfigOpts()
    conf([])
    listener, endpoint = collector.build_listener(conf, report_store,
                                                  url='fake:/')
    listener.start()
    try:
        notifier = fake_bus_notifier(conf)
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


def test_report_collector_subcommand_plugs_into_the_cli():
    parser = cli.build_parser(only='report-collector')
    args = parser.parse_args(['report-collector', '--database', '/tmp/x',
                              '--topic', 't1', '--topic', 't2'])
    assert args.topic == ['t1', 't2']
    assert args.func.__module__ == 'nova_migtuner.cmd.report_collector'


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
    payload['nova_object.version'] = '2.1'
    payload['nova_object.data']['guest_left_paused'] = False
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
