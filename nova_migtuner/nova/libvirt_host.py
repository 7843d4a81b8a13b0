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

"""A re-entrant lock for nova's libvirt connection.

nova 34's ``Host._get_connection`` holds ``_wrapped_conn_lock`` (a plain
``threading.Lock``) while it tests the connection with ``getLibVersion``.
On a connection whose libvirtd died, libvirt calls the close callback from
inside that call, on the same thread; in nova's native threading mode the
callback is handled at once (``_ThreadingLibvirtEventHandler``), and
``Host._connection_closed`` takes the same lock: the thread blocks on
itself, and so does every later user of the connection - the compute's
periodic tasks and any migration step. Measured on the test bed: a
destination libvirtd killed just after the post-copy switch left that
nova-compute hung, with the lock held by its libvirt event thread.

The lock only guards the swap of ``_wrapped_conn``; taking it again on the
thread that holds it, to drop the connection that just closed, is what
nova means. So the driver replaces it with an ``RLock``.
"""

import threading

from oslo_log import log as logging

LOG = logging.getLogger(__name__)

LOCK_ATTRIBUTE = '_wrapped_conn_lock'
_PLAIN_LOCK = type(threading.Lock())


def make_connection_lock_reentrant(host):
    """Give nova's ``Host`` *host* a re-entrant connection lock.

    :returns: True if the lock was replaced; False when *host* has no such
        lock or it is not a plain lock (a nova that changed it).
    """
    lock = getattr(host, LOCK_ATTRIBUTE, None)
    if not isinstance(lock, _PLAIN_LOCK):
        LOG.warning('nova_migtuner: nova\'s libvirt Host has no plain %s '
                    '(found %r); its connection lock is left as it is',
                    LOCK_ATTRIBUTE, type(lock).__name__)
        return False
    if lock.locked():
        # Never swap a lock somebody holds: the holder would release ours.
        LOG.warning('nova_migtuner: nova\'s libvirt connection lock is held '
                    'at start-up; it is left as it is')
        return False
    setattr(host, LOCK_ATTRIBUTE, threading.RLock())
    return True
