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

"""The one builder of a migration's inputs, each with its provenance."""

import datetime

from oslo_config import cfg
import pytest

from nova_migtuner.conf import migtuner as conf_mod
from nova_migtuner.engine import measure
from nova_migtuner.planning import context as ctx_mod
from nova_migtuner.planning import inputs
from nova_migtuner.planning import links
from nova_migtuner.planning import planner
from nova_migtuner.planning import policy
from nova_migtuner import units


MiB = units.MiB
GiB = units.GiB


@pytest.fixture
def conf():
    c = cfg.ConfigOpts()
    conf_mod.register_opts(c)
    c([], project='test')
    return c


def test_image_properties_only_migtuner_ones():
    sysmeta = {'image_migtuner_strategy': 'conservative',
               'image_hw_disk_bus': 'virtio', 'migtuner_strategy': 'x',
               'image_min_ram': '0'}
    assert inputs.image_properties_from_system_metadata(sysmeta) == {
        'migtuner_strategy': 'conservative'}


def test_seconds_since_last_excludes_the_running_migration():
    utc = datetime.timezone.utc
    now = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=utc)
    times = [(1, now - datetime.timedelta(seconds=300)),
             (2, now - datetime.timedelta(seconds=40)),
             (3, now - datetime.timedelta(seconds=1)), (4, None)]
    assert inputs.seconds_since_last(times, now, exclude=(3,)) == 40.0
    assert inputs.seconds_since_last([], now) is None


def test_migration_inputs_from_flavor_image_and_conf(conf):
    conf.set_override('tenant_strategies', ['conservative'], 'migtuner')
    conf.set_override('max_downtime_ms', 300, 'migtuner')
    m = measure.Measurement(memory_bytes=4 * GiB, touched_bytes=GiB,
                            dirty_rate=10 * MiB, host_cpu_load=0.5)
    ctx = inputs.migration_inputs(
        conf=conf, memory_bytes=4 * GiB, measurement=m,
        extra_specs={'migtuner:max_downtime_ms': '200',
                     'hw:cpu_policy': 'shared'},
        image_properties=inputs.image_properties_from_system_metadata(
            {'image_migtuner_strategy': 'conservative'}),
        available_strategies=planner.available_strategies(),
        link_bandwidth=inputs.link_from_config(
            conf.migtuner.link_bandwidth),
        seconds_since_instance_migration=12.0, instance_uuid='u')
    assert ctx.policy.strategy == 'conservative'
    assert ctx.policy.strategy_source == 'image'
    assert ctx.max_downtime_ms == 200
    assert ctx.touched == GiB and ctx.dirty_rate == 10 * MiB
    assert ctx.source_host_load == 0.5
    assert ctx.seconds_since_instance_migration == 12.0
    assert ctx_mod.DIRTY_RATE in ctx.measured
    assert ctx_mod.LINK_BANDWIDTH not in ctx.measured


def test_migration_inputs_rejects_untrusted_image_strategy(conf):
    with pytest.raises(policy.PolicyError):
        inputs.migration_inputs(
            conf=conf, memory_bytes=GiB, measurement=None, extra_specs={},
            image_properties={'migtuner_strategy': 'fastest'},
            available_strategies=planner.available_strategies(),
            link_bandwidth=inputs.given(GiB))


def test_every_input_carries_its_provenance():
    limits = ctx_mod.AdminLimits()
    built = inputs.build_inputs(
        memory_bytes=4 * GiB, limits=limits,
        link_bandwidth=inputs.assumed(100 * MiB),
        dirty_rate=inputs.measured(10 * MiB), touched=inputs.given(GiB))
    assert built.source_of(ctx_mod.DIRTY_RATE) == 'measured'
    assert built.source_of(ctx_mod.TOUCHED) == 'given'
    assert built.source_of(ctx_mod.LINK_BANDWIDTH) == 'assumed'
    assert built.source_of(ctx_mod.WORKING_SET) == 'assumed'
    with pytest.raises(ctx_mod.InputsError, match='no provenance'):
        inputs.build_inputs(memory_bytes=GiB, limits=limits,
                            link_bandwidth=100 * MiB)
    with pytest.raises(ctx_mod.InputsError, match='provenance'):
        inputs.Known(1, 'guessed')


def test_link_to_destination_uses_the_shared_link_class():
    views = [links.AggregateView(('src', 'dest'),
                                 {links.LINK_CLASS_KEY: 'rack'})]
    classes = {'rack': '25Gbit/s'}
    link, name = inputs.link_to_destination('src', views, classes,
                                            '1Gbit/s')
    assert (name, link.provenance) == ('rack', 'given')
    assert link.value == 25e9 / 8
    link, name = inputs.link_to_destination('other', views, classes,
                                            '1Gbit/s')
    assert (name, link.value) == ('default', 1e9 / 8)
    link, _ = inputs.link_to_destination('src', [], classes, 'measure',
                                         observed=50 * MiB)
    assert (link.value, link.provenance) == (50 * MiB, 'measured')
    link, _ = inputs.link_to_destination('src', [], classes, 'measure')
    assert link.provenance == 'assumed'
