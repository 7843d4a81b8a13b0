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

"""Measuring a guest and its host before a migration, over fakes."""

import pytest

from nova_migtuner.engine import measure
from nova_migtuner.planning import context as ctx_mod
from nova_migtuner import units


MiB = units.MiB
GiB = units.GiB


def test_touched_from_rss_is_capped_at_guest_memory():
    assert measure.touched_from({'rss': 1024}, 4 * GiB) == MiB
    assert measure.touched_from({'rss': 8 * 1024 * 1024}, 4 * GiB) == 4 * GiB
    assert measure.touched_from({}, 4 * GiB) is None


def test_guest_cpu_load():
    # 2 vCPUs, 1 s, 1.5 s of CPU time used: 75 %.
    assert measure.guest_cpu_load_from(0, 1.5e9, 1.0, 2) == 0.75
    assert measure.guest_cpu_load_from(0, 9e9, 1.0, 2) == 1.0
    assert measure.guest_cpu_load_from(0, 1e9, 0, 2) is None


def test_host_cpu_load():
    before = {'kernel': 0, 'user': 0, 'idle': 0, 'iowait': 0}
    after = {'kernel': 100, 'user': 200, 'idle': 600, 'iowait': 100}
    assert measure.host_cpu_load_from(before, after) == pytest.approx(0.3)
    assert measure.host_cpu_load_from(before, before) is None
    assert measure.host_cpu_load_from({}, after) is None


def test_dirty_rate_only_when_measured():
    assert measure.dirty_rate_from(
        {'dirtyrate.calc_status': 2,
         'dirtyrate.megabytes_per_second': 50}) == 50 * MiB
    assert measure.dirty_rate_from(
        {'dirtyrate.calc_status': 1,
         'dirtyrate.megabytes_per_second': 50}) is None
    assert measure.dirty_rate_from(None) is None


class _LibvirtError(Exception):
    pass


class _Libvirt:
    VIR_DOMAIN_STATS_DIRTYRATE = 512
    libvirtError = _LibvirtError


class _Domain:
    def __init__(self, fail=(), conn=None):
        self.fail = fail
        self.cpu = 0
        self.conn = conn

    def connect(self):
        return self.conn

    def name(self):
        return 'guest'

    def memoryStats(self):
        if 'mem' in self.fail:
            raise RuntimeError('no balloon')
        return {'rss': 512 * 1024}

    def info(self):
        self.cpu += int(0.5e9)
        return [1, 0, 0, 1, self.cpu]

    def startDirtyRateCalc(self, seconds, flags):
        if 'dirty' in self.fail:
            raise _LibvirtError('QEMU too old for calc-dirty-rate')


class _Conn:
    def __init__(self):
        self.calls = 0

    def getCPUStats(self, cpu, flags):
        self.calls += 1
        return {'kernel': 0, 'user': 10 * self.calls, 'idle': 30 * self.calls,
                'iowait': 0}

    def domainListGetStats(self, domains, stats):
        return [(domains[0], {'dirtyrate.calc_status': 2,
                              'dirtyrate.megabytes_per_second': 20})]


class _Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def measure_a_2_gib_guest():
    """``measure_guest`` of a 2 GiB guest whose every reading works."""
    clock = _Clock()
    conn = _Conn()
    return measure.measure_guest(_Domain(conn=conn), conn, _Libvirt,
                                 2 * GiB, 1, dirty_rate_window_s=1,
                                 sleep=clock.sleep, clock=clock)


def test_measure_guest_with_everything_available():
    m = measure_a_2_gib_guest()
    assert m.touched_bytes == 512 * MiB
    assert m.dirty_rate == 20 * MiB
    assert m.host_cpu_load == pytest.approx(0.25)
    assert m.window_s == pytest.approx(1.0)
    assert m.guest_cpu_load == pytest.approx(0.5)
    assert m.measured == {ctx_mod.TOUCHED, ctx_mod.DIRTY_RATE,
                          ctx_mod.GUEST_CPU_LOAD, ctx_mod.SOURCE_HOST_LOAD}
    assert m.notes == ()


def test_measure_guest_failures_become_unknowns_with_notes():
    clock = _Clock()
    conn = _Conn()
    m = measure.measure_guest(_Domain(fail=('mem', 'dirty'), conn=conn),
                              conn, _Libvirt, GiB, 1, dirty_rate_window_s=1,
                              sleep=clock.sleep, clock=clock)
    assert m.touched_bytes is None and m.dirty_rate is None
    assert m.window_s == pytest.approx(measure.CPU_SAMPLE_S)
    assert any('no balloon' in n for n in m.notes)
    assert any('QEMU too old' in n for n in m.notes)
    assert ctx_mod.DIRTY_RATE not in m.measured


# What /proc/PID/smaps of a 256 MiB TCG guest's QEMU showed on the test bed
# (trimmed): the guest RAM block, then the TCG translation buffer.
SMAPS = '''\
7f3c00000000-7f3c10000000 rw-p 00000000 00:00 0
Size:             262144 kB
Rss:              217088 kB
7f3b80000000-7f3bbffff000 rwxp 00000000 00:00 0
Size:            1048572 kB
Rss:               45056 kB
55d0c0a00000-55d0c0b00000 r-xp 00000000 fd:00 123  /usr/bin/qemu-system-x86_64
Size:               1024 kB
Rss:                 900 kB
'''


def test_guest_ram_resident_reads_the_mapping_of_the_guests_size():
    assert measure.guest_ram_resident(SMAPS, 256 * MiB) == 217088 * 1024
    # No mapping of that size (RAM over several backends): unknown.
    assert measure.guest_ram_resident(SMAPS, 512 * MiB) is None


def test_touched_memory_prefers_the_guest_ram_over_qemus_rss(tmp_path):
    (tmp_path / 'guest.pid').write_text('4242\n')
    (tmp_path / '4242').mkdir()
    (tmp_path / '4242' / 'smaps').write_text(SMAPS)
    resident = measure.read_guest_ram_resident(
        'guest', 256 * MiB, pid_file=str(tmp_path / '%s.pid'),
        proc=str(tmp_path))
    assert resident == 212 * MiB
    # Unreadable (nova-compute not root, no such PID): unknown, and the
    # measurement falls back to QEMU's RSS.
    assert measure.read_guest_ram_resident(
        'other', 256 * MiB, pid_file=str(tmp_path / '%s.pid'),
        proc=str(tmp_path)) is None


def test_measure_guest_takes_the_resident_guest_ram_when_readable(
        monkeypatch):
    monkeypatch.setattr(measure, 'read_guest_ram_resident',
                        lambda name, memory: 212 * MiB)
    m = measure_a_2_gib_guest()
    assert m.touched_bytes == 212 * MiB
    assert any('smaps' in n for n in m.notes)
