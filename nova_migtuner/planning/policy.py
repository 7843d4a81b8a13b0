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
``[migtuner] tenant_strategies``, only for the keys in
``image_settable_keys``, and no downtime below ``image_downtime_floor_ms``.
A guest can only restrict what the admin allows, never widen it
(``context.MigrationInputs`` applies that).
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


def _image_wishes(image_properties, image_allowed, image_keys,
                  downtime_floor_ms, strict, notes):
    """``{name: value}`` of the image properties that may be used."""
    values = {}
    for key, raw in sorted((image_properties or {}).items()):
        if not key.startswith(IMAGE_PREFIX):
            continue
        name = key[len(IMAGE_PREFIX):]
        definition = SPECS_BY_NAME.get(name)
        if definition is None or not definition.image:
            continue   # images carry many properties; ignore unknown ones
        if image_keys is not None and name not in image_keys:
            notes.append('image property %s ignored: the admin lets images '
                         'set only %s ([migtuner] image_settable_keys)'
                         % (key, ', '.join(sorted(image_keys)) or 'nothing'))
            continue
        try:
            value = parse_value(definition, raw, key, image_allowed)
        except PolicyError as e:
            if strict:
                raise
            notes.append('image property ignored: %s' % e)
            continue
        if (name == MAX_DOWNTIME_MS and downtime_floor_ms is not None and
                value < downtime_floor_ms):
            notes.append('image property %s=%d raised to the floor %d ms '
                         '([migtuner] image_downtime_floor_ms)'
                         % (key, value, downtime_floor_ms))
            value = downtime_floor_ms
        values[name] = value
    return values


def guest_policy_from(extra_specs=None, image_properties=None,
                      available_strategies=None, tenant_strategies=(),
                      image_keys=None, image_downtime_floor_ms=None,
                      strict_image=True, operator_chosen=False):
    """Build a ``GuestPolicy``; flavor extra specs win over image properties.

    Images belong to tenants, so their wishes are narrowed: only the keys in
    *image_keys* (``[migtuner] image_settable_keys``; None: every image key)
    and the strategies in *tenant_strategies* are used, and a downtime wish
    below *image_downtime_floor_ms* is raised to it. When an operator chose
    this migration's strategy (*operator_chosen*) no image wish is used.
    ``GuestPolicy.notes`` says what was ignored or changed, and why.

    :param strict_image: raise ``PolicyError`` for a bad image value; when
        false the value is ignored and a note says why (nova's driver:
        the tenant's mistake must not untune the migration).
    :raises PolicyError: for a bad flavor value (and, with
        *strict_image*, a bad image value).
    """
    values = {}
    sources = {}
    notes = []
    image_allowed = set(tenant_strategies)
    if available_strategies is not None:
        image_allowed &= set(available_strategies)
    if operator_chosen:
        if any(k.startswith(IMAGE_PREFIX) for k in image_properties or {}):
            notes.append('image properties ignored: an operator chose '
                         'this migration\'s strategy')
    else:
        for name, value in _image_wishes(
                image_properties, image_allowed, image_keys,
                image_downtime_floor_ms, strict_image, notes).items():
            values[name] = value
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
        permit_auto_converge=values.get(PERMIT_AUTO_CONVERGE),
        notes=tuple(notes))
