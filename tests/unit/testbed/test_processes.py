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

"""Process helpers of the test bed against real child processes."""

import signal
import subprocess

from nova_migtuner.testbed import processes


def test_send_signal_reaches_a_live_process():
    child = subprocess.Popen(['sleep', '30'])
    try:
        assert processes.send_signal(child.pid, signal.SIGTERM) is True
        assert child.wait(10) == -signal.SIGTERM
    finally:
        child.kill()
        child.wait()


def test_send_signal_to_a_reaped_process_says_so_instead_of_raising():
    # What happens when the host's reaper collected a killed QEMU before
    # the test bed (or a test's cleanup) signals it again.
    child = subprocess.Popen(['true'])
    child.wait()
    assert processes.send_signal(child.pid, signal.SIGCONT) is False


def test_kill_waits_until_the_process_is_gone():
    child = subprocess.Popen(['sleep', '30'])
    assert processes.kill(child.pid, reap=child.poll) is True
    # A zombie already counts as gone; our own child is then waited for.
    assert not processes.is_running(child.pid)
    assert child.wait(5) == -signal.SIGKILL
