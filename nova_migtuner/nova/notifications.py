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
(``nova.rpc.get_versioned_notifier``), obeys ``[notifications]
notification_format`` (``versioned`` or ``both``) and never raises.
"""

import logging

from nova_migtuner.planning import notification_schema as schema

LOG = logging.getLogger(__name__)


def _versioned_enabled():
    from nova import conf as nova_conf
    from nova import rpc
    return (rpc.NOTIFIER is not None and rpc.NOTIFIER.is_enabled() and
            nova_conf.CONF.notifications.notification_format in
            ('both', 'versioned'))


def emit(context, host, event, payload):
    """Send *payload* through nova's versioned notifier; never raises.

    :returns: True if it was handed to the notifier.
    """
    try:
        if not _versioned_enabled():
            return False
        from nova import rpc
        notifier = rpc.get_versioned_notifier('nova-compute:%s' % host)
        send = notifier.error if event == schema.ERROR else notifier.info
        send(context, schema.event_type(event), payload)
        return True
    except Exception as e:
        LOG.warning('Could not emit %(event)s notification: %(error)s',
                    {'event': schema.event_type(event), 'error': e})
        return False
