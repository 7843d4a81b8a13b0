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

"""CPUModeMixin over a stand-in for LibvirtDriver's CPU method."""

from unittest import mock

from oslo_config import fixture as config_fixture
import pytest

import nova.conf
from nova.virt.libvirt import config as vconfig

from nova_migtuner.nova import cpu_mode


class FakeLibvirtCPU(object):
    """What LibvirtDriver._get_guest_cpu_model_config does, reduced."""

    def __init__(self):
        self._host = mock.Mock()
        self._host.get_capabilities.return_value.host.cpu.arch = 'x86_64'

    def _get_cpu_model_mapping(self, model):
        return {m.lower(): m for m in
                nova.conf.CONF.libvirt.cpu_models}.get(model.lower())

    def _get_guest_cpu_model_config(self, flavor=None, arch=None):
        conf = nova.conf.CONF.libvirt
        cpu = vconfig.LibvirtConfigGuestCPU()
        cpu.mode = conf.cpu_mode or 'host-model'
        cpu.model = conf.cpu_models[0] if conf.cpu_models else None
        cpu.add_feature(vconfig.LibvirtConfigGuestCPUFeature('pcid'))
        return cpu


class Driver(cpu_mode.CPUModeMixin, FakeLibvirtCPU):
    pass


@pytest.fixture
def conf():
    fixture = config_fixture.Config(nova.conf.CONF)
    fixture.setUp()
    fixture.config(virt_type='kvm', group='libvirt')
    yield fixture
    fixture.cleanUp()


def flavor(**specs):
    return mock.Mock(extra_specs={'migtuner:' + k: v
                                  for k, v in specs.items()},
                     spec=['extra_specs', 'name'])


def test_passthrough_from_flavor_keeps_extra_flags(conf):
    cpu = Driver()._get_guest_cpu_model_config(
        flavor(cpu_mode='host-passthrough'), 'x86_64')
    assert (cpu.mode, cpu.model) == ('host-passthrough', None)
    assert [f.name for f in cpu.features] == ['pcid']


def test_no_flavor_or_no_wish_is_nova_behaviour(conf):
    driver = Driver()
    assert driver._get_guest_cpu_model_config().mode == 'host-model'
    assert driver._get_guest_cpu_model_config(flavor()).mode == 'host-model'


def test_custom_model_picked_from_libvirt_list(conf):
    conf.config(cpu_mode='custom',
                cpu_models=['Cascadelake-Server', 'Skylake-Server-IBRS'],
                group='libvirt')
    cpu = Driver()._get_guest_cpu_model_config(
        flavor(cpu_mode='custom', cpu_model='skylake-server-ibrs'))
    assert (cpu.mode, cpu.model) == ('custom', 'Skylake-Server-IBRS')


def test_host_model_on_custom_host_clears_model(conf):
    conf.config(cpu_mode='custom', cpu_models=['Cascadelake-Server'],
                group='libvirt')
    cpu = Driver()._get_guest_cpu_model_config(flavor(cpu_mode='host-model'))
    assert (cpu.mode, cpu.model) == ('host-model', None)


def test_refused_wish_keeps_host_default_and_warns(conf):
    conf.config(virt_type='qemu', group='libvirt')
    with mock.patch.object(cpu_mode.LOG, 'warning') as warning:
        cpu = Driver()._get_guest_cpu_model_config(
            flavor(cpu_mode='host-passthrough'), 'x86_64')
    assert cpu.mode == 'host-model'
    assert 'virt_type=kvm' in warning.call_args[0][1]['reason']
