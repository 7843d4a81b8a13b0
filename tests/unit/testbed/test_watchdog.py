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

"""call_within: a blocked call becomes an error with its stack, not a hang."""

import threading

import pytest

from nova_migtuner.testbed import exceptions
from nova_migtuner.testbed import watchdog


def test_returns_the_value_of_a_prompt_call():
    assert watchdog.call_within(5, 'add', lambda a, b: a + b, 2, b=3) == 5


def test_reraises_the_exception_of_the_call():
    def fail():
        raise KeyError('no such domain')

    with pytest.raises(KeyError, match='no such domain'):
        watchdog.call_within(5, 'lookup', fail)


def test_blocked_call_raises_with_its_stack_and_the_diagnostics():
    release = threading.Event()
    unblocked = []

    def wait_for_qemu():
        release.wait(30)

    def on_timeout():
        unblocked.append(True)
        release.set()   # as killing the guest's QEMU unblocks libvirt
        return 'libvirtd log tail: migrate_cancel sent, no reply'

    with pytest.raises(exceptions.CallTimeout) as caught:
        watchdog.call_within(0.2, 'abortJob', wait_for_qemu,
                             on_timeout=on_timeout)

    message = str(caught.value)
    assert message.startswith('abortJob did not return within 0 s')
    assert 'in wait_for_qemu' in message
    assert 'migrate_cancel sent, no reply' in message
    assert unblocked == [True]


def test_failing_diagnostics_do_not_hide_the_timeout():
    release = threading.Event()

    def broken_diagnostics():
        release.set()
        raise OSError('log gone')

    with pytest.raises(exceptions.CallTimeout,
                       match="collecting diagnostics failed: OSError"):
        watchdog.call_within(0.1, 'jobStats', release.wait, 30,
                             on_timeout=broken_diagnostics)
