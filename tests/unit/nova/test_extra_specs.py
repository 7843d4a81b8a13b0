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

"""The migtuner:* validators, alone and through nova's validate()."""

import importlib.metadata

import pytest

from nova.api.validation.extra_specs import validators as nova_validators
from nova import exception

from nova_migtuner.nova import extra_specs

ENTRY_POINT_GROUP = 'nova.api.extra_spec_validators'


@pytest.fixture
def registered(monkeypatch):
    """nova's registry as it is once the entry point is installed."""
    registry = dict(nova_validators.VALIDATORS)
    namespaces = set(nova_validators.NAMESPACES)
    for validator in extra_specs.register():
        registry[validator.name] = validator
        namespaces.add(validator.name_regex.split(':', 1)[0])
    monkeypatch.setattr(nova_validators, 'VALIDATORS', registry)
    monkeypatch.setattr(nova_validators, 'NAMESPACES', namespaces)


def test_every_policy_spec_and_cpu_spec_is_covered():
    from nova_migtuner.planning import policy
    names = {v.name for v in extra_specs.register()}
    assert names == ({'migtuner:' + s.name for s in policy.SPECS} |
                     {'migtuner:cpu_mode', 'migtuner:cpu_model'})


@pytest.mark.parametrize('name, value', [
    ('migtuner:max_downtime_ms', '300'),
    ('migtuner:max_downtime_ms', '60000'),
    ('migtuner:strategy', 'balanced'),
    ('migtuner:permit_post_copy', 'false'),
    ('migtuner:permit_auto_converge', 'True'),
    ('migtuner:cpu_mode', 'host-passthrough'),
    ('migtuner:cpu_mode', 'custom'),
    ('migtuner:cpu_model', 'Skylake-Server-IBRS'),
    ('hw:numa_nodes', '4'),
])
def test_valid_values_pass(registered, name, value):
    nova_validators.validate(name, value)


@pytest.mark.parametrize('name, value, message', [
    ('migtuner:max_downtime_ms', 'abc',
     "migtuner:max_downtime_ms='abc' is not an integer; allowed: 10..60000"),
    ('migtuner:max_downtime_ms', '9',
     "migtuner:max_downtime_ms='9' is out of range; allowed: 10..60000"),
    ('migtuner:strategy', 'yolo', 'allowed: balanced, conservative'),
    ('migtuner:permit_post_copy', 'maybe', 'allowed: true or false'),
    ('migtuner:cpu_mode', 'host', 'allowed: host-passthrough, host-model, '
                                  'custom'),
    ('migtuner:cpu_model', 'no spaces', 'is not a CPU model name'),
    ('migtuner:max_downtime', '300', 'does not appear to be a valid extra '
                                     'spec'),
])
def test_invalid_values_are_refused_saying_what_is_allowed(
        registered, name, value, message):
    with pytest.raises(exception.ValidationError) as e:
        nova_validators.validate(name, value)
    assert message in str(e.value)


def test_wrong_name_is_refused():
    validator = extra_specs.register()[0]
    with pytest.raises(exception.ValidationError, match='expected a name'):
        validator.validate('migtuner:other', 'balanced')


def test_entry_point_names_this_module_when_installed():
    eps = [ep for ep in importlib.metadata.entry_points(
        group=ENTRY_POINT_GROUP) if ep.value.startswith('nova_migtuner')]
    if not eps:
        pytest.skip('nova.api.extra_spec_validators entry point not '
                    'installed yet (setup.cfg)')
    assert [ep.value for ep in eps] == ['nova_migtuner.nova.extra_specs']
    assert eps[0].load().register() == extra_specs.register()
