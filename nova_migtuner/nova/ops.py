"""The nova and libvirt I/O the per-migration flow needs.

``NovaOps`` is what the flow's tasks call: reading the guest and the host
through the driver's libvirt connection, nova objects (flavor, system
metadata, Migration records), nova's own ``_live_migration`` and
``recover_method``. The decisions themselves are in the pure modules
(``inputs``, ``planner``, ``timing``, ``engine``).
"""

import datetime
import os
import threading
import time

from oslo_log import log as logging

from nova_migtuner.engine import flags as flags_mod
from nova_migtuner.planning import handoff
from nova_migtuner.planning import inputs
from nova_migtuner.planning import links
from nova_migtuner.engine import measure
from nova_migtuner.planning import notification_schema as notif
from nova_migtuner.nova import session as session_mod
from nova_migtuner import operator_marker
from nova_migtuner.planning import planner
from nova_migtuner import units

LOG = logging.getLogger(__name__)

VIR_DOMAIN_JOB_STATS_COMPLETED = 1
VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED = 2


def _conf():
    from nova import conf as nova_conf
    import nova_migtuner.conf  # noqa: F401  (registers [migtuner])
    return nova_conf.CONF


def libvirt_module():
    """The libvirt module nova's driver uses (the fake one in tests)."""
    from nova.virt.libvirt import driver as libvirt_driver
    return libvirt_driver.libvirt


class HostState:
    """What this compute host remembers between migrations."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self.last_start = None
        self.observed_bandwidth = None

    def since_last_start(self):
        with self._lock:
            if self.last_start is None:
                return None
            return max(0.0, self._clock() - self.last_start)

    def note_start(self):
        with self._lock:
            self.last_start = self._clock()

    def note_bandwidth(self, data_bytes, seconds):
        if data_bytes and seconds and seconds > 0:
            with self._lock:
                self.observed_bandwidth = data_bytes / float(seconds)


class NovaOps:
    """Operations of one ``MigTunerDriver`` for the flow's tasks."""

    def __init__(self, driver, parent_live_migration, clock=time.monotonic):
        self.driver = driver
        self._parent_live_migration = parent_live_migration
        self.clock = clock
        self.host_state = HostState(clock)
        self._used_markers = None
        self._used_markers_lock = threading.Lock()

    # -- configuration ------------------------------------------------------

    @property
    def conf(self):
        return _conf()

    @property
    def enabled(self):
        return self.conf.migtuner.enabled

    @property
    def report_untuned(self):
        return self.enabled or self.conf.migtuner.report_when_disabled

    @property
    def max_deferral_s(self):
        return self.conf.migtuner.max_deferral_s

    # -- sessions -------------------------------------------------------------

    def new_session(self, context, instance, dest, post_method,
                    recover_method, block_migration, migrate_data):
        s = session_mod.MigrationSession(
            context, instance, dest, instance.host or self.conf.host,
            migrate_data,
            libvirt_module(), clock=self.clock)
        s.post_method = post_method
        s.recover_method = recover_method
        s.block_migration = block_migration
        s.base_flags = self.driver._get_migration_flags(
            bool(getattr(migrate_data, 'block_migration', False)))
        return s

    def run_nova(self, s):
        """nova's own ``_live_migration``; the hooks apply the plan."""
        return self._parent_live_migration(
            s.context, s.instance, s.dest, s.post_method, s.recover_method,
            s.block_migration, s.migrate_data)

    def recover(self, s, status):
        """Roll back as nova's monitor does for a job that never ran."""
        s.recover_method(s.context, s.instance, s.dest, s.migrate_data,
                         migration_status=status)

    # -- measuring and planning -------------------------------------------

    def _guest(self, instance):
        return self.driver._host.get_guest(instance)

    def measure(self, s):
        flavor = s.instance.flavor
        domain = self._guest(s.instance)._domain
        return measure.measure_guest(
            domain, self.driver._host.get_connection(), s.libvirt,
            memory_bytes=flavor.memory_mb * units.MiB,
            vcpus=flavor.vcpus,
            dirty_rate_window_s=self.conf.migtuner.dirty_rate_calc_s)

    def seconds_since_instance_migration(self, s):
        if self.conf.migtuner.instance_spacing_s <= 0:
            return None
        from nova import objects
        migrations = objects.MigrationList.get_by_filters(
            s.context, {'instance_uuid': s.instance_uuid,
                        'migration_type': 'live-migration',
                        'status': list(inputs.FINISHED_STATUSES)})
        current = getattr(s.migration, 'id', None)
        now = datetime.datetime.now(datetime.timezone.utc)
        return inputs.seconds_since_last(
            ((m.id, m.updated_at or m.created_at) for m in migrations),
            now, exclude=(current,))

    def used_markers(self):
        """The SQLite store of operator markers this host has used."""
        with self._used_markers_lock:
            if self._used_markers is None:
                path = (self.conf.migtuner.operator_nonce_db or
                        os.path.join(self.conf.state_path,
                                     'migtuner_used_markers.sqlite'))
                self._used_markers = operator_marker.SqliteNonceStore(path)
            return self._used_markers

    def take_operator_strategy(self, s):
        """The strategy a valid operator marker chooses, else None.

        The marker is removed from the server's metadata whether it is
        valid or not, so that it is used at most once; a refused marker is
        logged and the migration goes on with the usual strategy.
        """
        mt = self.conf.migtuner
        if operator_marker.METADATA_KEY not in (s.instance.metadata or {}):
            return None
        decision = operator_marker.take_from_metadata(
            s.instance.metadata, mt.operator_secret, s.instance_uuid,
            s.source_host, self.used_markers(),
            allowed_strategies=planner.available_strategies(),
            max_ttl=mt.operator_marker_max_ttl_s)
        if decision.present:
            s.instance.save()
        if decision.refused_reason:
            LOG.warning('Operator strategy marker refused (%(reason)s): '
                        '%(message)s',
                        {'reason': decision.refused_reason,
                         'message': decision.refused_message},
                        instance=s.instance)
        elif decision.strategy:
            LOG.info('Operator chose strategy %(strategy)s for this '
                     'migration', {'strategy': decision.strategy},
                     instance=s.instance)
        return decision.strategy

    def link_to_destination(self, s):
        """``(Known bytes/s, class)`` of the link to ``s.dest``."""
        mt = self.conf.migtuner
        views = []
        if mt.link_classes:
            from nova import objects
            try:
                views = [links.AggregateView(tuple(a.hosts or ()),
                                             dict(a.metadata or {}))
                         for a in objects.AggregateList.get_by_host(
                             s.context, s.dest)]
            except Exception as e:
                LOG.warning('nova_migtuner could not read the aggregates of '
                            '%(dest)s, planning with the default link: '
                            '%(error)s', {'dest': s.dest, 'error': e},
                            instance=s.instance)
        return inputs.link_to_destination(
            s.source_host, views, mt.link_classes, mt.link_bandwidth,
            self.host_state.observed_bandwidth)

    def plan(self, s):
        instance = s.instance
        conf = self.conf
        if not s.marker_taken:
            s.marker_taken = True
            s.operator_strategy = self.take_operator_strategy(s)
        link, link_class = self.link_to_destination(s)
        migration_inputs = inputs.migration_inputs(
            conf=conf,
            memory_bytes=instance.flavor.memory_mb * units.MiB,
            measurement=s.measurement,
            extra_specs=instance.flavor.extra_specs,
            image_properties=inputs.image_properties_from_system_metadata(
                instance.system_metadata),
            available_strategies=planner.available_strategies(),
            link_bandwidth=link,
            seconds_since_instance_migration=(
                self.seconds_since_instance_migration(s)),
            seconds_since_host_migration=self.host_state.since_last_start(),
            instance_uuid=s.instance_uuid)
        LOG.debug('nova_migtuner plans over the %(cls)s link to %(dest)s',
                  {'cls': link_class, 'dest': s.dest}, instance=instance)
        plan = planner.build_plan(migration_inputs,
                                  conf.migtuner.default_strategy,
                                  operator_strategy=s.operator_strategy)
        # Fail here, before anything started, if this libvirt cannot do it.
        flags_mod.libvirt_flags(plan, s.base_flags, s.libvirt)
        return plan

    # -- after the migration ----------------------------------------------

    def note_start(self, s):
        self.host_state.note_start()

    def note_end(self, s, payload):
        if payload.get('outcome') == notif.OUTCOME_COMPLETED:
            self.host_state.note_bandwidth(
                payload.get('data_bytes_transferred'),
                payload.get('total_time_s'))

    def destination_stats(self, s):
        """Read and remove the numbers the destination left (see handoff)."""
        from nova import objects
        instance = objects.Instance.get_by_uuid(
            s.context, s.instance_uuid, expected_attrs=['system_metadata'])
        raw, keys = handoff.from_system_metadata(instance.system_metadata)
        if keys:
            for key in keys:
                instance.system_metadata.pop(key, None)
            instance.save()
        return raw or None

    # -- destination side ---------------------------------------------------

    def keep_destination_stats(self, instance):
        """On the destination: store the completed job stats; never raises."""
        try:
            libvirt = libvirt_module()
            flags = (getattr(libvirt, 'VIR_DOMAIN_JOB_STATS_COMPLETED',
                             VIR_DOMAIN_JOB_STATS_COMPLETED) |
                     getattr(libvirt, 'VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED',
                             VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED))
            raw = self._guest(instance)._domain.jobStats(flags)
            items = handoff.to_system_metadata(raw)
            sysmeta = instance.system_metadata
            for key in [k for k in sysmeta if k.startswith(handoff.PREFIX)]:
                del sysmeta[key]
            sysmeta.update(items)
            LOG.debug('nova_migtuner kept the completed job statistics: '
                      '%(stats)s', {'stats': raw}, instance=instance)
        except Exception as e:
            LOG.warning('nova_migtuner could not read the completed job '
                        'statistics on the destination: %(error)s',
                        {'error': e}, instance=instance)
