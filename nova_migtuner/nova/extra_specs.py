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

"""Validators of the ``migtuner:*`` flavor extra specs for nova's API.

Registered in the ``nova.api.extra_spec_validators`` entry point namespace
(nova/api/validation/extra_specs/validators.py:66), so that with
microversion 2.86 or later::

    openstack flavor set --property migtuner:max_downtime_ms=abc FLAVOR

is refused with HTTP 400 and a message naming the key, the value and what
is allowed. Registering any ``migtuner:`` validator also makes nova refuse
unknown ``migtuner:`` keys (typos) as "not a valid extra spec".

The rules are the ones the driver applies (``policy.SPECS`` with
``policy.parse_value``, ``cpu.mode`` for the CPU specs), not a copy.
"""

import dataclasses
import re
import typing as ty

from nova.api.validation.extra_specs import base
from nova import exception

from nova_migtuner.cpu import mode as cpu_mode
from nova_migtuner.cpu import model as cpu_model
from nova_migtuner.planning import planner
from nova_migtuner.planning import policy

_TYPES = {'int': int, 'bool': bool, 'strategy': str}


@dataclasses.dataclass
class MigTunerSpecValidator(base.ExtraSpecValidator):
    """An ``ExtraSpecValidator`` whose check and message are migtuner's.

    Nova's messages say what is wrong ("'abc' is not a valid integer
    value"); ours also say what is allowed, e.g. "allowed: 10..60000".
    """
    check: ty.Callable[[str, str], ty.Any] = None

    def validate(self, name, value):
        if self.check is None:
            return super().validate(name, value)
        if not re.fullmatch(self.name_regex, name):
            raise exception.ValidationError(
                "Validation failed; expected a name of format '%s' but got "
                "'%s'." % (self.name, name))
        try:
            self.check(name, value)
        except ValueError as e:
            raise exception.ValidationError('Validation failed; %s.' % e)


def _available_strategies():
    return planner.available_strategies()


def _policy_check(definition):
    def check(name, value):
        strategies = (_available_strategies()
                      if definition.kind == 'strategy' else None)
        policy.parse_value(definition, value, name, strategies)
    return check


def _value_schema(definition):
    schema = {'type': _TYPES[definition.kind],
              'description': definition.description}
    if definition.kind == 'int':
        schema['min'] = definition.minimum
        schema['max'] = definition.maximum
    return schema


def _policy_validators():
    return [MigTunerSpecValidator(
        name=policy.FLAVOR_PREFIX + definition.name,
        description=definition.description,
        value=_value_schema(definition),
        check=_policy_check(definition))
        for definition in policy.SPECS]


EXTRA_SPEC_VALIDATORS = _policy_validators() + [
    MigTunerSpecValidator(
        name=cpu_mode.CPU_MODE_KEY,
        description=(
            'CPU mode of the guest, applied by the migtuner libvirt driver '
            'within what the host\'s [libvirt] cpu_mode, cpu_models and '
            'virt_type allow. host-passthrough shows the guest the real '
            'host CPU (caches, all features: best performance) but the '
            'guest can then only live-migrate to hosts with the identical '
            'CPU; host-model and custom keep more destinations open.'),
        value={'type': str, 'enum': list(cpu_model.FLAVOR_CPU_MODES),
               'description': 'The CPU mode.'},
        check=lambda name, value: cpu_mode.validate_cpu_mode(value, name)),
    MigTunerSpecValidator(
        name=cpu_mode.CPU_MODEL_KEY,
        description=(
            'CPU model of a guest with migtuner:cpu_mode=custom; must be '
            'one of the compute hosts\' [libvirt] cpu_models.'),
        value={'type': str, 'pattern': cpu_mode.CPU_MODEL_PATTERN,
               'description': 'A libvirt CPU model name.'},
        check=lambda name, value: cpu_mode.validate_cpu_model(value, name)),
]


def register():
    return EXTRA_SPEC_VALIDATORS
