"""MigTunerFilter and MigTunerWeigher over fake host states."""

import gc
import json
import time
from unittest import mock

from oslo_config import fixture as config_fixture
from oslo_utils.fixture import uuidsentinel as uuids
import pytest

from nova import objects
from nova.scheduler import weights as nova_weights

import nova_migtuner.conf
from nova_migtuner.cpu import model as cpu_model
from nova_migtuner.scheduler import filters
from nova_migtuner.scheduler import request
from nova_migtuner.scheduler import stats
from nova_migtuner.scheduler import weights

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


@pytest.fixture
def conf():
    fixture = config_fixture.Config(nova_migtuner.conf.CONF)
    fixture.setUp()
    yield fixture
    fixture.cleanUp()


@pytest.fixture
def live(monkeypatch):
    holder = {'source': source()}
    monkeypatch.setattr(request, 'live_migration_source',
                        lambda spec_obj: holder['source'])
    return holder


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


def test_cheap_signal_never_true_for_a_boot():
    boot = objects.RequestSpec(instance_uuid=uuids.instance, ignore_hosts=None)
    assert not request.maybe_live_migration(boot)
    moved = objects.RequestSpec(
        instance_uuid=uuids.instance, ignore_hosts=['src'],
        requested_destination=objects.Destination(
            cell=objects.CellMapping(uuid=uuids.cell, name='cell1')))
    assert request.maybe_live_migration(moved)
    no_cell = objects.RequestSpec(instance_uuid=uuids.instance,
                                  ignore_hosts=['src'])
    assert not request.maybe_live_migration(no_cell)
    with mock.patch.object(request, '_lookup') as lookup:
        assert request.live_migration_source(boot) is None
    lookup.assert_not_called()


def test_lookup_once_per_request_and_errors_pass(monkeypatch):
    moved = objects.RequestSpec(
        instance_uuid=uuids.instance, ignore_hosts=['src'],
        requested_destination=objects.Destination(
            cell=objects.CellMapping(uuid=uuids.cell, name='cell1')))
    answer = source()
    with mock.patch.object(request, '_lookup',
                           return_value=answer) as lookup:
        assert request.live_migration_source(moved) is answer
        assert request.live_migration_source(moved) is answer
    assert lookup.call_count == 1
    other = objects.RequestSpec(**{k: getattr(moved, k) for k in (
        'instance_uuid', 'ignore_hosts', 'requested_destination')})
    with mock.patch.object(request, '_lookup',
                           side_effect=RuntimeError('db down')):
        assert request.live_migration_source(other) is None
    key = id(moved)
    assert key in request._ANSWERS
    # the cache entry leaves with its RequestSpec (the mock holds call args)
    del moved, lookup
    gc.collect()
    assert key not in request._ANSWERS
