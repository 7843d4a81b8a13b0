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

"""Send ``migtuner.live_migration.*`` notifications through nova.

The payloads and their schema are in
``nova_migtuner.planning.notification_schema``; what is sent is their
versioned object envelope (``nova_migtuner.nova.notification_objects``).
Emission goes through nova's own versioned notifier
(``nova.rpc.NOTIFIER``), obeys ``[notifications]
notification_format`` (``versioned`` or ``both``) and never raises.

It never blocks the caller either: most notifications are sent from
nova's ``_live_migration_monitor``, and oslo.messaging retries a send to a
broker that is down forever by default, which would stop the monitor's
polls and with them the plan's deadline, pause watchdog and abort.
``emit`` puts the notification on a bounded queue and returns; one sender
thread sends them in order, each with ``SEND_RETRIES`` connection retries
so that a broker that stays down costs dropped notifications (logged), not
a stuck sender. Under eventlet (nova-compute's default in nova 34)
``threading`` and ``queue`` are monkey-patched, so the sender is a green
thread and the queue cooperative; under nova's native threading mode they
are an OS thread and a plain queue.
"""

import logging
import queue
import threading

from nova_migtuner.planning import notification_schema as schema

LOG = logging.getLogger(__name__)

# Notifications waiting for the broker; more are dropped (and logged).
QUEUE_SIZE = 1000
# Connection retries of one send (oslo.messaging: -1/None retry forever,
# and 0 means its default, so at least 1).
SEND_RETRIES = 3

_queue = queue.Queue(maxsize=QUEUE_SIZE)
_sender = None
_sender_lock = threading.Lock()


def _versioned_enabled():
    from nova import conf as nova_conf
    from nova import rpc
    return (rpc.NOTIFIER is not None and rpc.NOTIFIER.is_enabled() and
            nova_conf.CONF.notifications.notification_format in
            ('both', 'versioned'))


def _notifier(host):
    from nova import rpc
    publisher_id = 'nova-compute:%s' % host
    try:
        return rpc.NOTIFIER.prepare(publisher_id=publisher_id,
                                    retry=SEND_RETRIES)
    except TypeError:   # a notifier without retries (nova's test fake)
        return rpc.get_versioned_notifier(publisher_id)


def _send_queued():
    while True:
        send, context, event_type, payload = _queue.get()
        try:
            send(context, event_type, payload)
        except Exception as e:
            LOG.warning('Could not send the %(event)s notification: '
                        '%(error)s', {'event': event_type, 'error': e})
        finally:
            _queue.task_done()


def _ensure_sender():
    global _sender
    with _sender_lock:
        if _sender is None or not _sender.is_alive():
            _sender = threading.Thread(target=_send_queued,
                                       name='migtuner-notifications',
                                       daemon=True)
            _sender.start()


def emit(context, host, event, payload):
    """Queue *payload* for nova's versioned notifier; never raises or
    blocks.

    :returns: True if it was queued for sending.
    """
    event_type = schema.event_type(event)
    try:
        if not _versioned_enabled():
            return False
        notifier = _notifier(host)
        send = notifier.error if event == schema.ERROR else notifier.info
        _ensure_sender()
        _queue.put_nowait((send, context, event_type, payload))
        return True
    except queue.Full:
        LOG.warning('Dropped the %(event)s notification: %(n)d are waiting '
                    'for the message broker',
                    {'event': event_type, 'n': QUEUE_SIZE})
        return False
    except Exception as e:
        LOG.warning('Could not emit %(event)s notification: %(error)s',
                    {'event': event_type, 'error': e})
        return False


def wait_sent(timeout):
    """Wait up to *timeout* s for the queue to drain; True if it did.

    For callers that must not lose what was queued before they exit
    (tests; a service stopping).
    """
    done = threading.Event()

    def join():
        _queue.join()
        done.set()

    threading.Thread(target=join, daemon=True).start()
    return done.wait(timeout)
