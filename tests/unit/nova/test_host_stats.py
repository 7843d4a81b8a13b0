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

"""HostStatsMixin over a stand-in for LibvirtDriver."""

import datetime
from unittest import mock

from oslo_config import fixture as config_fixture
import pytest

import nova.conf
from nova.virt.libvirt import config as vconfig

from nova_migtuner.nova import host_stats
from nova_migtuner.scheduler import stats

CAPS_CPU = """<cpu><arch>x86_64</arch><model>Skylake-Server-IBRS</model>
<vendor>Intel</vendor><topology sockets='1' cores='2' threads='1'/>
<feature name='vmx'/><feature name='ssbd'/></cpu>"""
BASELINE = """<cpu mode='custom' match='exact'>
<model>Skylake-Server-IBRS</model>
<feature policy='require' name='sse2'/><feature policy='require' name='vmx'/>
<feature policy='disable' name='hle'/></cpu>"""


def migration(status, dest, kind='live-migration', minutes_ago=0):
    return mock.Mock(status=status, dest_compute=dest, migration_type=kind,
                     updated_at=datetime.datetime(2030, 1, 1, 12, 0) -
                     datetime.timedelta(minutes=minutes_ago))


class FakeLibvirt(object):
    def __init__(self):
        cpu = vconfig.LibvirtConfigCPU()
        cpu.parse_str(CAPS_CPU)
        caps = mock.Mock()
        caps.host.cpu = cpu
        caps.host.topology.cells = [object(), object()]
        self._host = mock.Mock()
        self._host.get_capabilities.return_value = caps
        self._host.get_online_cpus.return_value = {0, 1, 2, 3}
        self.baseline_calls = 0

    def get_available_resource(self, nodename):
        return {'memory_mb': 1, 'stats': {'uptime': 'x'}}

    def _get_guest_baseline_cpu_features(self, xml):
        self.baseline_calls += 1
        return BASELINE


class Driver(host_stats.HostStatsMixin, FakeLibvirt):
    pass


@pytest.fixture
def conf():
    fixture = config_fixture.Config(nova.conf.CONF)
    fixture.setUp()
    fixture.config(host='me')
    fixture.config(virt_type='kvm', cpu_mode='custom',
                   cpu_models=['Skylake-Server-IBRS'], group='libvirt')
    yield fixture
    fixture.cleanUp()


def test_stats_reach_the_resource_dict(conf):
    driver = Driver()
    migrations = [migration('running', 'me'), migration('queued', 'me'),
                  migration('running', 'other'),
                  migration('running', 'me', kind='migration'),
                  migration('completed', 'me', minutes_ago=5),
                  migration('completed', 'me', minutes_ago=1),
                  migration('completed', 'other')]
    with mock.patch.object(Driver, '_migtuner_migrations',
                           return_value=migrations), \
            mock.patch('os.getloadavg', return_value=(2.0, 0, 0)):
        data = driver.get_available_resource('node')
        driver.get_available_resource('node')
    assert data['memory_mb'] == 1 and data['stats']['uptime'] == 'x'
    facts = stats.decode(data['stats'])
    assert facts.incoming_migrations == 2
    assert facts.last_incoming_end == migrations[5].updated_at.timestamp()
    assert facts.cpu_load == 0.5
    assert facts.cpu_mode == 'custom'
    assert facts.cpu_models == ('Skylake-Server-IBRS',)
    assert facts.cpu_features_expanded == frozenset({'sse2', 'vmx'})
    assert facts.numa_nodes == 2
    assert len(facts.cpu_fingerprint) == 16
    # the host CPU is expanded once per service
    assert driver.baseline_calls == 1


def test_failure_never_breaks_the_resource_update(conf):
    driver = Driver()
    with mock.patch.object(Driver, '_migtuner_migrations',
                           side_effect=RuntimeError('conductor down')):
        data = driver.get_available_resource('node')
    assert data == {'memory_mb': 1, 'stats': {'uptime': 'x'}}
