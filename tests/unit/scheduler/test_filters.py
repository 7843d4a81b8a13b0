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

"""MigTunerFilter over fake host states."""

import time
from unittest import mock

from nova_migtuner.scheduler import filters

from tests.unit.scheduler.fakes import CASCADE
from tests.unit.scheduler.fakes import FakeHost
from tests.unit.scheduler.fakes import source
from tests.unit.scheduler.fakes import spec


def passing(hosts, spec_obj):
    return [h.host for h in filters.MigTunerFilter().filter_all(hosts,
                                                                spec_obj)]


def test_passthrough_guest_only_to_identical_cpu(conf, live):
    hosts = [FakeHost('same'), FakeHost('newer', cpu=CASCADE)]
    assert passing(hosts, spec(**{'migtuner:cpu_mode':
                                  'host-passthrough'})) == ['same']


def test_all_rejected_logs_one_clear_line(conf, live):
    with mock.patch.object(filters.LOG, 'info') as info, \
            mock.patch.object(filters.LOG, 'debug') as debug:
        assert passing([FakeHost('newer', cpu=CASCADE)],
                       spec(**{'migtuner:cpu_mode':
                               'host-passthrough'})) == []
    assert 'needs CPU model Skylake-Server-IBRS' in \
        debug.call_args[0][1]['reason']
    assert 'newer: host-passthrough guest needs CPU model' in \
        info.call_args[0][1]['reasons']


def test_host_model_guest_same_model_superset(conf, live):
    live['source'] = source(cpu=('Skylake-Server-IBRS', ['vmx']))
    hosts = [FakeHost('superset'), FakeHost('other-model', cpu=CASCADE)]
    # without expanded feature lists only the same model compares
    assert passing(hosts, spec()) == ['superset']


def test_incoming_limit_and_settle_time(conf, live):
    conf.config(max_incoming_migrations=1, destination_settle_s=60,
                group='migtuner')
    hosts = [FakeHost('busy', incoming_migrations=1),
             FakeHost('settling', last_incoming_end=time.time() - 5),
             FakeHost('ready', last_incoming_end=time.time() - 120),
             FakeHost('silent')]
    hosts[-1].stats = {}
    assert passing(hosts, spec()) == ['ready', 'silent']


def test_boot_is_not_filtered_unless_configured(conf, live):
    live['source'] = None
    hosts = [FakeHost('busy', incoming_migrations=5, cpu=CASCADE)]
    assert passing(hosts, spec(**{'migtuner:cpu_mode':
                                  'host-passthrough'})) == ['busy']
    conf.config(filter_all_requests=True, group='migtuner')
    # limits apply, the CPU check does not (a boot defines the CPU anew)
    assert passing(hosts, spec()) == []
    assert passing([FakeHost('free', cpu=CASCADE)],
                   spec(**{'migtuner:cpu_mode':
                           'host-passthrough'})) == ['free']


def test_rebuild_is_never_filtered(conf, live):
    rebuild = spec(**{'migtuner:cpu_mode': 'host-passthrough'})
    rebuild.scheduler_hints = {'_nova_check_type': ['rebuild']}
    assert passing([FakeHost('newer', cpu=CASCADE)], rebuild) == ['newer']
