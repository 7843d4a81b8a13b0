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

# Real-libvirt tests of the nova driver's code path (nova_migtuner.nova.*).
#
# Own test bed ports and work dir by default, so that these tests can run
# while another bed (the benchmark's) is up. Set before the shared fixture
# reads them (Testbed.from_environment() runs when the fixture is first
# used); NOVA_MIGTUNER_TESTBED_PORTS/_DIR set by the caller still win.
# NB: the fixture is shared per pytest session, so in a session that also
# collects other test bed directories, these defaults apply to them too.
import os
import threading

os.environ.setdefault('NOVA_MIGTUNER_TESTBED_PORTS', '16709,16710')
os.environ.setdefault('NOVA_MIGTUNER_TESTBED_DIR',
                      '/var/tmp/nova-migtuner-testbed-nova')

from nova_migtuner.testbed.fixtures import testbed  # noqa: F401,E402
from nova_migtuner.testbed.fixtures import testbed_hang_guard  # noqa


_event_loop = []


def start_libvirt_event_loop(libvirt):
    """What nova's Host does before it opens a connection (host.py
    _ThreadingLibvirtEventHandler.start): register libvirt's default event
    implementation and run it in a native daemon thread. Connections
    opened afterwards get keepalive and event-driven I/O, as in nova.
    """
    if _event_loop:
        return
    libvirt.virEventRegisterDefaultImpl()

    def run():
        while True:
            libvirt.virEventRunDefaultImpl()

    thread = threading.Thread(target=run, name='libvirt-event-loop',
                              daemon=True)
    thread.start()
    _event_loop.append(thread)
