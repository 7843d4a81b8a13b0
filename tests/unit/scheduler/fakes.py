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

"""Fake host states and request specs for the scheduler tests."""

import json

from oslo_utils.fixture import uuidsentinel as uuids

from nova import objects

from nova_migtuner.cpu import model as cpu_model
from nova_migtuner.scheduler import request
from nova_migtuner.scheduler import stats

objects.register_all()

SKYLAKE = ('Skylake-Server-IBRS', ['vmx', 'ssbd'])
CASCADE = ('Cascadelake-Server', ['vmx', 'ssbd', 'avx512vnni'])


def cpu_info(model_and_features):
    model, features = model_and_features
    return json.dumps({'arch': 'x86_64', 'vendor': 'Intel', 'model': model,
                       'features': features})


def facts(**kw):
    base = dict(virt_type='kvm', cpu_mode='', cpu_models=(),
                incoming_migrations=0, cpu_load=0.1)
    base.update(kw)
    return stats.encode(stats.HostFacts(**base))


class FakeHost(object):
    def __init__(self, host, cpu=SKYLAKE, free_gib=48, total_gib=64,
                 aggregates=(), **fact_kw):
        self.host = self.nodename = host
        self.cpu_info = cpu_info(cpu)
        self.stats = facts(**fact_kw)
        self.free_ram_mb = free_gib * 1024
        self.total_usable_ram_mb = total_gib * 1024
        self.aggregates = list(aggregates)

    def __repr__(self):
        return self.host


def source(cpu=SKYLAKE, **fact_kw):
    host_cpu = cpu_model.host_cpu_from_cpu_info(cpu_info(cpu))
    return request.LiveMigrationSource(
        instance_uuid=uuids.instance, host='src', node='src', cpu=host_cpu,
        facts=stats.HostFacts(**{**dict(virt_type='kvm', cpu_mode=''),
                                 **fact_kw}))


def spec(**extra_specs):
    return objects.RequestSpec(
        instance_uuid=uuids.instance, scheduler_hints={},
        flavor=objects.Flavor(extra_specs=extra_specs, memory_mb=4096))
