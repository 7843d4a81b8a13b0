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

"""MigTunerWeigher over fake host states."""

from nova.scheduler import weights as nova_weights

from nova_migtuner.scheduler import weights

from tests.unit.scheduler.fakes import FakeHost
from tests.unit.scheduler.fakes import spec


class Agg(object):
    def __init__(self, hosts, metadata):
        self.hosts = hosts
        self.metadata = metadata


def ranked(hosts, spec_obj):
    handler = nova_weights.HostWeightHandler()
    result = handler.get_weighed_objects([weights.MigTunerWeigher()], hosts,
                                         spec_obj)
    return [w.obj.host for w in result]


def test_weigher_prefers_fast_link_class(conf, live):
    conf.config(link_classes={'rack': '25Gbit/s'}, group='migtuner')
    rack = [Agg(['src', 'near'], {'migtuner_link_class': 'rack'})]
    hosts = [FakeHost('far'), FakeHost('near', aggregates=rack)]
    assert ranked(hosts, spec()) == ['near', 'far']


def test_weigher_prefers_idle_and_roomy(conf, live):
    hosts = [FakeHost('loaded', cpu_load=0.9), FakeHost('idle', cpu_load=0.1)]
    assert ranked(hosts, spec()) == ['idle', 'loaded']
    hosts = [FakeHost('tight', free_gib=6), FakeHost('roomy', free_gib=40)]
    assert ranked(hosts, spec()) == ['roomy', 'tight']
    hosts = [FakeHost('receiving', incoming_migrations=1), FakeHost('quiet')]
    assert ranked(hosts, spec()) == ['quiet', 'receiving']


def test_weigher_multiplier_from_conf_and_aggregate(conf, live):
    conf.config(weight_multiplier=-1.0, group='migtuner')
    hosts = [FakeHost('loaded', cpu_load=0.9), FakeHost('idle', cpu_load=0.1)]
    assert ranked(hosts, spec()) == ['loaded', 'idle']
    weigher = weights.MigTunerWeigher()
    agg_host = FakeHost('x', aggregates=[
        Agg(['x'], {'migtuner_weight_multiplier': '2.5'})])
    assert weigher.weight_multiplier(agg_host) == 2.5
    assert weigher.weight_multiplier(FakeHost('y')) == -1.0


def test_weigher_neutral_for_other_requests(conf, live):
    live['source'] = None
    hosts = [FakeHost('loaded', cpu_load=0.9), FakeHost('idle', cpu_load=0.1)]
    assert weights.MigTunerWeigher().weigh_objects(
        [nova_weights.WeighedHost(h, 0.0) for h in hosts], spec()) == [0, 0]
