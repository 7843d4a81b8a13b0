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

"""Per-guest policy from flavor extra specs and image properties.

Flavor extra specs (set by admins) may name any installed strategy; image
properties (set by tenants) only the strategies listed in
``[migtuner] tenant_strategies``. A guest can only restrict what the admin
allows, never widen it (``context.MigrationInputs`` applies that).
"""

import dataclasses

from nova_migtuner.planning import context as ctx_mod

FLAVOR_PREFIX = 'migtuner:'
IMAGE_PREFIX = 'migtuner_'

STRATEGY = 'strategy'
MAX_DOWNTIME_MS = 'max_downtime_ms'
PERMIT_POST_COPY = 'permit_post_copy'
PERMIT_AUTO_CONVERGE = 'permit_auto_converge'

MAX_DOWNTIME_RANGE = (10, 60000)
_TRUE = ('true', '1', 'yes', 'on')
_FALSE = ('false', '0', 'no', 'off')


class PolicyError(ValueError):
    """A migtuner extra spec or image property has a bad value."""


@dataclasses.dataclass(frozen=True)
class SpecDefinition:
    """One per-guest setting, shared by the parser and nova's validators."""
    name: str
    kind: str            # 'strategy' | 'int' | 'bool'
    description: str
    minimum: int = None
    maximum: int = None
    image: bool = False  # also settable as an image property


SPECS = (
    SpecDefinition(STRATEGY, 'strategy',
                   'Migration strategy for this guest (an installed '
                   'nova_migtuner strategy).', image=True),
    SpecDefinition(MAX_DOWNTIME_MS, 'int',
                   'Largest switch-over pause this guest accepts, in ms; '
                   'the admin cap [migtuner] max_downtime_ms still applies.',
                   minimum=MAX_DOWNTIME_RANGE[0],
                   maximum=MAX_DOWNTIME_RANGE[1], image=True),
    SpecDefinition(PERMIT_POST_COPY, 'bool',
                   'Set false to forbid post-copy for this guest.',
                   image=True),
    SpecDefinition(PERMIT_AUTO_CONVERGE, 'bool',
                   'Set false to forbid vCPU throttling (auto-converge) for '
                   'this guest.', image=True),
)
SPECS_BY_NAME = {s.name: s for s in SPECS}


def parse_value(definition, raw, key, strategies=None):
    """Return the typed value of *raw* or raise PolicyError naming *key*."""
    text = str(raw).strip()
    if definition.kind == 'bool':
        low = text.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise PolicyError('%s=%r is not a boolean; allowed: true or false'
                          % (key, raw))
    if definition.kind == 'int':
        try:
            value = int(text)
        except ValueError:
            raise PolicyError('%s=%r is not an integer; allowed: %d..%d'
                              % (key, raw, definition.minimum,
                                 definition.maximum))
        if not definition.minimum <= value <= definition.maximum:
            raise PolicyError('%s=%r is out of range; allowed: %d..%d'
                              % (key, raw, definition.minimum,
                                 definition.maximum))
        return value
    if strategies is not None and text not in strategies:
        raise PolicyError('%s=%r is not an allowed strategy; allowed: %s'
                          % (key, raw, ', '.join(sorted(strategies))))
    return text


def guest_policy_from(extra_specs=None, image_properties=None,
                      available_strategies=None, tenant_strategies=()):
    """Build a ``GuestPolicy``; flavor extra specs win over image properties.

    :raises PolicyError: for a bad value or an unknown ``migtuner:*`` key.
    """
    values = {}
    sources = {}
    image_allowed = set(tenant_strategies)
    if available_strategies is not None:
        image_allowed &= set(available_strategies)
    for key, raw in sorted((image_properties or {}).items()):
        if not key.startswith(IMAGE_PREFIX):
            continue
        name = key[len(IMAGE_PREFIX):]
        definition = SPECS_BY_NAME.get(name)
        if definition is None or not definition.image:
            continue   # images carry many properties; ignore unknown ones
        values[name] = parse_value(definition, raw, key, image_allowed)
        sources[name] = 'image'
    for key, raw in sorted((extra_specs or {}).items()):
        if not key.startswith(FLAVOR_PREFIX):
            continue
        name = key[len(FLAVOR_PREFIX):]
        definition = SPECS_BY_NAME.get(name)
        if definition is None:
            # cpu_mode/cpu_model and others are read elsewhere.
            continue
        values[name] = parse_value(definition, raw, key,
                                   available_strategies)
        sources[name] = 'flavor'
    return ctx_mod.GuestPolicy(
        strategy=values.get(STRATEGY),
        strategy_source=sources.get(STRATEGY),
        max_downtime_ms=values.get(MAX_DOWNTIME_MS),
        permit_post_copy=values.get(PERMIT_POST_COPY),
        permit_auto_converge=values.get(PERMIT_AUTO_CONVERGE))
