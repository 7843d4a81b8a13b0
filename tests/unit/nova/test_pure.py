"""Unit tests of the pure parts of the nova integration (plain pytest).

No nova services here: compat, measure arithmetic, inputs, handoff,
notification schemas and payload building, with plain values.
"""

import datetime
import json

from oslo_config import cfg
import pytest

from nova_migtuner.conf import migtuner as conf_mod
from nova_migtuner.engine import escalation
from nova_migtuner.engine import measure
from nova_migtuner.engine import stats as stats_mod
from nova_migtuner.planning import compat
from nova_migtuner.planning import context as ctx_mod
from nova_migtuner.planning import handoff
from nova_migtuner.planning import inputs
from nova_migtuner.planning import limits as limits_mod
from nova_migtuner.planning import links
from nova_migtuner.planning import notification_schema as notif
from nova_migtuner.planning import payloads
from nova_migtuner.planning import planner
from nova_migtuner.planning import policy
from nova_migtuner import units

MiB = units.MiB
GiB = units.GiB


# -- compat --------------------------------------------------------------


class _GoodDriver:
    def _live_migration(self, context, instance, dest, post_method,
                        recover_method, block_migration, migrate_data):
        pass

    def _live_migration_operation(self, context, instance, dest,
                                  block_migration, migrate_data, guest,
                                  device_names):
        pass

    def _live_migration_monitor(self, context, instance, guest, dest,
                                post_method, recover_method,
                                block_migration, migrate_data, future,
                                disk_paths):
        pass

    def _get_migration_flags(self, is_block_migration):
        pass

    def _is_post_copy_enabled(self, migration_flags):
        pass

    def live_migration_abort(self, instance):
        pass

    def live_migration_force_complete(self, instance):
        pass

    def post_live_migration_at_destination(self, context, instance,
                                           network_info,
                                           block_migration=False,
                                           block_device_info=None):
        pass

    def _get_guest_cpu_model_config(self, flavor=None, arch=None):
        pass

    def _get_cpu_model_mapping(self, model):
        pass

    def _get_guest_baseline_cpu_features(self, xml_str):
        pass

    def get_available_resource(self, nodename):
        pass


class _Migration:
    @staticmethod
    def trigger_postcopy_switch(guest, instance, migration):
        pass


class _Guest:
    Guest = object
    JobInfo = object


def test_compat_accepts_the_expected_surface():
    assert compat.problems('34.0.0', _GoodDriver, _Migration, _Guest) == []
    assert compat.problems('34.1.2', _GoodDriver, _Migration, _Guest) == []


@pytest.mark.parametrize('version', ['33.0.0', '35.0.0', 'unknown'])
def test_compat_refuses_other_nova_releases(version):
    found = compat.problems(version, _GoodDriver, _Migration, _Guest)
    assert len(found) == 1 and version in found[0]


def test_compat_names_renamed_and_changed_methods():
    class Changed(_GoodDriver):
        _live_migration_monitor = None

        def _get_migration_flags(self, migrate_data):
            pass

    class Guest:
        Guest = object

    found = compat.problems('34.0.0', Changed, _Migration, Guest)
    assert 'LibvirtDriver._live_migration_monitor is missing' in found
    assert ('LibvirtDriver._get_migration_flags(migrate_data) does not '
            'take (is_block_migration)') in found
    assert 'nova.virt.libvirt.guest.JobInfo is missing' in found
    with pytest.raises(compat.UnsupportedNovaError) as err:
        compat.require('36.0.0', Changed, _Migration, Guest)
    # One message names every problem, and nova's loader exits cleanly on
    # an ImportError.
    assert isinstance(err.value, ImportError)
    assert 'nova 36.0.0 is not supported' in str(err.value)
    assert 'JobInfo is missing' in str(err.value)


def test_compat_instance_attributes():
    class Driver:
        _host = active_migrations = _live_migration_flags = None

    assert compat.instance_problems(Driver()) == [
        'LibvirtDriver instance has no attribute _block_migration_flags']


# -- measure ---------------------------------------------------------------


def test_touched_from_rss_is_capped_at_guest_memory():
    assert measure.touched_from({'rss': 1024}, 4 * GiB) == MiB
    assert measure.touched_from({'rss': 8 * 1024 * 1024}, 4 * GiB) == 4 * GiB
    assert measure.touched_from({}, 4 * GiB) is None


def test_guest_cpu_load():
    # 2 vCPUs, 1 s, 1.5 s of CPU time used: 75 %.
    assert measure.guest_cpu_load_from(0, 1.5e9, 1.0, 2) == 0.75
    assert measure.guest_cpu_load_from(0, 9e9, 1.0, 2) == 1.0
    assert measure.guest_cpu_load_from(0, 1e9, 0, 2) is None


def test_host_cpu_load():
    before = {'kernel': 0, 'user': 0, 'idle': 0, 'iowait': 0}
    after = {'kernel': 100, 'user': 200, 'idle': 600, 'iowait': 100}
    assert measure.host_cpu_load_from(before, after) == pytest.approx(0.3)
    assert measure.host_cpu_load_from(before, before) is None
    assert measure.host_cpu_load_from({}, after) is None


def test_dirty_rate_only_when_measured():
    assert measure.dirty_rate_from(
        {'dirtyrate.calc_status': 2,
         'dirtyrate.megabytes_per_second': 50}) == 50 * MiB
    assert measure.dirty_rate_from(
        {'dirtyrate.calc_status': 1,
         'dirtyrate.megabytes_per_second': 50}) is None
    assert measure.dirty_rate_from(None) is None


class _LibvirtError(Exception):
    pass


class _Libvirt:
    VIR_DOMAIN_STATS_DIRTYRATE = 512
    libvirtError = _LibvirtError


class _Domain:
    def __init__(self, fail=(), conn=None):
        self.fail = fail
        self.cpu = 0
        self.conn = conn

    def connect(self):
        return self.conn

    def name(self):
        return 'guest'

    def memoryStats(self):
        if 'mem' in self.fail:
            raise RuntimeError('no balloon')
        return {'rss': 512 * 1024}

    def info(self):
        self.cpu += int(0.5e9)
        return [1, 0, 0, 1, self.cpu]

    def startDirtyRateCalc(self, seconds, flags):
        if 'dirty' in self.fail:
            raise _LibvirtError('QEMU too old for calc-dirty-rate')


class _Conn:
    def __init__(self):
        self.calls = 0

    def getCPUStats(self, cpu, flags):
        self.calls += 1
        return {'kernel': 0, 'user': 10 * self.calls, 'idle': 30 * self.calls,
                'iowait': 0}

    def domainListGetStats(self, domains, stats):
        return [(domains[0], {'dirtyrate.calc_status': 2,
                              'dirtyrate.megabytes_per_second': 20})]


class _Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_measure_guest_with_everything_available():
    clock = _Clock()
    conn = _Conn()
    m = measure.measure_guest(_Domain(conn=conn), conn, _Libvirt, 2 * GiB,
                              1, dirty_rate_window_s=1, sleep=clock.sleep,
                              clock=clock)
    assert m.touched_bytes == 512 * MiB
    assert m.dirty_rate == 20 * MiB
    assert m.host_cpu_load == pytest.approx(0.25)
    assert m.window_s == pytest.approx(1.0)
    assert m.guest_cpu_load == pytest.approx(0.5)
    assert m.measured == {ctx_mod.TOUCHED, ctx_mod.DIRTY_RATE,
                          ctx_mod.GUEST_CPU_LOAD, ctx_mod.SOURCE_HOST_LOAD}
    assert m.notes == ()


def test_measure_guest_failures_become_unknowns_with_notes():
    clock = _Clock()
    conn = _Conn()
    m = measure.measure_guest(_Domain(fail=('mem', 'dirty'), conn=conn),
                              conn, _Libvirt, GiB, 1, dirty_rate_window_s=1,
                              sleep=clock.sleep, clock=clock)
    assert m.touched_bytes is None and m.dirty_rate is None
    assert m.window_s == pytest.approx(measure.CPU_SAMPLE_S)
    assert any('no balloon' in n for n in m.notes)
    assert any('QEMU too old' in n for n in m.notes)
    assert ctx_mod.DIRTY_RATE not in m.measured


# -- inputs ----------------------------------------------------------------


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


def test_link_bandwidth():
    assert limits_mod.link_bandwidth('1Gbit/s') == (125e6, False)
    assert limits_mod.link_bandwidth('measure', 300e6) == (300e6, True)
    assert limits_mod.link_bandwidth('measure', None) == (125e6, False)


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


# -- handoff ---------------------------------------------------------------


def test_handoff_round_trip_and_limits():
    raw = {'type': 3, 'downtime': 42, 'time_elapsed': 12345,
           'data_processed': 5 * GiB, 'errmsg': 'x' * 1000,
           'memory_iteration': 7, 'bogus': 1}
    items = handoff.to_system_metadata(raw)
    assert all(len(v) <= 255 and len(k) <= 255 for k, v in items.items())
    assert 'migtuner_final_errmsg' not in items
    back, keys = handoff.from_system_metadata(
        dict(items, unrelated='1'))
    assert back == {'type': 3, 'downtime': 42, 'time_elapsed': 12345,
                    'data_processed': 5 * GiB, 'memory_iteration': 7}
    assert keys == sorted(items)


def test_handoff_nothing_for_numberless_stats():
    # What the destination reads after a post-copy migration.
    assert handoff.to_system_metadata({'type': 0}) == {}
    assert handoff.to_system_metadata(None) == {}


# -- notifications -------------------------------------------------------


@pytest.mark.parametrize('event', notif.EVENTS)
def test_schema_is_json_and_lists_every_field(event):
    schema = json.loads(json.dumps(notif.schema(event)))
    names = [f.name for f in notif.PAYLOAD_FIELDS[event]]
    assert len(names) == len(set(names))
    assert schema['required'] == names
    assert schema['additionalProperties'] is False
    assert set(schema['properties']) == set(names)
    for field in notif.PAYLOAD_FIELDS[event]:
        assert field.description.strip()


def test_end_payload_has_the_documented_fields():
    names = {f.name for f in notif.END_FIELDS}
    for required in ('instance_uuid', 'source_host', 'destination_host',
                     'strategy', 'flags', 'initial_downtime_ms',
                     'final_max_downtime_ms', 'escalations_taken',
                     'downtime_ms', 'downtime_net_ms',
                     'data_bytes_transferred', 'memory_bytes_transferred',
                     'memory_total_bytes', 'iterations', 'postcopy_requests',
                     'total_time_s', 'predicted_total_s', 'predicted_bytes',
                     'outcome', 'payload_version'):
        assert required in names


def test_build_refuses_missing_extra_and_mistyped_fields():
    common = dict(instance_uuid='u', migration_uuid=None, source_host='a',
                  destination_host='b', tuned=True, strategy='balanced',
                  flavor_name=None)
    ok = notif.build(notif.DEFERRED, wait_for='spacing', max_wait_s=3.0,
                     reason='r', **common)
    assert ok['payload_version'] == notif.PAYLOAD_VERSION
    assert ok['payload_name'] == 'MigTunerLiveMigrationDeferredPayload'
    with pytest.raises(notif.PayloadError, match='missing fields: reason'):
        notif.build(notif.DEFERRED, wait_for='spacing', max_wait_s=3,
                    **common)
    with pytest.raises(notif.PayloadError, match='undeclared fields: x'):
        notif.build(notif.DEFERRED, wait_for='spacing', max_wait_s=3,
                    reason='r', x=1, **common)
    with pytest.raises(notif.PayloadError, match='max_wait_s'):
        notif.build(notif.DEFERRED, wait_for='spacing', max_wait_s='3',
                    reason='r', **common)
    with pytest.raises(notif.PayloadError, match='tuned is null'):
        notif.build(notif.DEFERRED, wait_for='spacing', max_wait_s=3,
                    reason='r', **dict(common, tuned=None))


# -- payloads --------------------------------------------------------------


def _plan(**overrides):
    values = dict(memory_bytes=2 * GiB, link_bandwidth=125e6,
                  limits=ctx_mod.AdminLimits(permit_post_copy=True))
    values.update(overrides)
    return planner.build_plan(ctx_mod.MigrationInputs(**values))


def _common():
    return dict(instance_uuid='u', migration_uuid='m', source_host='a',
                destination_host='b', tuned=True, strategy='balanced',
                flavor_name='m1.small')


def test_start_fields_validate():
    plan = _plan()
    fields = payloads.start_fields(plan, ['VIR_MIGRATE_LIVE'],
                                   measure.Measurement(memory_bytes=GiB),
                                   0.0, None)
    payload = notif.build(notif.START, **dict(_common(), **fields))
    assert payload['escalation'] == [s.to_dict() for s in plan.escalation]
    assert payload['initial_downtime_ms'] == plan.initial_downtime_ms
    json.dumps(payload)


def test_end_fields_prefer_destination_stats_over_samples():
    plan = _plan()
    sample = stats_mod.JobSample.from_job_stats(
        {'type': 2, 'memory_processed': 100, 'data_processed': 100,
         'memory_total': 2 * GiB, 'memory_iteration': 1,
         'time_elapsed': 1000}, taken_at=1.0)
    action = escalation.Action(kind='raise_downtime', reason='stalled',
                               elapsed_s=12.5, downtime_ms=300)
    fields = payloads.end_fields(
        plan=plan, flag_names=['VIR_MIGRATE_LIVE'], outcome='completed',
        completed_stats={'type': 3, 'downtime': 42, 'downtime_net': 40,
                         'data_processed': 3 * GiB,
                         'memory_processed': 2 * GiB,
                         'memory_total': 2 * GiB, 'memory_iteration': 5,
                         'time_elapsed': 20500},
        samples=[sample], applied=[(action, True, None)],
        final_downtime_ms=300, wall_seconds=25.0, waited_s=0.0,
        fallback_reason=None, post_copy=False)
    payload = notif.build(notif.END, **dict(_common(), **fields))
    assert payload['downtime_ms'] == 42
    assert payload['data_bytes_transferred'] == 3 * GiB
    assert payload['iterations'] == 5
    assert payload['total_time_s'] == 20.5
    assert payload['stats_source'] == 'destination'
    assert payload['escalations_taken'] == 1
    assert payload['escalations'][0]['downtime_ms'] == 300
    assert payload['final_max_downtime_ms'] == 300
    assert payload['predicted_bytes'] == plan.prediction.bytes


def test_end_fields_untuned_fall_back_to_the_last_sample():
    # A running job's 'downtime' is QEMU's expected downtime, never the
    # measured one: it must not be reported, tuned or not.
    sample = stats_mod.JobSample.from_job_stats(
        {'type': 2, 'memory_processed': 100, 'data_processed': 150,
         'memory_total': GiB, 'memory_iteration': 2, 'downtime': 4044},
        taken_at=1.0)
    fields = payloads.end_fields(
        plan=None, flag_names=['VIR_MIGRATE_LIVE'], outcome='failed',
        completed_stats=None, samples=[sample], applied=[],
        final_downtime_ms=None, wall_seconds=3.0, waited_s=0.0,
        fallback_reason='plan: RuntimeError: boom', post_copy=False)
    values = dict(_common(), tuned=False, strategy='stock', **fields)
    payload = notif.build(notif.END, **values)
    assert payload['data_bytes_transferred'] == 150
    assert payload['total_time_s'] == 3.0
    assert payload['downtime_ms'] is None
    assert payload['stats_source'] == 'source'
    assert payload['initial_downtime_ms'] is None


def test_admin_doc_lists_every_field_of_every_payload():
    import os
    doc = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'doc',
                       'source', 'admin', 'notifications.rst')
    with open(doc) as f:
        text = f.read()
    assert 'payload_version' in text and notif.PAYLOAD_VERSION in text
    for event in notif.EVENTS:
        assert 'migtuner.live_migration.%s' % event in text
        for field in notif.PAYLOAD_FIELDS[event]:
            assert '``%s``' % field.name in text, (event, field.name)


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
