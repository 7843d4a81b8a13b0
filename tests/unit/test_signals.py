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

"""SIGTERM and SIGINT run the same clean-up as a normal exit."""

import signal
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent('''\
    import sys, time
    from nova_migtuner import signals

    def cleanup():
        print('cleaned up', flush=True)

    with signals.cleanup_on_signal(cleanup):
        print('ready', flush=True)
        try:
            time.sleep(60)
        except Exception:
            print('swallowed by except Exception', flush=True)
    print('not reached', flush=True)
    ''')


@pytest.mark.parametrize('signum', [signal.SIGTERM, signal.SIGINT])
def test_signal_runs_cleanup_and_exits_128_plus_signal(signum):
    proc = subprocess.Popen([sys.executable, '-c', SCRIPT],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == 'ready'
        proc.send_signal(signum)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signum
    assert out.split() == ['cleaned', 'up']
