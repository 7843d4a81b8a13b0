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

"""The reaper adopts and reaps orphans and passes on its command's exit."""

import subprocess
import sys
import time

import pytest


def run_reaper(*argv, timeout=30):
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, '-m', 'nova_migtuner.testbed.reaper'] + list(argv),
        capture_output=True, timeout=timeout)
    return proc, time.monotonic() - started


def test_exit_code_of_the_command_is_the_reapers():
    proc, _ = run_reaper('sh', '-c', 'exit 3')
    assert proc.returncode == 3


def test_orphans_are_adopted_and_waited_for():
    # The shell exits at once and orphans its background child, as
    # libvirt's double fork orphans QEMU; the reaper, a subreaper, adopts it
    # and exits only once it has reaped it.
    proc, elapsed = run_reaper('sh', '-c', '(sleep 1; exit 0) & exit 0')
    assert proc.returncode == 0
    assert elapsed >= 1.0


def test_command_killed_by_a_signal_exits_like_a_shell_would():
    proc, _ = run_reaper('sh', '-c', 'kill -9 $$')
    assert proc.returncode == 128 + 9


def test_without_a_command_says_how_to_use_it():
    proc, _ = run_reaper()
    assert proc.returncode == 2
    assert b'usage: python -m nova_migtuner.testbed.reaper COMMAND' in \
        proc.stderr


@pytest.mark.parametrize('signame', ['SIGTERM', 'SIGINT'])
def test_termination_is_forwarded_to_the_command(signame):
    import signal
    proc = subprocess.Popen(
        [sys.executable, '-m', 'nova_migtuner.testbed.reaper',
         'sh', '-c', 'trap "exit 7" TERM INT; while :; do sleep 0.05; done'])
    time.sleep(0.5)
    proc.send_signal(getattr(signal, signame))
    assert proc.wait(timeout=10) == 7
