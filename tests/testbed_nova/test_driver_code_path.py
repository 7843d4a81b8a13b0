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

"""The nova driver's code path on real libvirt (issue 4's last check).

"On the test bed: the same engine code path the driver uses, on real
libvirt, produces the report that the notification would carry (downtime
and bytes equal libvirt's completed job statistics)."

What runs for real here, unchanged:

* ``MigTunerDriver._live_migration`` -> ``NovaOps.new_session`` ->
  ``flow.run`` (taskflow: measure -> plan -> timing -> migrate -> report ->
  notify) with ``NovaOps.measure`` (``measure.measure_guest``, dirty rate by
  ``startDirtyRateCalc``) and ``NovaOps.plan`` (``inputs.migration_inputs``
  + ``planner.build_plan`` from nova's global ``CONF``);
* nova 34's own ``LibvirtDriver._live_migration`` (operation thread +
  ``_live_migration_monitor``) through ``MigTunerDriver``'s overrides, so
  the guest is ``Guest(TunedDomain(domain, session))``: ``migrateToURI3``
  goes through ``session.tune_call``, every 0.5 s ``get_job_info()`` poll of
  nova's monitor goes through ``TunedDomain.jobStats`` ->
  ``session.observe`` (Escalator, actions) and nova's downtime steps through
  ``TunedDomain.migrateSetMaxDowntime``; nova's base flags come from nova's
  ``_parse_migration_flags`` with the default ``[libvirt]`` options;
* on the destination ``MigTunerDriver.post_live_migration_at_destination``
  -> ``NovaOps.keep_destination_stats`` (``handoff.to_system_metadata``); on
  the source ``NovaOps.destination_stats`` (``handoff.from_system_metadata``)
  and ``flow.NotifyTask`` -> ``payloads.end_fields`` ->
  ``notifications.build``.

Stand-ins (nothing on the libvirt side): nova objects (Instance, Migration,
the DB behind ``Instance.get_by_uuid``/``save``), nova's ``Host`` (returns
``Guest(domain)`` from a libvirt connection opened after registering
libvirt's event loop, as nova's Host does), ``post_method``/
``recover_method`` (the compute manager's; they set the Migration status as
nova does and make the destination call), the notifier (``emit`` records the
payload), nova's part of ``post_live_migration_at_destination`` (networking,
a no-op here), and the body of nova's ``_live_migration_operation``: same
flags and the params ``Guest.migrate`` builds, plus the test bed's
``listen_address`` (see ``_bed_live_migration_operation``).

TCG (the test bed): guest health on the destination is not asserted.

Observations (raw numbers, libvirt errors, job types seen by nova's monitor)
are written to $NOVA_MIGTUNER_TESTBED_NOVA_OBS (default
/tmp/testbed_nova_observations.json) and printed (``pytest -s``).
"""

import copy
import dataclasses
import json
import os
import statistics
import threading
import time
import types
import uuid as uuid_mod

import pytest

libvirt = pytest.importorskip('libvirt')
pytest.importorskip('nova.virt.libvirt.driver')

from nova_migtuner.testbed import fixtures  # noqa: E402

if fixtures.eventlet_patched():
    # Where the bed must run (tools/run test), a skip would hide that
    # something in the session imported nova.tests.
    _why = ('eventlet monkey patching is active in this process (importing '
            'nova.tests patches at import); these tests drive real libvirt '
            'from native threads as nova does in threading mode')
    if os.environ.get(fixtures.REQUIRED_ENV) == '1':
        pytest.fail(_why, pytrace=False)
    pytest.skip(_why, allow_module_level=True)

from nova import conf as nova_conf  # noqa: E402
from nova.virt.libvirt import driver as libvirt_driver  # noqa: E402
from nova.virt.libvirt import guest as libvirt_guest  # noqa: E402

from nova_migtuner.engine import dirtyrate  # noqa: E402
from nova_migtuner.engine import flags as flags_mod  # noqa: E402
from nova_migtuner.engine import measure  # noqa: E402
from nova_migtuner.nova import driver as driver_mod  # noqa: E402
from nova_migtuner.nova import flow  # noqa: E402
from nova_migtuner.nova import incoming  # noqa: E402
from nova_migtuner.nova import notifications  # noqa: E402
from nova_migtuner.nova import ops as ops_mod  # noqa: E402
from nova_migtuner.planning import handoff  # noqa: E402
from nova_migtuner.planning import notification_schema as notif  # noqa: E402
from nova_migtuner.planning import plan as P  # noqa: E402
from nova_migtuner.testbed import Workload  # noqa: E402
from nova_migtuner import units  # noqa: E402
from tests.testbed_nova.conftest import start_libvirt_event_loop  # noqa

pytestmark = pytest.mark.testbed

MiB = 1024 ** 2
CONF = nova_conf.CONF
OBS_PATH = os.environ.get('NOVA_MIGTUNER_TESTBED_NOVA_OBS',
                          '/tmp/testbed_nova_observations.json')
ACTIVE = (libvirt.VIR_DOMAIN_JOB_BOUNDED, libvirt.VIR_DOMAIN_JOB_UNBOUNDED)
COMPLETED_FLAGS = (libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED |
                   libvirt.VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED)
# A workload the plan sees dirtying, that still converges at 32 MiB/s.
CONVERGING = Workload('constant', dirty_mib=32, rate_mib_s=16.0)
# The test bed's non-converging case: 100 MiB/s over 128 MiB, 32 MiB/s.
STALLING = Workload('constant', dirty_mib=128, rate_mib_s=100.0)

_OBSERVATIONS = {}


def observe(key, value):
    _OBSERVATIONS[key] = value
    with open(OBS_PATH, 'w') as f:
        json.dump(_OBSERVATIONS, f, indent=1, sort_keys=True, default=repr)
    text = json.dumps(value, indent=1, sort_keys=True, default=repr)
    print('\n== %s ==\n%s' % (key, text))


def error_name(code):
    for name in dir(libvirt):
        if name.startswith('VIR_ERR_') and getattr(libvirt, name) == code:
            return name
    return str(code)


# -- the real libvirt domain, recorded -----------------------------------


class Calls:
    """What the nova path asked libvirt, as libvirt answered it."""

    def __init__(self):
        self.polls = []            # jobStats(): flags, type or error
        self.max_downtime = []     # migrateGetMaxDowntime during the job
        self.set_downtime = []     # migrateSetMaxDowntime reaching libvirt
        self.aborts = []
        self.migrate_call = None   # (uri, params, flags) given to libvirt
        self.migrate_error = None  # libvirtError of migrateToURI3
        self.migrate_times = []    # monotonic start, end of the call
        self.set_returned = []
        self.pending_check = False
        self.lock = threading.Lock()

    def timeline(self):
        """Polls and calls relative to the start of migrateToURI3."""
        t0 = self.migrate_times[0] if self.migrate_times else 0.0
        events = [(p['t'] - t0, 'poll(%d) -> %s' % (
            p['flags'], p.get('type', p.get('error'))))
            for p in self.polls]
        events += [(t - t0, 'setMaxDowntime(%d)' % d)
                   for t, d in self.set_downtime]
        events += [(t - t0, 'setMaxDowntime returned')
                   for t in self.set_returned]
        events += [(t - t0, 'abortJob') for t in self.aborts]
        events += [(t - t0, 'migrateToURI3 %s' % what) for t, what in zip(
            self.migrate_times, ('called', 'returned'))]
        return ['%7.2f s %s' % e for e in sorted(events)]

    def poll_types(self):
        return [p.get('type', 'error %s' % p.get('error', ('?',))[0])
                for p in self.polls if p['flags'] == 0]


class RecordingDomain(libvirt.virDomain):
    """The real ``virDomain`` (same object: ``recording`` swaps its class,
    so ``isinstance(dom, virDomain)`` holds, as ``domainListGetStats``
    requires), recording the calls nova and the session make. The first
    active poll after each ``migrateSetMaxDowntime`` also reads the max
    downtime in force.
    """

    mt_calls = None

    def jobStats(self, flags=0):
        taken = time.monotonic()
        try:
            raw = super().jobStats(flags)
        except libvirt.libvirtError as e:
            self.mt_calls.polls.append(
                {'t': taken, 'flags': flags,
                 'error': (error_name(e.get_error_code()), str(e))})
            raise
        self.mt_calls.polls.append({'t': taken, 'flags': flags,
                                    'type': raw.get('type'), 'raw': raw})
        if (flags == 0 and raw.get('type') in ACTIVE and
                self.mt_calls.pending_check):
            # Once after each migrateSetMaxDowntime returned (not on every
            # poll: each extra call takes a libvirt job and perturbs).
            self.mt_calls.pending_check = False
            # No migrateGetMaxSpeed here: on this libvirt 9.0 a
            # migrateSetMaxDowntime issued soon after it sometimes blocked
            # until the migration ended (see the report).
            try:
                self.mt_calls.max_downtime.append(
                    (taken, super().migrateGetMaxDowntime(0)))
            except libvirt.libvirtError:
                pass   # the job ended between the calls
        return raw

    def migrateSetMaxDowntime(self, downtime, flags=0):
        self.mt_calls.set_downtime.append((time.monotonic(), downtime))
        try:
            return super().migrateSetMaxDowntime(downtime, flags)
        finally:
            self.mt_calls.set_returned.append(time.monotonic())
            self.mt_calls.pending_check = True

    def abortJob(self):
        self.mt_calls.aborts.append(time.monotonic())
        return super().abortJob()

    def migrateToURI3(self, dconnuri, params, flags=0):
        self.mt_calls.migrate_call = (dconnuri, dict(params), flags)
        self.mt_calls.migrate_times = [time.monotonic()]
        try:
            return super().migrateToURI3(dconnuri, params, flags)
        except libvirt.libvirtError as e:
            self.mt_calls.migrate_error = e
            raise
        finally:
            self.mt_calls.migrate_times.append(time.monotonic())


def recording(dom, calls):
    dom.__class__ = RecordingDomain
    dom.mt_calls = calls
    return dom


# -- stand-ins for nova (nothing on the libvirt side) ---------------------


class _Obj:
    # oslo.log formats ``instance=`` with ``'%(uuid)s' % instance``.
    def __getitem__(self, key):
        return getattr(self, key)

    def get(self, key, default=None):
        return getattr(self, key, default)


class FakeMigration(_Obj):
    def __init__(self):
        self.uuid = str(uuid_mod.uuid4())
        self.id = 42
        self.status = 'running'
        self.statuses = ['running']

    def save(self):
        if self.status != self.statuses[-1]:
            self.statuses.append(self.status)


class FakeDB:
    """The instance's row: system metadata as nova persists it."""

    def __init__(self):
        self.system_metadata = {}
        self.saves = []

    def save(self, instance):
        # nova saves changed fields only: a save that did not touch the
        # system metadata (nova's save_stats on the source) leaves it.
        if instance.system_metadata != instance.loaded_system_metadata:
            self.system_metadata = dict(instance.system_metadata)
            instance.loaded_system_metadata = dict(instance.system_metadata)
            self.saves.append(dict(self.system_metadata))


class FakeInstance(_Obj):
    def __init__(self, uuid, host, db):
        self.uuid = uuid
        self.host = host
        self.flavor = types.SimpleNamespace(memory_mb=256, vcpus=1,
                                            extra_specs={})
        self.metadata = {}            # user metadata (operator marker)
        self.system_metadata = dict(db.system_metadata)
        self.loaded_system_metadata = dict(db.system_metadata)
        self.resources = None
        self.progress = None
        self._db = db

    def save(self):
        self._db.save(self)


class BedHost:
    """nova's ``Host``: the two calls the driver path makes."""

    def __init__(self, conn, calls):
        self._conn = conn
        self._calls = calls

    def get_connection(self):
        return self._conn

    def get_guest(self, instance):
        return libvirt_guest.Guest(recording(
            self._conn.lookupByUUIDString(instance.uuid), self._calls))


class BedOps(ops_mod.NovaOps):
    """``NovaOps`` as the driver builds it; keeps the session for the test
    and lets a test edit the plan ``NovaOps.plan`` built (see the stall
    test for why).
    """

    plan_edit = None
    session = None
    measurement = None
    destination_numbers = None

    def new_session(self, *args, **kwargs):
        self.session = super().new_session(*args, **kwargs)
        return self.session

    def measure(self, s, *args, **kwargs):
        self.measurement = super().measure(s, *args, **kwargs)
        return self.measurement

    def plan(self, s, measurement, operator_strategy=None):
        plan = super().plan(s, measurement, operator_strategy)
        self.built_plan = plan
        return self.plan_edit(plan) if self.plan_edit else plan

    def destination_stats(self, s):
        self.destination_numbers = super().destination_stats(s)
        return self.destination_numbers


def make_driver(host):
    """A ``MigTunerDriver`` without nova's start-up (no compute service):
    the attributes its migration path reads, set as __init__ sets them.
    """
    drv = object.__new__(driver_mod.MigTunerDriver)
    drv._host = host
    drv.active_migrations = {}
    drv._vpmems_by_name = {}
    drv._parse_migration_flags()       # nova's own, from [libvirt]
    drv._migtuner_sessions = {}
    drv._migtuner_local = threading.local()
    drv._migtuner_ops = BedOps(
        drv, super(driver_mod.MigTunerDriver, drv)._live_migration)
    drv._migtuner_incoming = incoming.IncomingLedger()
    return drv


def _bed_live_migration_operation(bed):
    def _live_migration_operation(self, context, instance, dest,
                                  block_migration, migrate_data, guest,
                                  device_names):
        """nova 34 ``_live_migration_operation`` (driver.py:11446) on the
        test bed: the same flags (``self._live_migration_flags``), the
        params ``Guest.migrate`` builds (guest.py:635: ``bandwidth`` from
        ``[libvirt] live_migration_bandwidth``, ``destination_xml``,
        ``persistent_xml``, ``migrate_uri``), called on ``guest._domain``
        as ``Guest.migrate`` does; plus ``listen_address`` (loopback only
        on the test bed; nova sets it through qemu.conf). Left out: nova's
        XML rewriting for ports/volumes/serial consoles (none here).
        """
        flags = (self._block_migration_flags if migrate_data.block_migration
                 else self._live_migration_flags)
        xml = guest._domain.XMLDesc(libvirt.VIR_DOMAIN_XML_MIGRATABLE)
        params = {'bandwidth': CONF.libvirt.live_migration_bandwidth,
                  'destination_xml': xml, 'persistent_xml': xml,
                  'migrate_uri': bed.migration_uri(dest),
                  libvirt.VIR_MIGRATE_PARAM_LISTEN_ADDRESS: '127.0.0.1'}
        guest._domain.migrateToURI3(bed.uri(dest), params=params,
                                    flags=flags)
    return _live_migration_operation


class Rig:
    """Source and destination 'compute hosts' a and b around one guest."""

    def __init__(self, bed, name, monkeypatch):
        start_libvirt_event_loop(libvirt)   # before opening, as nova
        self.bed = bed
        self.name = name
        self.src_conn = libvirt.open(bed.uri('a'))
        self.dst_conn = libvirt.open(bed.uri('b'))
        self.calls = Calls()
        self.dst_calls = Calls()
        self.uuid = self.src_conn.lookupByName(name).UUIDString()
        self.db = FakeDB()
        self.instance = FakeInstance(self.uuid, 'a', self.db)
        self.dest_instance = FakeInstance(self.uuid, 'a', self.db)
        self.migration = FakeMigration()
        self.migrate_data = types.SimpleNamespace(
            migration=self.migration, block_migration=False)
        self.context = types.SimpleNamespace(request_id='req-bed')
        self.source = make_driver(BedHost(self.src_conn, self.calls))
        self.dest = make_driver(BedHost(self.dst_conn, self.dst_calls))
        self.events = []
        self.post_calls = []
        self.recover_calls = []
        self.flow_error = None
        self.ending = None
        real_run = flow.run

        def run(session, ops, on_end=None):
            def record(ending):
                self.ending = ending
                if on_end is not None:
                    on_end(ending)
            return real_run(session, ops, on_end=record)

        monkeypatch.setattr(flow, 'run', run)
        monkeypatch.setattr(notifications, 'emit', self._emit)
        monkeypatch.setattr(libvirt_driver.LibvirtDriver,
                            '_live_migration_operation',
                            _bed_live_migration_operation(bed))
        monkeypatch.setattr(libvirt_driver.LibvirtDriver,
                            'post_live_migration_at_destination',
                            lambda *a, **k: None)
        from nova import objects
        db, uuid = self.db, self.uuid

        class InstanceTable:
            @staticmethod
            def get_by_uuid(context, instance_uuid, expected_attrs=None):
                assert instance_uuid == uuid
                return FakeInstance(uuid, 'b', db)

        monkeypatch.setattr(objects, 'Instance', InstanceTable,
                            raising=False)

    def _emit(self, context, host, event, payload):
        self.events.append((event, copy.deepcopy(payload)))
        return True

    def payloads(self, event):
        """The *event* payloads sent, in their flat (1.x) form."""
        return [notif.flat_payload(e, p) for e, p in self.events
                if e == event]

    # compute manager's callbacks, as far as the driver path sees them
    def post_method(self, context, instance, dest, block_migration,
                    migrate_data):
        self.post_calls.append(time.monotonic())
        # RPC post_live_migration_at_destination -> the destination's
        # driver; its compute manager saves the instance afterwards.
        self.dest.post_live_migration_at_destination(
            context, self.dest_instance, network_info=[])
        self.dest_instance.save()
        migrate_data.migration.status = 'completed'
        migrate_data.migration.save()

    def recover_method(self, context, instance, dest, migrate_data,
                       migration_status='failed'):
        # _rollback_live_migration's default is 'failed' (manager.py:10115)
        self.recover_calls.append(migration_status)
        migrate_data.migration.status = migration_status
        migrate_data.migration.save()

    def live_migrate(self):
        started = time.monotonic()
        try:
            self.source._live_migration(
                self.context, self.instance, 'b', self.post_method,
                self.recover_method, False, self.migrate_data)
        except Exception as e:   # nova's exception, re-raised by the flow
            self.flow_error = e
        return time.monotonic() - started

    @property
    def session(self):
        return self.source._migtuner_ops.session

    def close(self):
        for conn in (self.src_conn, self.dst_conn):
            try:
                conn.close()
            except libvirt.libvirtError:
                pass


@pytest.fixture
def conf_overrides():
    """[migtuner] for a short, repeatable run on 2 TCG cores."""
    import nova_migtuner.conf  # noqa: F401  (registers [migtuner])
    set_ = []

    def override(**values):
        for name, value in values.items():
            CONF.set_override(name, value, group='migtuner')
            set_.append(name)

    override(max_bandwidth_mib_s=32,   # repeatable transfer rate
             max_deferral_s=0,         # the 2-core host is busy: no waiting
             instance_spacing_s=0,     # no Migration table to read
             host_spacing_s=0,
             dirty_rate_calc_s=1,
             max_downtime_ms=500)
    yield override
    for name in set_:
        CONF.clear_override(name, group='migtuner')


@pytest.fixture
def guest(testbed):
    names = []

    def boot(workload, tag):
        name = 'nova-%d-%s' % (os.getpid(), tag)
        testbed.destroy_guest(name)
        names.append(name)
        testbed.boot_guest(name, workload=workload)
        return name

    yield boot
    for name in names:
        testbed.destroy_guest(name)


def nova_base_flags():
    return (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER |
            libvirt.VIR_MIGRATE_UNDEFINE_SOURCE |
            libvirt.VIR_MIGRATE_PERSIST_DEST)


def active_polls(calls):
    return [p for p in calls.polls if p['flags'] == 0 and
            p.get('type') in ACTIVE]


# -- the tests ------------------------------------------------------------


def test_measure_plan_migrate_and_end_payload_equal_completed_stats(
        testbed, guest, conf_overrides, monkeypatch):
    name = guest(CONVERGING, 'conv')
    reports = testbed.wait_for_workload_reports(name, 2, timeout=30)
    workload_rate = statistics.median(r.rate_mib_s for r in reports) * MiB
    rig = Rig(testbed, name, monkeypatch)
    try:
        _run_converging(testbed, rig, name, workload_rate)
    finally:
        rig.close()


def _run_converging(testbed, rig, name, workload_rate):
    # 1. measure.measure_guest on the real guest, as NovaOps.measure calls
    #    it (the flow measures again below).
    dom = rig.source._host.get_guest(rig.instance)._domain
    m = measure.measure_guest(
        dom, rig.src_conn, libvirt, memory_bytes=256 * MiB, vcpus=1,
        dirty_rate_window_s=CONF.migtuner.dirty_rate_calc_s)
    observe('measurement', dict(m.to_dict(),
                                workload_reported_bytes_s=workload_rate))
    assert m.dirty_rate is not None, m.notes
    assert not [n for n in m.notes if 'dirty' in n], m.notes
    # QEMU's page sampling (512 pages/GiB: ~16 of the 32 MiB buffer in a
    # 256 MiB guest) is coarse; a sane factor, not a tight match.
    assert workload_rate / 3 <= m.dirty_rate <= workload_rate * 3, (
        m.dirty_rate / MiB, workload_rate / MiB)
    assert m.touched_bytes and 0 < m.touched_bytes <= 256 * MiB
    assert m.guest_cpu_load is not None and m.host_cpu_load is not None

    # 2.-3. the driver's _live_migration: measure, plan, TunedDomain, nova's
    #    monitor, destination hand-off, .end.
    wall = rig.live_migrate()
    s = rig.session
    assert rig.flow_error is None, rig.flow_error
    assert s is not None and s.tuned, '%s\n%s' % (
        s and s.fallback_reason, '\n'.join(rig.calls.timeline()))
    ops = rig.source._migtuner_ops
    assert ops.measurement.dirty_rate is not None, ops.measurement.notes
    plan = s.plan
    observe('converging_plan', plan.to_dict())

    # nova's base flags (nova 34 defaults) and the plan's flags/params.
    assert s.base_flags == nova_base_flags()
    uri, params, flags = rig.calls.migrate_call
    assert uri == testbed.uri('b')
    assert flags == s.flags_used == flags_mod.libvirt_flags(
        plan, nova_base_flags(), libvirt)
    assert set(flags_mod.flag_names(flags, libvirt)) == (
        set(plan.flags) | {'VIR_MIGRATE_PEER2PEER', 'VIR_MIGRATE_PERSIST_DEST',
                           'VIR_MIGRATE_UNDEFINE_SOURCE'})
    assert plan.bandwidth_mib_s == 32
    assert params['bandwidth'] == 32            # nova passed 0
    assert params['migrate_uri'] == 'tcp://127.0.0.1'
    assert params['listen_address'] == '127.0.0.1'
    assert params['persistent_xml'] and params['destination_xml']
    # In the running job: the plan's max downtime (set by session.observe on
    # the first active poll; nova's own downtime steps never reached
    # libvirt) and the bandwidth cap (QEMU's transfer rate while polled).
    assert [d for _, d in rig.calls.set_downtime] == [
        plan.initial_downtime_ms], rig.calls.set_downtime
    after_set = [d for t, d in rig.calls.max_downtime
                 if t > rig.calls.set_downtime[0][0]]
    assert after_set and set(after_set) == {plan.initial_downtime_ms}
    rates = [p['raw'].get('memory_bps') for p in active_polls(rig.calls)
             if p['raw'].get('memory_bps')]
    assert rates
    assert statistics.median(rates) == pytest.approx(32 * MiB, rel=0.15)

    # nova's monitor saw the job complete and called post_method.
    assert rig.post_calls and not rig.recover_calls
    assert rig.migration.statuses == ['running', 'completed']
    # The guest moved: defined on b, gone from a (UNDEFINE_SOURCE). Not
    # asserting it still runs on b (TCG limit, see the module docstring).
    assert rig.dst_conn.lookupByUUIDString(rig.uuid).isPersistent()
    assert not [d for d in rig.src_conn.listAllDomains()
                if d.UUIDString() == rig.uuid]
    assert rig.ending.outcome == notif.OUTCOME_COMPLETED

    # The destination's completed stats, read independently (after the
    # driver's COMPLETED|KEEP_COMPLETED read in post_method).
    dst = rig.dst_conn.lookupByUUIDString(rig.uuid)
    completed = dst.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)
    again = dst.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)
    source_after = _source_completed_stats(rig)
    end = rig.payloads(notif.END)
    observe('converging_run', {
        'wall_s': round(wall, 2),
        'job_types_seen_by_nova_monitor': rig.calls.poll_types(),
        'set_downtime': [d for _, d in rig.calls.set_downtime],
        'max_downtime_in_job': sorted({d for _, d in rig.calls.max_downtime}),
        'memory_bps_median': statistics.median(rates),
        'flags': flags_mod.flag_names(flags, libvirt),
        'params': {k: v for k, v in params.items() if 'xml' not in k},
        'dest_completed_stats': completed,
        'dest_completed_stats_read_again_without_keep': again,
        'source_completed_stats_after_undefine': source_after,
        'system_metadata_saved_by_destination': rig.db.saves[0]
        if rig.db.saves else None,
        'system_metadata_after_source_read': rig.db.system_metadata,
        'end_payload': end[-1] if end else None,
        'events': [e for e, _ in rig.events]})

    # COMPLETED stats are on the destination after a normal
    # pre-copy migration (UNDEFINE_SOURCE|PERSIST_DEST).
    assert completed['type'] == libvirt.VIR_DOMAIN_JOB_COMPLETED
    assert completed['data_processed'] > 0 and 'downtime' in completed
    # handoff: what the destination stored, the source read back and removed.
    stored = rig.db.saves[0]
    assert stored == handoff.to_system_metadata(completed)
    assert not [k for k in rig.db.system_metadata
                if k.startswith(handoff.PREFIX)]
    assert ops.destination_numbers == {k: v for k, v in completed.items()
                                       if k in handoff.KEYS}

    # The .end payload carries libvirt's completed numbers.
    assert len(end) == 1, rig.events
    end = end[0]
    assert end['outcome'] == notif.OUTCOME_COMPLETED
    assert end['tuned'] is True and end['strategy'] == plan.strategy
    assert end['stats_source'] == 'destination'
    assert end['downtime_ms'] == completed['downtime']
    assert end['downtime_net_ms'] == completed.get('downtime_net')
    assert end['data_bytes_transferred'] == completed['data_processed']
    assert end['memory_bytes_transferred'] == completed['memory_processed']
    assert end['memory_total_bytes'] == completed['memory_total']
    assert end['iterations'] == completed['memory_iteration']
    assert end['total_time_s'] == round(completed['time_elapsed'] / 1000.0,
                                        3)
    assert end['bandwidth_mib_s'] == 32
    assert end['initial_downtime_ms'] == plan.initial_downtime_ms
    assert end['final_max_downtime_ms'] == s.downtime_ms
    assert set(end['flags']) == set(flags_mod.flag_names(flags, libvirt))
    assert end['instance_uuid'] == rig.uuid
    assert end['migration_uuid'] == rig.migration.uuid
    assert end['destination_host'] == 'b' and end['source_host'] == 'a'


def _source_completed_stats(rig):
    """What the source's libvirt says after UNDEFINE_SOURCE."""
    out = {}
    try:
        dom = rig.src_conn.lookupByUUIDString(rig.uuid)
        out['lookup'] = 'found'
        out['stats'] = dom.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)
    except libvirt.libvirtError as e:
        out['error'] = (error_name(e.get_error_code()), str(e))
    return out


def test_stalled_plan_escalates_and_aborts_guest_stays_on_source(
        testbed, guest, conf_overrides, monkeypatch):
    # No auto-converge, no post-copy (nova's default
    # live_migration_permit_post_copy=False also forbids it): 100 MiB/s
    # over 128 MiB cannot converge at 32 MiB/s.
    conf_overrides(permit_auto_converge=False, permit_post_copy=False,
                   stall_window_s=2)
    name = guest(STALLING, 'stall')
    rig = Rig(testbed, name, monkeypatch)

    def short_ladder(plan):
        # The balanced plan for this guest has an empty ladder and a 120 s
        # deadline (completion_budget_per_gib_s x max(1 GiB, RAM), at
        # least 60 s), too long for 2 TCG cores: keep the plan, start
        # lower and give it a ladder that ends in abort, with the 2 s
        # stall window from [migtuner] stall_window_s.
        return dataclasses.replace(
            plan, initial_downtime_ms=100,
            escalation=(
                P.EscalationStep(P.TRIGGER_STALLED, 2,
                                 P.ACTION_RAISE_DOWNTIME, downtime_ms=300,
                                 reason='stalled: raise'),
                P.EscalationStep(P.TRIGGER_STALLED, 2, P.ACTION_ABORT,
                                 reason='still stalled: abort')),
            completion_deadline_s=45.0, deadline_action=P.ACTION_ABORT)

    rig.source._migtuner_ops.plan_edit = short_ladder
    try:
        _run_stalled(testbed, rig, name)
    finally:
        rig.close()


def _run_stalled(testbed, rig, name):
    wall = rig.live_migrate()
    s = rig.session
    ops = rig.source._migtuner_ops
    built = ops.built_plan
    err = rig.calls.migrate_error
    src = rig.src_conn.lookupByUUIDString(rig.uuid)
    end = rig.payloads(notif.END)
    escalated = rig.payloads(notif.ESCALATED)
    observe('stalled_run', {
        'wall_s': round(wall, 2),
        'built_plan': built.to_dict(),
        'flow_error': repr(rig.flow_error),
        'measured_dirty_rate_mib_s': (
            ops.measurement.dirty_rate / MiB
            if ops.measurement.dirty_rate else None),
        'migrateToURI3_error': None if err is None else {
            'code': err.get_error_code(),
            'name': error_name(err.get_error_code()),
            'domain': err.get_error_domain(),
            'message': err.get_error_message(), 'str': str(err)},
        'job_types_seen_by_nova_monitor': rig.calls.poll_types(),
        'last_polls': [{k: v for k, v in p.items() if k != 'raw'}
                       for p in rig.calls.polls[-4:]],
        'set_downtime': [d for _, d in rig.calls.set_downtime],
        'max_downtime_in_job': [d for _, d in rig.calls.max_downtime],
        'aborts': len(rig.calls.aborts),
        'applied': [(a.kind, ok, e, round(a.elapsed_s, 1), a.reason)
                    for a, ok, e in s.applied],
        'recover_method_calls': rig.recover_calls,
        'migration_statuses': rig.migration.statuses,
        'session_outcome': rig.ending and rig.ending.outcome,
        'source_state': src.state(),
        'escalated_payloads': escalated,
        'end_payload': end[-1] if end else None})

    assert s.tuned, s.fallback_reason
    assert built.escalation == () or all(
        st.action != P.ACTION_ABORT for st in built.escalation)
    # The ladder ran through the TunedDomain poll path: raise, then abort.
    kinds = [(a.kind, ok) for a, ok, _ in s.applied]
    assert kinds == [(P.ACTION_RAISE_DOWNTIME, True), (P.ACTION_ABORT, True)]
    assert [d for _, d in rig.calls.set_downtime] == [100, 300]
    assert 300 in [d for _, d in rig.calls.max_downtime]
    assert len(rig.calls.aborts) == 1
    assert [p['action'] for p in escalated] == [P.ACTION_RAISE_DOWNTIME,
                                                P.ACTION_ABORT]
    # libvirt fails the migration call after abortJob; TunedDomain swallows
    # it because the plan aborted, so nova's operation thread returns and
    # no exception reaches the flow.
    assert err is not None
    assert err.get_error_code() == libvirt.VIR_ERR_OPERATION_ABORTED, (
        error_name(err.get_error_code()), str(err))
    assert rig.flow_error is None
    # nova's monitor rolled back and the guest runs on the source.
    assert rig.recover_calls and not rig.post_calls
    assert src.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    assert testbed.host_of(name) == 'a'
    assert not [d for d in rig.dst_conn.listAllDomains()
                if d.UUIDString() == rig.uuid]
    # The .end payload of the aborted run.
    assert len(end) == 1, rig.events
    assert end[0]['escalations_taken'] == 2
    assert end[0]['final_max_downtime_ms'] == 300
    assert end[0]['outcome'] == rig.ending.outcome == notif.OUTCOME_ABORTED


def test_dirty_rate_is_measured_through_a_proxied_domain(testbed, guest):
    """nova in eventlet mode hands the driver ``tpool.Proxy`` objects
    (host.py ``_wrap_libvirt_proxy``, autowrap of every vir* class), and
    ``virConnect.domainListGetStats`` accepts real ``virDomain`` objects
    only: engine/dirtyrate.py must unwrap the proxy.
    """
    tpool = pytest.importorskip('eventlet.tpool')
    name = guest(Workload('constant', dirty_mib=32, rate_mib_s=16), 'proxy')
    conn = testbed.connect('a')
    proxied = tpool.Proxy(testbed.domain(name, 'a'))
    with pytest.raises(libvirt.libvirtError) as exc:
        conn.domainListGetStats([proxied],
                                libvirt.VIR_DOMAIN_STATS_DIRTYRATE)
    observe('proxied_domain_list_get_stats', str(exc.value))
    assert 'non-domain' in str(exc.value)
    measurement = dirtyrate.measure_dirty_rate(proxied, 1)
    observe('proxied_dirty_rate', measurement.describe())
    assert measurement.bytes_per_second is not None, measurement.describe()
    assert measurement.bytes_per_second > 4 * units.MiB
