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

"""Collect ``migtuner.live_migration.end`` notifications into the store.

``ReportEndpoint`` is an oslo.messaging notification endpoint; ``listen``
runs it on a notification listener until told to stop. The endpoint is also
what tests feed with the notifications nova's ``NotificationFixture``
captured, so the same code path stores real and test notifications.
"""

import dataclasses
import datetime
import hashlib
import json
import threading
import time

from oslo_log import log as logging
import oslo_messaging
from oslo_messaging import opts as oslo_messaging_opts

from nova_migtuner.reports import store as store_mod

LOG = logging.getLogger(__name__)

END_EVENT_TYPE = 'migtuner.live_migration.end'
DEFAULT_TOPICS = ('versioned_notifications',)
# A listener pool gets its own copy of every notification: without one the
# collector would take turns with other consumers of the topic (ceilometer,
# searchlight ...) and both would miss notifications.
DEFAULT_POOL = 'nova-migtuner-report-collector'
# The exchange nova publishes on unless nova.conf sets control_exchange.
NOVA_EXCHANGE = 'nova'
# After SIGTERM/SIGINT, how long the listener may take to let go of the
# bus before the collector exits anyway (e.g. the bus is unreachable).
STOP_GRACE_S = 5.0


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
    """Stores every ``.end`` notification it is given.

    A payload that does not match the schema (``store.end_payload``) is
    counted in ``rejected`` (and in *metrics*) and dropped.
    """

    filter_rule = oslo_messaging.NotificationFilter(
        event_type=r'^migtuner\.live_migration\.end$')

    def __init__(self, report_store, metrics=None):
        self.report_store = report_store
        self.metrics = metrics
        self.stored = 0
        self.duplicates = 0
        self.rejected = 0
        self.failed = 0

    def handle(self, event_type, payload, metadata=None):
        """Store one notification; returns the ``StoredReport`` or None."""
        if event_type != END_EVENT_TYPE:
            return None
        try:
            flat = store_mod.end_payload(payload)
            report = store_mod.report_row(_message_id(metadata, payload),
                                          flat, _timestamp(metadata))
        except ValueError as e:
            # A bad payload is logged and dropped: requeueing it would only
            # bring it back forever.
            self.rejected += 1
            if self.metrics is not None:
                self.metrics.rejected.inc()
            LOG.warning('Ignoring a %(event)s notification: %(error)s',
                        {'event': event_type, 'error': e})
            return None
        try:
            added = self.report_store.add(report, payload)
        except store_mod.ReportStoreError as e:
            # Disk full, file removed or read-only: the bus keeps the
            # notification (requeued) until the database is writable.
            self.failed += 1
            LOG.error('%(error)s; the notification is requeued',
                      {'error': e})
            raise
        if added:
            self.stored += 1
            if self.metrics is not None:
                self.metrics.observe(flat)
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
        try:
            self.handle(event_type, payload, metadata)
        except store_mod.ReportStoreError:
            return oslo_messaging.NotificationResult.REQUEUE
        return oslo_messaging.NotificationResult.HANDLED


def register_transport_opts(conf):
    """oslo.messaging's transport options, so that they can be read, with
    nova's default exchange.

    nova sets ``control_exchange`` to ``nova`` before it reads nova.conf
    (``nova.config.parse_args``); oslo.messaging's own default is
    ``openstack``, where nova's notifications never arrive. A
    ``control_exchange`` in the file still wins, as it does for nova.
    """
    for group, opts in oslo_messaging_opts.list_opts():
        conf.register_opts(list(opts), group=group)
    conf.set_default('control_exchange', NOVA_EXCHANGE)


def transport_url(conf):
    """``(url, where)``: the notification transport URL in *conf* and the
    option it came from, or ``(None, None)``.

    ``[oslo_messaging_notifications] transport_url`` first, then
    ``[DEFAULT] transport_url``, as nova's notifier reads them.
    """
    register_transport_opts(conf)
    for url, where in (
            (conf.oslo_messaging_notifications.transport_url,
             '[oslo_messaging_notifications] transport_url'),
            (conf.transport_url, '[DEFAULT] transport_url')):
        # [DEFAULT] transport_url defaults to "rabbit://": no host, which
        # oslo.messaging would turn into RabbitMQ on localhost.
        if url and _has_hosts(conf, url):
            return url, where
    return None, None


def _has_hosts(conf, url):
    try:
        parsed = oslo_messaging.TransportURL.parse(conf, url)
    except Exception:      # let the transport say what is wrong with it
        return True
    return any(h.hostname for h in parsed.hosts) or parsed.transport in (
        'fake', 'kafka')


def describe_url(conf, url):
    """*url* without passwords, e.g. ``rabbit://nova@10.0.0.5:5672/``."""
    try:
        parsed = oslo_messaging.TransportURL.parse(conf, url)
    except Exception:       # unreadable: show only the scheme
        return '%s://...' % str(url).split(':', 1)[0]
    hosts = ','.join(
        '%s%s%s' % ('%s@' % h.username if h.username else '',
                    h.hostname or '',
                    ':%s' % h.port if h.port else '')
        for h in parsed.hosts)
    return '%s://%s/%s' % (parsed.transport, hosts,
                           parsed.virtual_host or '')


def build_listener(conf, report_store, topics=DEFAULT_TOPICS,
                   pool=DEFAULT_POOL, executor='threading', url=None,
                   metrics=None):
    """Return ``(listener, endpoint)`` on *conf*'s notification transport
    (*url*, else ``[oslo_messaging_notifications] transport_url``, else
    ``[DEFAULT] transport_url``).
    """
    transport = oslo_messaging.get_notification_transport(conf, url=url)
    targets = [oslo_messaging.Target(topic=topic) for topic in topics]
    endpoint = ReportEndpoint(report_store, metrics=metrics)
    listener = oslo_messaging.get_notification_listener(
        transport, targets, [endpoint], executor=executor, pool=pool)
    return listener, endpoint


def _in_thread(name, func):
    """Run *func* in a daemon thread; returns (thread, errors list)."""
    errors = []

    def run():
        try:
            func()
        except Exception as e:
            errors.append(e)
    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread, errors


@dataclasses.dataclass(frozen=True)
class Retention:
    """How long stored reports are kept; 0 keeps them."""
    days: float = 0
    rows: int = 0
    interval_s: float = 3600.0

    def __post_init__(self):
        for name in ('days', 'rows'):
            if getattr(self, name) < 0:
                raise ValueError('retention %s %r is negative; 0 keeps '
                                 'every report' % (name, getattr(self, name)))
        if self.interval_s <= 0:
            raise ValueError('prune interval %r s must be positive'
                             % (self.interval_s,))

    @property
    def enabled(self):
        return bool(self.days or self.rows)

    def prune(self, report_store, metrics=None, now=None):
        """Prune *report_store* once; never raises (logs instead)."""
        try:
            deleted = report_store.prune(
                max_age_s=self.days * 86400 if self.days else None,
                max_rows=self.rows or None, now=now)
        except store_mod.ReportStoreError as e:
            LOG.error('Retention: %(error)s', {'error': e})
            return 0
        if deleted:
            if metrics is not None:
                metrics.pruned.inc(deleted)
            LOG.info('Retention deleted %(n)d stored report(s) (keep '
                     '%(days)s days, %(rows)s rows)',
                     {'n': deleted, 'days': self.days or 'all',
                      'rows': self.rows or 'all'})
        return deleted


def listen(conf, report_store, stop_event=None, topics=DEFAULT_TOPICS,
           pool=DEFAULT_POOL, url=None, stop_grace_s=STOP_GRACE_S,
           retention=None, metrics=None, clock=time.monotonic):
    """Run the collector until *stop_event* is set (or Ctrl-C).

    With *retention*, old reports are pruned at the start and then every
    ``retention.interval_s``; with *metrics*, stored reports are counted
    (``reports.metrics``).

    The listener starts in a thread of its own: while the bus cannot be
    reached oslo.messaging retries the connection for ever inside
    ``start()``, and the collector must still stop within seconds when
    told to. Stopping waits at most *stop_grace_s* for the listener.

    :raises Exception: what starting the listener raised.
    """
    stop_event = stop_event or threading.Event()
    listener, endpoint = build_listener(conf, report_store, topics, pool,
                                        url=url, metrics=metrics)
    LOG.info('Collecting %(event)s from exchange %(exchange)s, topics '
             '%(topics)s (queue of pool %(pool)s) into %(path)s',
             {'event': END_EVENT_TYPE, 'topics': ', '.join(topics),
              'exchange': conf.control_exchange, 'pool': pool,
              'path': report_store.path})
    starting, start_errors = _in_thread('report-collector-start',
                                        listener.start)
    next_prune = clock()
    try:
        while not stop_event.wait(0.5):
            if start_errors:
                raise start_errors[0]
            if retention is not None and retention.enabled and \
                    clock() >= next_prune:
                retention.prune(report_store, metrics)
                next_prune = clock() + retention.interval_s
    except KeyboardInterrupt:
        LOG.info('Interrupted; stopping the collector')

    if starting.is_alive():
        # Still connecting: there is nothing to let go of, and
        # oslo.messaging's retry loop cannot be interrupted; the thread
        # ends with the process.
        LOG.warning('Stopped while still connecting to the notification '
                    'bus; nothing was received')
        return endpoint

    def stop():
        listener.stop()
        listener.wait()
    stopping, _ = _in_thread('report-collector-stop', stop)
    stopping.join(stop_grace_s)
    if stopping.is_alive():
        LOG.warning('The notification bus did not answer within %(s).0f s; '
                    'stopping without a clean disconnect (nothing is lost: '
                    'unacknowledged notifications stay queued)',
                    {'s': stop_grace_s})
    return endpoint
