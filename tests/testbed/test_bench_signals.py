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

"""SIGTERM and SIGINT to a running ``nova-migtuner bench`` stop the test
bed as a normal end does: no libvirtd, QEMU, reaper or mount is left."""

import signal
import subprocess
import sys
import time

import pytest

from nova_migtuner.bench import cli as bench_cli
from nova_migtuner.testbed import bed as testbed_bed

STARTED_TIMEOUT_S = 180
STOP_TIMEOUT_S = 90


@pytest.mark.parametrize('signum', [signal.SIGTERM, signal.SIGINT])
def test_signal_during_a_run_stops_the_bed(tmp_path, signum):
    workdir = str(tmp_path / 'bench-bed')
    proc = subprocess.Popen(
        [sys.executable, '-m', 'nova_migtuner.cmd.cli', 'bench', '--engine',
         '--quick',
         '--workload', 'idle', '--method', 'stock-nova', '--workdir',
         workdir, '--output', str(tmp_path / 'out')],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    bed = testbed_bed.Testbed(
        workdir=workdir, ports=bench_cli.BENCH_PORTS,
        migration_port_base=bench_cli.BENCH_MIGRATION_PORT_BASE)
    try:
        # Wait until both hosts run and a guest is being booted.
        deadline = time.monotonic() + STARTED_TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None:
            if all(h.is_running() for h in bed.hosts.values()) and \
                    any(h.qemu_pids() for h in bed.hosts.values()):
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.stdout.read()
        assert any(h.qemu_pids() for h in bed.hosts.values())
        proc.send_signal(signum)
        output, _ = proc.communicate(timeout=STOP_TIMEOUT_S)
        assert proc.returncode == 128 + signum, output
        left = bed.leftovers()
        assert not any(left.values()), left
        assert 'the test bed is down' in output
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        bed.down()
