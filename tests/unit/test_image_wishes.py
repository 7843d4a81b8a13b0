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

"""Tenant images cannot make their server hard to move."""

from oslo_config import cfg
import pytest

from nova_migtuner.conf import migtuner as mt_opts
from nova_migtuner.osc import planning as osc_planning
from nova_migtuner.planning import context as ctx
from nova_migtuner.planning import inputs
from nova_migtuner.planning import planner
from nova_migtuner import units

GiB = units.GiB


@pytest.fixture
def conf():
    c = cfg.ConfigOpts()
    mt_opts.register_opts(c)
    c([], project='test', default_config_files=[])
    # The option group object is shared between ConfigOpts: start from and
    # leave the defaults.
    _clear(c)
    yield c
    _clear(c)


def _clear(c):
    for opt in mt_opts.ALL_OPTS:
        c.clear_override(opt.dest, mt_opts.GROUP_NAME)


def _inputs(conf, image, extra_specs=None, **kw):
    return inputs.migration_inputs(
        conf=conf, memory_bytes=4 * GiB, extra_specs=extra_specs or {},
        image_properties=image,
        available_strategies=planner.available_strategies(),
        link_bandwidth=inputs.given(125e6), strict_image=False, **kw)


def test_default_allowlist_is_small_and_leaves_out_auto_converge(conf):
    assert 'permit_auto_converge' not in conf.migtuner.image_settable_keys
    assert 'conservative' not in conf.migtuner.tenant_strategies
    c = _inputs(conf, {'migtuner_permit_auto_converge': 'false'})
    assert c.policy.permit_auto_converge is None
    assert c.auto_converge_permitted
    assert any('image_settable_keys' in n and
               'migtuner_permit_auto_converge' in n for n in c.policy.notes)


def test_admin_may_allow_more_keys(conf):
    conf.set_override('image_settable_keys', ['permit_auto_converge'],
                      'migtuner')
    c = _inputs(conf, {'migtuner_permit_auto_converge': 'false',
                       'migtuner_max_downtime_ms': '300'})
    assert c.policy.permit_auto_converge is False
    # Not in the list any more: ignored, and said so.
    assert c.policy.max_downtime_ms is None
    assert any('migtuner_max_downtime_ms' in n for n in c.policy.notes)


def test_allowlist_option_accepts_only_known_keys(conf):
    with pytest.raises(ValueError):
        conf.set_override('image_settable_keys', ['cpu_mode'], 'migtuner')


def test_a_10_ms_image_downtime_is_raised_to_the_floor(conf):
    c = _inputs(conf, {'migtuner_max_downtime_ms': '10'})
    assert conf.migtuner.image_downtime_floor_ms == 100
    assert c.policy.max_downtime_ms == 100 and c.max_downtime_ms == 100
    assert any('raised to the floor 100 ms' in n for n in c.policy.notes)
    # The admin's flavor is not floored.
    c = _inputs(conf, {}, extra_specs={'migtuner:max_downtime_ms': '10'})
    assert c.max_downtime_ms == 10


def test_operator_choice_overrides_every_image_wish(conf):
    image = {'migtuner_strategy': 'min_downtime',
             'migtuner_max_downtime_ms': '150',
             'migtuner_permit_post_copy': 'false'}
    c = _inputs(conf, image, operator_chosen=True)
    assert c.policy == ctx.GuestPolicy(notes=c.policy.notes)
    assert any('an operator chose' in n for n in c.policy.notes)
    # Without the operator the same image is followed.
    c = _inputs(conf, image)
    assert c.policy.strategy == 'min_downtime'
    assert c.policy.max_downtime_ms == 150


def test_bad_image_value_is_ignored_with_a_reason_in_the_plan(conf):
    c = _inputs(conf, {'migtuner_strategy': 'conservative',
                       'migtuner_permit_post_copy': 'maybe',
                       'migtuner_max_downtime_ms': '200'})
    # The good wish stays, the bad ones are dropped one by one.
    assert c.policy.max_downtime_ms == 200
    assert c.policy.strategy is None and c.policy.permit_post_copy is None
    plan = planner.build_plan(c)
    explained = '\n'.join(plan.explain())
    assert "migtuner_strategy='conservative' is not an allowed" in explained
    assert "migtuner_permit_post_copy='maybe' is not a boolean" in explained


def test_cli_planning_applies_the_same_rules(conf):
    settings = osc_planning.settings_from_config(conf)
    facts = osc_planning.ServerFacts(
        server_id='s', name='s', status='ACTIVE', host='h',
        flavor_name='f', memory_mb=4096, vcpus=2, extra_specs={},
        image_id='i', image_properties={'migtuner_max_downtime_ms': '10',
                                        'migtuner_permit_auto_converge':
                                        'false'},
        task_state=None)
    c = osc_planning.inputs_for(facts, settings,
                                planner.available_strategies())
    assert c.max_downtime_ms == 100
    assert c.policy.permit_auto_converge is None
