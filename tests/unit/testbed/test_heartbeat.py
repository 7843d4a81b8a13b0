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

"""HeartbeatProbe over real growing files, as the guests' serial logs are."""

import threading
import time

from nova_migtuner.testbed import heartbeat


def write_beats(path, first, count, interval_s=0.002):
    with open(path, 'ab') as f:
        for seq in range(first, first + count):
            f.write(b'h%d\n' % seq)
            f.flush()
            time.sleep(interval_s)


def test_switch_gap_from_last_source_beat_to_first_destination_beat(
        tmp_path):
    source, dest = tmp_path / 'a.log', tmp_path / 'b.log'
    source.write_bytes(b'')
    probe = heartbeat.HeartbeatProbe({'a': str(source), 'b': str(dest)})
    probe.start()
    write_beats(source, 0, 20)
    time.sleep(0.2)                 # the guest is stopped: no beat anywhere
    write_beats(dest, 20, 20)       # a file created after the probe started
    assert probe.wait_for_beats('b', count=20, timeout_s=5)
    result = probe.stop()
    assert result.samples_by_host == {'a': 20, 'b': 20}
    # At least the pause; the upper bound only leaves room for a reader
    # thread that a loaded machine stalls.
    assert 180 <= result.switch_gap_ms < 5000
    assert (result.switch_from_host, result.switch_to_host) == ('a', 'b')


def test_wait_for_beats_returns_once_they_arrive(tmp_path):
    dest = tmp_path / 'b.log'
    probe = heartbeat.HeartbeatProbe({'b': str(dest)})
    probe.start()
    late = threading.Timer(0.5, write_beats, (dest, 0, 10))
    late.start()
    try:
        started = time.monotonic()
        assert probe.wait_for_beats('b', count=10, timeout_s=30)
        assert time.monotonic() - started < 25
    finally:
        late.join()
        probe.stop()


def test_wait_for_beats_gives_up_after_its_timeout(tmp_path):
    # The guest keeps beating on the source; the destination never starts.
    source = tmp_path / 'a.log'
    probe = heartbeat.HeartbeatProbe({'a': str(source),
                                      'b': str(tmp_path / 'b.log')})
    probe.start()
    try:
        write_beats(source, 0, 20)
        assert probe.wait_for_beats('a', count=20, timeout_s=30)
        started = time.monotonic()
        assert not probe.wait_for_beats('b', count=1, timeout_s=0.3)
        assert time.monotonic() - started >= 0.3
    finally:
        probe.stop()


def test_progress_lines_are_collected_beside_the_beats(tmp_path):
    # On a nova guest both share the console with the kernel's lines.
    source = tmp_path / 'console.log'
    source.write_bytes(b'')
    probe = heartbeat.HeartbeatProbe({'a': str(source)})
    probe.start()
    try:
        with open(source, 'ab') as f:
            for n in range(5):
                f.write(b'h%d\np%d r%d u%d g10000\n[ 1.0] kernel\n'
                        % (n, 100 * n, n, 100 * n))
                f.flush()
                time.sleep(0.02)
        deadline = time.monotonic() + 10
        while len(probe.progress()) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        result = probe.stop()
    assert result.samples == 5
    found = probe.progress()
    assert [(p.host, p.pages, p.requests) for p in found] == [
        ('a', 100 * n, n) for n in range(5)]
    assert all(a.time <= b.time for a, b in zip(found, found[1:]))
