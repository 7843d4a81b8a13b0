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

"""Fixtures shared by the unit tests."""

import os
import subprocess
import sys

import pytest

from nova_migtuner.testbed import fixtures

IN_OWN_PROCESS = 'MIGTUNER_UNIT_TEST_OWN_PROCESS'


@pytest.fixture
def outside_eventlet(request):
    """Run the test in a process of its own when eventlet is patched in.

    nova's test fixtures, imported by other tests of the session, patch
    eventlet into the whole pytest process. Code that runs in a plain
    process (the report collector, the test bed's watchdog) relies on real
    threads: a green one blocks every other in an unpatched ``select``, and
    its stack is not among ``sys._current_frames()``.
    """
    if not fixtures.eventlet_patched() or os.environ.get(IN_OWN_PROCESS):
        yield
        return
    proc = subprocess.run(
        [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
         request.node.nodeid], env=dict(os.environ, **{IN_OWN_PROCESS: '1'}),
        capture_output=True, text=True, timeout=300,
        cwd=str(request.config.rootpath))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    pytest.skip('passed in a process of its own (eventlet is patched in '
                'this one)')
