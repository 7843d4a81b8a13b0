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

"""The destination's bounded wait for its libvirtd before nova's last step
of an incoming live migration."""

from nova import exception
import pytest

from nova_migtuner.nova import libvirt_return


class RestartingHost:
    """nova's ``Host`` whose libvirtd answers after *down_for* attempts."""

    def __init__(self, down_for):
        self.down_for = down_for
        self.attempts = 0

    def get_connection(self):
        self.attempts += 1
        if self.down_for is None or self.attempts <= self.down_for:
            raise exception.HypervisorUnavailable()
        return 'connection'


def test_answering_libvirt_is_not_waited_for():
    slept = []
    host = RestartingHost(down_for=0)
    assert libvirt_return.wait_for_libvirt(host, 60, sleep=slept.append) \
        == 0.0
    assert (host.attempts, slept) == (1, [])


def test_restarting_libvirt_is_waited_for_with_backoff():
    slept = []
    host = RestartingHost(down_for=4)
    waited = libvirt_return.wait_for_libvirt(host, 60, sleep=slept.append)
    assert waited is not None and waited >= 0.0
    assert host.attempts == 5
    # 1, 2, 4, then capped at 8 s between attempts.
    assert slept == [1.0, 2.0, 4.0, 8.0]


def test_libvirt_that_stays_down_is_given_up_after_the_bound(monkeypatch):
    monkeypatch.setattr(libvirt_return, 'FIRST_WAIT_S', 0.01)
    monkeypatch.setattr(libvirt_return, 'MAX_WAIT_S', 0.01)
    host = RestartingHost(down_for=None)
    assert libvirt_return.wait_for_libvirt(host, 0.1) is None
    assert host.attempts > 1


@pytest.mark.parametrize('timeout_s', [0, -1])
def test_no_wait_configured_is_nova_s_behaviour(timeout_s):
    host = RestartingHost(down_for=None)
    assert libvirt_return.wait_for_libvirt(host, timeout_s) is None
    assert host.attempts == 0
