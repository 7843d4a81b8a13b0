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

import json

from nova_migtuner.cpu import compat
from nova_migtuner.cpu import mode
from nova_migtuner.cpu import model

SKYLAKE = model.HostCPU('x86_64', 'Intel', 'Skylake-Server-IBRS',
                        frozenset({'vmx', 'pdpe1gb', 'ssbd'}))
SKYLAKE_NO_SSBD = model.HostCPU('x86_64', 'Intel', 'Skylake-Server-IBRS',
                                frozenset({'vmx', 'pdpe1gb'}))
CASCADE = model.HostCPU('x86_64', 'Intel', 'Cascadelake-Server',
                        frozenset({'vmx', 'pdpe1gb'}))
EPYC = model.HostCPU('x86_64', 'AMD', 'EPYC-Rome', frozenset({'svm'}))


def choice(cpu_mode, cpu_model_name=None):
    return mode.GuestCPUChoice(cpu_mode, cpu_model_name, mode.SOURCE_FLAVOR)


def test_passthrough_needs_identical_cpu():
    guest = choice(model.HOST_PASSTHROUGH)
    assert compat.check_destination_cpu(guest, SKYLAKE, SKYLAKE).passes
    verdict = compat.check_destination_cpu(guest, SKYLAKE, CASCADE)
    assert not verdict.passes
    assert 'needs CPU model Skylake-Server-IBRS, host has Cascadelake' in \
        verdict.reason
    verdict = compat.check_destination_cpu(guest, SKYLAKE, SKYLAKE_NO_SSBD)
    assert not verdict.passes
    assert 'missing ssbd' in verdict.reason
    # more features on the destination are not identical either
    verdict = compat.check_destination_cpu(guest, SKYLAKE_NO_SSBD, SKYLAKE)
    assert not verdict.passes and 'extra ssbd' in verdict.reason


def test_vendor_and_arch_mismatch():
    guest = choice(model.HOST_MODEL)
    assert 'needs a Intel CPU, host has AMD' in compat.check_destination_cpu(
        guest, SKYLAKE, EPYC).reason
    arm = model.HostCPU('aarch64', 'Intel', 'x', frozenset())
    assert 'architecture' in compat.check_destination_cpu(
        guest, SKYLAKE, arm).reason


def test_host_model_superset_on_expanded_features():
    guest = choice(model.HOST_MODEL)
    source = SKYLAKE.with_expanded_features({'sse', 'avx512f', 'vmx'})
    newer = CASCADE.with_expanded_features({'sse', 'avx512f', 'vmx',
                                            'avx512vnni'})
    older = CASCADE.with_expanded_features({'sse', 'vmx'})
    assert compat.check_destination_cpu(guest, source, newer).passes
    verdict = compat.check_destination_cpu(guest, source, older)
    assert not verdict.passes and 'avx512f' in verdict.reason


def test_host_model_without_expanded_features_needs_same_model():
    guest = choice(model.HOST_MODEL)
    assert compat.check_destination_cpu(guest, SKYLAKE_NO_SSBD,
                                        SKYLAKE).passes
    assert not compat.check_destination_cpu(guest, SKYLAKE,
                                            SKYLAKE_NO_SSBD).passes
    verdict = compat.check_destination_cpu(guest, SKYLAKE, CASCADE)
    assert not verdict.passes and 'no expanded feature list' in \
        verdict.reason


def test_custom_model_must_be_verified_on_destination():
    guest = choice(model.CUSTOM, 'Skylake-Server-IBRS')
    assert compat.check_destination_cpu(
        guest, None, CASCADE, ('Cascadelake-Server',
                               'skylake-server-ibrs')).passes
    verdict = compat.check_destination_cpu(guest, None, CASCADE,
                                           ('Cascadelake-Server',))
    assert not verdict.passes and 'Skylake-Server-IBRS' in verdict.reason
    # a host that cannot tell (not cpu_mode=custom) is left to nova
    assert compat.check_destination_cpu(guest, None, CASCADE, None).passes


def test_unknown_source_passes_unknown_destination_fails():
    guest = choice(model.HOST_PASSTHROUGH)
    assert compat.check_destination_cpu(guest, None, SKYLAKE).passes
    verdict = compat.check_destination_cpu(guest, SKYLAKE, None)
    assert not verdict.passes and 'reports no CPU model' in verdict.reason


def test_no_cpu_mode_never_constrains():
    assert compat.check_destination_cpu(choice(None), SKYLAKE, EPYC).passes
    assert compat.check_destination_cpu(choice('none'), SKYLAKE,
                                        EPYC).passes


def test_host_cpu_from_nova_cpu_info():
    cpu_info = json.dumps({'arch': 'x86_64', 'model': 'Penryn',
                           'vendor': 'Intel', 'features': ['vmx', 'ht'],
                           'topology': {}})
    cpu = model.host_cpu_from_cpu_info(cpu_info)
    assert cpu == model.HostCPU('x86_64', 'Intel', 'Penryn',
                                frozenset({'vmx', 'ht'}))
    assert model.host_cpu_from_cpu_info('') is None
    assert model.host_cpu_from_cpu_info('not json') is None
    assert model.host_cpu_from_cpu_info('{}') is None


def test_fingerprint_is_order_independent_and_sensitive():
    a = model.HostCPU('x86_64', 'Intel', 'X', frozenset({'a', 'b'}))
    b = model.HostCPU('x86_64', 'Intel', 'X', frozenset({'b', 'a'}))
    c = model.HostCPU('x86_64', 'Intel', 'X', frozenset({'a'}))
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
