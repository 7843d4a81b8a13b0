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

import pytest

from nova_migtuner.cpu import mode
from nova_migtuner.cpu import model

KVM = mode.LibvirtCPUConfig(virt_type='kvm', cpu_mode=None, arch='x86_64')
CUSTOM = mode.LibvirtCPUConfig(virt_type='kvm', cpu_mode='custom',
                               cpu_models=('Cascadelake-Server',
                                           'Skylake-Server-IBRS'),
                               arch='x86_64')


def spec(mode_value=None, model_value=None):
    specs = {}
    if mode_value is not None:
        specs[mode.CPU_MODE_KEY] = mode_value
    if model_value is not None:
        specs[mode.CPU_MODEL_KEY] = model_value
    return specs


def test_no_wish_gives_nova_default_host_model():
    choice = mode.resolve_guest_cpu({}, KVM)
    assert (choice.mode, choice.model, choice.source, choice.refused) == (
        model.HOST_MODEL, None, mode.SOURCE_LIBVIRT, None)


def test_aarch64_default_is_passthrough_and_refuses_host_model():
    arm = mode.LibvirtCPUConfig(virt_type='kvm', arch='aarch64')
    assert mode.resolve_guest_cpu({}, arm).mode == model.HOST_PASSTHROUGH
    choice = mode.resolve_guest_cpu(spec('host-model'), arm)
    assert choice.mode == model.HOST_PASSTHROUGH
    assert 'aarch64' in choice.refused


def test_flavor_passthrough_applied_on_kvm():
    choice = mode.resolve_guest_cpu(spec('host-passthrough'), KVM)
    assert (choice.mode, choice.source) == (model.HOST_PASSTHROUGH,
                                            mode.SOURCE_FLAVOR)


def test_passthrough_refused_on_qemu_tcg():
    qemu = mode.LibvirtCPUConfig(virt_type='qemu', arch='x86_64')
    choice = mode.resolve_guest_cpu(spec('host-passthrough'), qemu)
    assert choice.mode == model.HOST_MODEL
    assert 'virt_type=kvm' in choice.refused


def test_libvirt_cpu_mode_none_wins_over_flavor():
    none = mode.LibvirtCPUConfig(virt_type='kvm', cpu_mode='none')
    choice = mode.resolve_guest_cpu(spec('host-passthrough'), none)
    assert choice.mode == 'none'
    assert 'cpu_mode=none' in choice.refused


def test_lxc_has_no_cpu_model():
    lxc = mode.LibvirtCPUConfig(virt_type='lxc')
    choice = mode.resolve_guest_cpu(spec('host-model'), lxc)
    assert choice.mode is None
    assert 'lxc' in choice.refused


def test_custom_model_from_libvirt_list_case_insensitive():
    choice = mode.resolve_guest_cpu(spec('custom', 'skylake-server-ibrs'),
                                    CUSTOM)
    assert (choice.mode, choice.model, choice.source) == (
        model.CUSTOM, 'Skylake-Server-IBRS', mode.SOURCE_FLAVOR)


def test_custom_model_not_in_libvirt_list_is_refused():
    choice = mode.resolve_guest_cpu(spec('custom', 'EPYC-Rome'), CUSTOM)
    assert (choice.mode, choice.model) == (model.CUSTOM,
                                           'Cascadelake-Server')
    assert 'EPYC-Rome is not in [libvirt] cpu_models' in choice.refused


def test_custom_needs_libvirt_custom_mode():
    choice = mode.resolve_guest_cpu(spec('custom', 'Skylake-Server-IBRS'),
                                    KVM)
    assert choice.mode == model.HOST_MODEL
    assert 'cpu_mode=custom' in choice.refused


def test_host_model_on_custom_host_drops_the_model():
    choice = mode.resolve_guest_cpu(spec('host-model'), CUSTOM)
    assert (choice.mode, choice.model) == (model.HOST_MODEL, None)


@pytest.mark.parametrize('specs, message', [
    (spec('host'), 'allowed: host-passthrough, host-model, custom'),
    (spec('custom'), 'needs migtuner:cpu_model'),
    (spec(None, 'Skylake'), 'needs migtuner:cpu_mode=custom'),
    (spec('host-model', 'Skylake'), 'only used with migtuner:cpu_mode=cu'),
    (spec('custom', 'Sky lake'), 'is not a CPU model name'),
])
def test_bad_specs_raise_and_resolve_to_default(specs, message):
    with pytest.raises(mode.CPUSpecError, match=message):
        mode.requested_cpu_mode(specs)
    choice = mode.resolve_guest_cpu(specs, KVM)
    assert choice.source == mode.SOURCE_LIBVIRT
    assert message in choice.refused
