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

"""The cloud's service processes: finding every process of a service."""

import os
import signal
import subprocess
import sys
import textwrap

from nova_migtuner.cloud import services


def test_descendants_follow_children_that_start_their_own_group(tmp_path):
    # A child that calls setsid() (as oslo.service workers and daemons do)
    # leaves the process group but not the tree.
    script = tmp_path / 'tree.py'
    script.write_text(textwrap.dedent('''\
        import subprocess, sys, time
        # The child says its PID once it has its own session.
        subprocess.Popen([sys.executable, '-c',
                          'import os, time; os.setsid(); '
                          'print(os.getpid(), flush=True); time.sleep(60)'])
        time.sleep(60)
        '''))
    parent = subprocess.Popen([sys.executable, str(script)],
                              stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        assert os.getpgid(child) != os.getpgid(parent.pid)
        assert set(services.descendants(parent.pid)) >= {parent.pid, child}
        assert services.tree_rss_bytes(parent.pid) > 0
    finally:
        for pid in services.descendants(parent.pid):
            os.kill(pid, signal.SIGKILL)
        parent.wait()
