"""Collect ``migtuner.live_migration.end`` notifications into the store.

``ReportEndpoint`` is an oslo.messaging notification endpoint; ``listen``
runs it on a notification listener until told to stop. The endpoint is also
what tests feed with the notifications nova's ``NotificationFixture``
captured, so the same code path stores real and test notifications.
"""

import datetime
import hashlib
import json
import threading

from oslo_log import log as logging
import oslo_messaging

from nova_migtuner.reports import store as store_mod

LOG = logging.getLogger(__name__)

END_EVENT_TYPE = 'migtuner.live_migration.end'
DEFAULT_TOPICS = ('versioned_notifications',)
# A listener pool gets its own copy of every notification: without one the
# collector would take turns with other consumers of the topic (ceilometer,
# searchlight ...) and both would miss notifications.
DEFAULT_POOL = 'nova-migtuner-report-collector'
# nova publishes on its own exchange ('nova', the control_exchange that
# nova.rpc sets); an oslo.messaging listener's default is 'openstack'.
NOVA_EXCHANGE = 'nova'


def _timestamp(metadata):
    text = (metadata or {}).get('timestamp')
    if not text:
        return None
    try:
        when = datetime.datetime.fromisoformat(str(text))
    except ValueError:
        return None
    if when.tzinfo is None:       # oslo.messaging stamps UTC without a zone
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp()


def _message_id(metadata, payload):
    message_id = (metadata or {}).get('message_id')
    if message_id:
        return str(message_id)
    # No id (some drivers): the payload itself identifies the migration.
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True,
                                       default=str).encode('utf-8'))
    return 'sha256:' + digest.hexdigest()


class ReportEndpoint:
    """Stores every ``.end`` notification it is given."""

    filter_rule = oslo_messaging.NotificationFilter(
        event_type=r'^migtuner\.live_migration\.end$')

    def __init__(self, report_store):
        self.report_store = report_store
        self.stored = 0
        self.duplicates = 0
        self.rejected = 0

    def handle(self, event_type, payload, metadata=None):
        """Store one notification; returns the ``StoredReport`` or None."""
        if event_type != END_EVENT_TYPE:
            return None
        try:
            report = store_mod.report_row(_message_id(metadata, payload),
                                          payload, _timestamp(metadata))
        except ValueError as e:
            # A bad payload is logged and dropped: requeueing it would only
            # bring it back forever.
            self.rejected += 1
            LOG.warning('Ignoring a %(event)s notification: %(error)s',
                        {'event': event_type, 'error': e})
            return None
        if self.report_store.add(report, payload):
            self.stored += 1
            LOG.info('Stored migration report of instance %(uuid)s: '
                     '%(outcome)s, %(seconds)s s, downtime %(down)s ms',
                     {'uuid': report.instance_uuid,
                      'outcome': report.outcome,
                      'seconds': report.total_time_s,
                      'down': report.downtime_ms})
            return report
        self.duplicates += 1
        LOG.debug('Notification %s was already stored', report.message_id)
        return None

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self.handle(event_type, payload, metadata)
        return oslo_messaging.NotificationResult.HANDLED


def build_listener(conf, report_store, topics=DEFAULT_TOPICS,
                   pool=DEFAULT_POOL, executor='threading', url=None,
                   exchange=NOVA_EXCHANGE):
    """Return ``(listener, endpoint)`` on *conf*'s notification transport
    (*url*, else ``[oslo_messaging_notifications] transport_url``, else
    ``[DEFAULT] transport_url``), bound to nova's exchange."""
    transport = oslo_messaging.get_notification_transport(conf, url=url)
    targets = [oslo_messaging.Target(topic=topic, exchange=exchange)
               for topic in topics]
    endpoint = ReportEndpoint(report_store)
    listener = oslo_messaging.get_notification_listener(
        transport, targets, [endpoint], executor=executor, pool=pool)
    return listener, endpoint


def listen(conf, report_store, stop_event=None, topics=DEFAULT_TOPICS,
           pool=DEFAULT_POOL):
    """Run the collector until *stop_event* is set (or Ctrl-C)."""
    stop_event = stop_event or threading.Event()
    listener, endpoint = build_listener(conf, report_store, topics, pool)
    LOG.info('Collecting %(event)s from topics %(topics)s (pool %(pool)s) '
             'into %(path)s',
             {'event': END_EVENT_TYPE, 'topics': ', '.join(topics),
              'pool': pool, 'path': report_store.path})
    listener.start()
    try:
        while not stop_event.wait(1.0):
            pass
    except KeyboardInterrupt:
        LOG.info('Interrupted; stopping the collector')
    finally:
        listener.stop()
        listener.wait()
    return endpoint
