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

from nova_migtuner.planning import policy

STRATEGIES = ('balanced', 'conservative', 'fastest', 'min_downtime')


def parse(extra_specs=None, image=None, tenant=('balanced',)):
    return policy.guest_policy_from(extra_specs, image, STRATEGIES, tenant)


def test_flavor_extra_specs_are_typed():
    p = parse({'migtuner:strategy': 'fastest',
               'migtuner:max_downtime_ms': '250',
               'migtuner:permit_post_copy': 'False',
               'migtuner:permit_auto_converge': 'yes',
               'hw:numa_nodes': '2'})
    assert p.strategy == 'fastest' and p.strategy_source == 'flavor'
    assert p.max_downtime_ms == 250
    assert p.permit_post_copy is False
    assert p.permit_auto_converge is True


def test_flavor_wins_over_image():
    p = parse({'migtuner:strategy': 'conservative'},
              {'migtuner_strategy': 'balanced'})
    assert p.strategy == 'conservative'


def test_image_strategy_must_be_allowlisted():
    assert parse(image={'migtuner_strategy': 'balanced'}).strategy_source \
        == 'image'
    with pytest.raises(policy.PolicyError) as exc:
        parse(image={'migtuner_strategy': 'fastest'})
    assert "migtuner_strategy='fastest'" in str(exc.value)
    assert 'allowed: balanced' in str(exc.value)


@pytest.mark.parametrize('key,value,fragment', [
    ('migtuner:max_downtime_ms', 'abc', 'not an integer; allowed: 10..60000'),
    ('migtuner:max_downtime_ms', '5', 'out of range; allowed: 10..60000'),
    ('migtuner:permit_post_copy', 'maybe', 'allowed: true or false'),
    ('migtuner:strategy', 'yolo', 'allowed: balanced, conservative'),
])
def test_bad_values_name_key_value_and_allowed(key, value, fragment):
    with pytest.raises(policy.PolicyError) as exc:
        parse({key: value})
    assert '%s=%r' % (key, value) in str(exc.value)
    assert fragment in str(exc.value)


def test_unrelated_keys_are_ignored():
    p = parse({'hw:cpu_sockets': '4'}, {'hw_disk_bus': 'scsi',
                                        'migtuner_unknown': 'x'})
    assert p.strategy is None and p.max_downtime_ms is None
