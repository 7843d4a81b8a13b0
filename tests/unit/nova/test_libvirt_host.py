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

"""nova's libvirt connection when libvirtd dies, with the driver's lock."""

import threading
from unittest import mock

from nova.virt.libvirt import host as nova_host

from nova_migtuner.nova import libvirt_host
from tests.unit.nova import fakes

libvirt = fakes.libvirt


class DeadConnection:
    """What libvirt does on a connection whose libvirtd died: the next call
    runs the close callback on the calling thread, then fails.
    """

    def __init__(self, host):
        self.host = host

    def getLibVersion(self):
        self.host._close_callback(self, 0, None)
        error = libvirt.libvirtError('End of file while reading data')
        error.err = (libvirt.VIR_ERR_SYSTEM_ERROR, libvirt.VIR_FROM_RPC,
                     'End of file while reading data', libvirt.VIR_ERR_ERROR,
                     '', None, None, 0, 0)
        raise error


def host_with_dead_connection():
    host = nova_host.Host('qemu+tcp://127.0.0.3/system',
                          conn_event_handler=mock.Mock())
    # nova's native threading mode: events are handled on the spot.
    host._event_handler = nova_host._ThreadingLibvirtEventHandler(
        host._connection_closed, host._event_emit_delayed)
    host._wrapped_conn = DeadConnection(host)
    return host


def reconnect_within(host, seconds):
    fresh = mock.Mock(name='new connection')
    done = []

    def get():
        with mock.patch.object(host, '_get_new_connection',
                               return_value=fresh):
            done.append(host._get_connection())
    thread = threading.Thread(target=get, daemon=True)
    thread.start()
    thread.join(seconds)
    return done, fresh


def test_nova_s_plain_lock_blocks_its_own_thread_when_libvirtd_died():
    # What the test bed showed, so that the workaround is dropped once
    # nova's own lock stops deadlocking.
    host = host_with_dead_connection()
    done, _ = reconnect_within(host, 2.0)
    assert done == []
    assert host._wrapped_conn_lock.locked()


def test_the_reentrant_lock_drops_the_dead_connection_and_reconnects():
    host = host_with_dead_connection()
    assert libvirt_host.make_connection_lock_reentrant(host)
    done, fresh = reconnect_within(host, 10.0)
    assert done == [fresh]
    assert host._wrapped_conn is fresh


def test_a_lock_that_is_not_nova_s_plain_lock_is_left_alone():
    host = mock.Mock(spec=[])
    assert not libvirt_host.make_connection_lock_reentrant(host)
    host = mock.Mock()
    host._wrapped_conn_lock = threading.RLock()
    assert not libvirt_host.make_connection_lock_reentrant(host)
    held = threading.Lock()
    held.acquire()
    host._wrapped_conn_lock = held
    assert not libvirt_host.make_connection_lock_reentrant(host)
    assert host._wrapped_conn_lock is held
