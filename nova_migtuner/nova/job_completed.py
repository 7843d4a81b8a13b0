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

"""The final statistics of a migration job, as the source announces them.

After a post-copy migration neither host keeps completed statistics to
read: nova undefines the source domain and the destination keeps only
``{'type': 0}``, so the last poll of nova's monitor, up to a poll interval
before the end, would be the report's final word. libvirt announces the
final statistics of every completed job with the
``VIR_DOMAIN_EVENT_ID_JOB_COMPLETED`` event on the source. nova's host
already runs libvirt's event loop for its connection, so registering for
the event on that connection is enough.

The callback runs in nova's native event thread: it only stores a dict.
"""

from oslo_log import log as logging

LOG = logging.getLogger(__name__)

# libvirt's VIR_DOMAIN_EVENT_ID_JOB_COMPLETED, for libvirt modules (and
# nova's fake) that lack the constant.
VIR_DOMAIN_EVENT_ID_JOB_COMPLETED = 21


class JobCompletedWatch:
    """The statistics libvirt announces when *domain*'s job completes."""

    def __init__(self, libvirt):
        self.libvirt = libvirt
        self.stats = None
        self._conn = None
        self._callback_id = None

    def start(self, conn, domain):
        """Register on *conn* for *domain*; a failure only logs."""
        event = getattr(self.libvirt, 'VIR_DOMAIN_EVENT_ID_JOB_COMPLETED',
                        VIR_DOMAIN_EVENT_ID_JOB_COMPLETED)
        try:
            self._callback_id = conn.domainEventRegisterAny(
                domain, event, self._on_completed, None)
            self._conn = conn
        except Exception as e:
            LOG.debug('nova_migtuner cannot listen for the job-completed '
                      'event (the report falls back to the last poll): '
                      '%(error)s', {'error': e})
        return self

    def _on_completed(self, _conn, _dom, params, _opaque):
        self.stats = dict(params or {})

    def stop(self):
        """Deregister; never raises."""
        conn, callback_id = self._conn, self._callback_id
        self._conn = self._callback_id = None
        if conn is None or callback_id is None:
            return
        try:
            conn.domainEventDeregisterAny(callback_id)
        except Exception as e:
            LOG.debug('nova_migtuner could not deregister the job-completed '
                      'event: %(error)s', {'error': e})
