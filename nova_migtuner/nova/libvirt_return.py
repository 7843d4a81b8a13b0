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

"""A bounded wait for this host's libvirtd to answer again.

QEMU finishes a post-copy migration on its own: when the destination's
libvirtd dies after the switch, the guest still arrives and runs there.
nova's last step on the destination (``post_live_migration_at_destination``,
and the power state read after it) needs libvirt, and without it nova puts
the server of a running guest in ERROR and the migration in ``error``. A
service manager restarts a killed libvirtd within seconds, so the
destination waits for it, for at most ``[migtuner]
destination_libvirt_wait_s``, before handing over to nova.
"""

import time

from nova import exception
from oslo_log import log as logging
import tenacity

LOG = logging.getLogger(__name__)

# Waits between attempts: nova logs every failed connection with its
# traceback and sends a ``libvirt.connect.error`` notification, so the
# attempts back off rather than come every second.
FIRST_WAIT_S, MAX_WAIT_S = 1.0, 8.0


def wait_for_libvirt(host, timeout_s, instance=None, sleep=time.sleep):
    """Seconds waited until ``host.get_connection()`` answered (0.0 when it
    answered at once), or None when it did not within *timeout_s*.

    :param host: nova's ``nova.virt.libvirt.host.Host``.
    """
    if timeout_s <= 0:
        return None     # nova's behaviour: no wait, not even a probe
    started = time.monotonic()
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(
            exception.HypervisorUnavailable),
        wait=tenacity.wait_exponential(multiplier=FIRST_WAIT_S,
                                       max=MAX_WAIT_S),
        stop=tenacity.stop_after_delay(timeout_s),
        sleep=sleep, reraise=True)
    try:
        retrying(host.get_connection)
    except exception.HypervisorUnavailable:
        LOG.error('nova_migtuner: libvirt on this host did not answer '
                  'within %(timeout).0f s at the end of the incoming live '
                  'migration; nova finishes it without libvirt (the server '
                  'goes to ERROR though the guest may run here). Related '
                  'option: [migtuner] destination_libvirt_wait_s',
                  {'timeout': timeout_s}, instance=instance)
        return None
    waited = time.monotonic() - started
    attempts = retrying.statistics.get('attempt_number', 1)
    if attempts > 1:
        LOG.warning('nova_migtuner: libvirt on this host answered again '
                    'after %(waited).1f s (%(attempts)d attempts); nova '
                    'finishes the incoming live migration',
                    {'waited': waited, 'attempts': attempts},
                    instance=instance)
        return waited
    return 0.0
