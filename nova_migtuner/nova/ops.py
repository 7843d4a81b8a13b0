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

"""What the per-migration flow's tasks call on one compute host.

``NovaOps`` holds the driver and puts the pieces together: a new session,
nova's own ``_live_migration`` and ``recover_method``, measuring the guest
(``engine.measure``) and planning (``planning.inputs``/``planner``). The
other concerns have their own modules: the host's memory of its
migrations (``host_state``), operator markers (``operator_markers``),
queries of nova's records (``records``) and the destination's final
numbers (``destination_stats``).
"""

import dataclasses
import time

from oslo_log import log as logging

from nova_migtuner.engine import dirtyrate
from nova_migtuner.engine import flags as flags_mod
from nova_migtuner.engine import measure
from nova_migtuner.nova import destination_stats
from nova_migtuner.nova import host_state as host_state_mod
from nova_migtuner.nova import operator_markers
from nova_migtuner.nova import records
from nova_migtuner.nova import session as session_mod
from nova_migtuner.planning import inputs
from nova_migtuner.planning import notification_schema as notif
from nova_migtuner.planning import plan as plan_mod
from nova_migtuner.planning import planner
from nova_migtuner import units

LOG = logging.getLogger(__name__)


def _conf():
    from nova import conf as nova_conf
    import nova_migtuner.conf  # noqa: F401  (registers [migtuner])
    return nova_conf.CONF


def libvirt_module():
    """The libvirt module nova's driver uses (the fake one in tests)."""
    from nova.virt.libvirt import driver as libvirt_driver
    return libvirt_driver.libvirt


class NovaOps:
    """Operations of one ``MigTunerDriver`` for the flow's tasks."""

    def __init__(self, driver, parent_live_migration, clock=time.monotonic):
        self.driver = driver
        self._parent_live_migration = parent_live_migration
        self.clock = clock
        self.host_state = host_state_mod.HostState(clock)
        self.markers = operator_markers.OperatorMarkers(_conf)

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
        call = session_mod.NovaCall(context, instance, dest, post_method,
                                    recover_method, block_migration,
                                    migrate_data)
        return session_mod.MigrationSession(
            call, instance.host or self.conf.host, libvirt_module(),
            base_flags=self.driver._get_migration_flags(
                bool(getattr(migrate_data, 'block_migration', False))),
            clock=self.clock)

    def run_nova(self, s):
        """nova's own ``_live_migration``; the hooks apply the plan."""
        return self._parent_live_migration(*s.call)

    def recover(self, s, status):
        """Roll back as nova's monitor does for a job that never ran."""
        c = s.call
        c.recover_method(c.context, c.instance, c.dest, c.migrate_data,
                         migration_status=status)

    # -- measuring and planning -------------------------------------------

    def _guest(self, instance):
        return self.driver._host.get_guest(instance)

    def measure(self, s, previous=None):
        """The guest's measurement; ``previous`` is the one the timing task
        last planned on while it waits (its dirty-rate samples are kept).
        """
        flavor = s.instance.flavor
        domain = self._guest(s.instance)._domain
        measured = measure.measure_guest(
            domain, self.driver._host.get_connection(), s.libvirt,
            memory_bytes=flavor.memory_mb * units.MiB,
            vcpus=flavor.vcpus,
            dirty_rate_window_s=self.conf.migtuner.dirty_rate_calc_s)
        return self._with_dirty_rate_samples(s, domain, measured, previous)

    def _with_dirty_rate_samples(self, s, domain, measured, previous=None):
        """Add the dirty-rate samples of ``quiet_window_sampling_s``: the
        whole window the first time, one more sample while waiting.
        """
        mt = self.conf.migtuner
        if mt.quiet_window_sampling_s <= 0 or mt.dirty_rate_calc_s <= 0:
            return measured
        earlier = getattr(previous, 'dirty_rate_samples', ()) or ()
        samples = earlier + dirtyrate.sample_dirty_rates(
            domain, 0 if earlier else mt.quiet_window_sampling_s,
            mt.dirty_rate_calc_s, libvirt_module=s.libvirt)
        if samples:
            samples = tuple(x for x in samples if x.end_s >=
                            samples[-1].end_s - mt.quiet_window_sampling_s)
            # Plan with the rate the guest dirties at now.
            measured = dataclasses.replace(
                measured, dirty_rate_samples=samples,
                dirty_rate=samples[-1].bytes_per_second)
        return measured

    def seconds_since_instance_migration(self, s):
        if self.conf.migtuner.instance_spacing_s <= 0:
            return None
        return records.seconds_since_instance_migration(
            s.context, s.instance_uuid, getattr(s.migration, 'id', None))

    def link_to_destination(self, s):
        """``(Known bytes/s, class)`` of the link to ``s.dest``."""
        mt = self.conf.migtuner
        views = []
        if mt.link_classes:
            try:
                views = records.destination_aggregates(s.context, s.dest)
            except Exception as e:
                LOG.warning('nova_migtuner could not read the aggregates of '
                            '%(dest)s, planning with the default link: '
                            '%(error)s', {'dest': s.dest, 'error': e},
                            instance=s.instance)
        return inputs.link_to_destination(
            s.source_host, views, mt.link_classes, mt.link_bandwidth,
            self.host_state.observed_bandwidth)

    def plan(self, s, measurement, operator_strategy=None):
        instance = s.instance
        conf = self.conf
        link, link_class = self.link_to_destination(s)
        others = self.host_state.in_flight(exclude=s.instance_uuid)
        link = inputs.share_of_link(link, others)
        migration_inputs = inputs.migration_inputs(
            conf=conf,
            memory_bytes=instance.flavor.memory_mb * units.MiB,
            measurement=measurement,
            extra_specs=instance.flavor.extra_specs,
            image_properties=inputs.image_properties_from_system_metadata(
                instance.system_metadata),
            available_strategies=planner.available_strategies(),
            link_bandwidth=link,
            seconds_since_instance_migration=(
                self.seconds_since_instance_migration(s)),
            seconds_since_host_migration=self.host_state.since_last_start(),
            instance_uuid=s.instance_uuid,
            # A tenant's bad image value is ignored and explained, and an
            # operator's choice overrides every image wish.
            strict_image=False, operator_chosen=bool(operator_strategy))
        for note in migration_inputs.policy.notes:
            LOG.warning('nova_migtuner: %(note)s', {'note': note},
                        instance=instance)
        LOG.debug('nova_migtuner plans over the %(cls)s link to %(dest)s, '
                  'shared with %(others)d other migration(s) in flight',
                  {'cls': link_class, 'dest': s.dest, 'others': others},
                  instance=instance)
        plan = planner.build_plan(migration_inputs,
                                  conf.migtuner.default_strategy,
                                  operator_strategy=operator_strategy)
        # Fail here, before anything started, if this libvirt cannot do it.
        flags_mod.libvirt_flags(plan, s.base_flags, s.libvirt)
        return plan

    def take_operator_strategy(self, s):
        """The operator's one-off strategy (signed marker), or None.

        The marker is gone after this call; a failure drops the marker
        only, not the tuning of the migration.
        """
        try:
            return self.markers.take_strategy(s.instance, s.source_host)
        except Exception as e:
            LOG.warning('nova_migtuner ignores the operator strategy marker '
                        'after an error: %(error)s; the migration is '
                        'planned without it', {'error': e},
                        instance=s.instance, exc_info=True)
            return None

    # -- after the migration ----------------------------------------------

    def reserve_start(self, s, timing):
        """Check and reserve ``host_spacing_s`` just before nova starts.

        The check and the reservation are one step under the host's lock,
        so two migrations planned at the same moment cannot both start. A
        migration that has to wait for the spacing waits (abort and
        force-complete work) for at most what is left of
        ``max_deferral_s``, and is refused if it would have to wait
        longer. A wait is notified as ``.deferred`` (``wait_for``
        ``spacing``) and counts in ``waited_s``; a refusal's reason is the
        returned timing's, which ``.end`` and the instance action event
        report. Untuned migrations (disabled, or degraded to nova's
        behaviour) are recorded but never wait.

        :param timing: the timing task's ``flow.Timing`` (action ``GO``).
        :returns: the ``flow.Timing`` to act on: ``GO``, ``ABORTED`` or
            ``REFUSED``, with the time waited here added.
        """
        from nova_migtuner.nova import flow
        tuned = timing.plan is not None and s.fallback_reason is None
        spacing = self.conf.migtuner.host_spacing_s if tuned else 0
        limit = float(self.max_deferral_s)
        waited = timing.waited_s
        notified = False
        while True:
            left = self.host_state.reserve_start(
                s.instance_uuid, spacing, force=s.start_requested)
            if not left:
                return dataclasses.replace(timing, waited_s=waited)
            if left > limit - waited:
                reason = (
                    'another migration started from this host: %.0f s of '
                    'host_spacing_s %d s left, more than the %.0f s left of '
                    'max_deferral_s' % (left, spacing,
                                        max(0.0, limit - waited)))
                LOG.warning('nova_migtuner refuses to start this migration: '
                            '%(reason)s', {'reason': reason},
                            instance=s.instance)
                return dataclasses.replace(timing, action=flow.REFUSED,
                                           waited_s=waited, reason=reason)
            LOG.info('nova_migtuner waits %(left).1f s for host_spacing_s '
                     'before starting', {'left': left}, instance=s.instance)
            if not notified:
                notified = True
                s.notify(notif.DEFERRED, **dict(
                    s.plan_fields(timing.plan),
                    wait_for=plan_mod.WAIT_FOR_SPACING,
                    max_wait_s=round(left, 3),
                    reason='another migration started from this host: '
                           'wait %.0f s (host_spacing_s %d s)'
                           % (left, spacing)))
            began = s.clock()
            s.wake.wait(left)
            s.wake.clear()
            waited += s.clock() - began
            if s.abort_requested:
                return dataclasses.replace(timing, action=flow.ABORTED,
                                           waited_s=waited)

    def note_start(self, s):
        """Record the start (already done by ``reserve_start``)."""
        self.host_state.reserve_start(s.instance_uuid, force=True)

    def forget(self, s):
        """The migration is over: it no longer shares the link."""
        self.host_state.end(s.instance_uuid, started=s.armed)

    def note_end(self, s, payload):
        self.host_state.note_end(
            payload, shared_link=self.host_state.shared_link(s.instance_uuid))

    def destination_stats(self, s):
        """Read and remove the numbers the destination left."""
        return destination_stats.take(s.context, s.instance_uuid)

    def keep_destination_stats(self, instance):
        """On the destination: store the completed job stats; never raises."""
        destination_stats.keep(
            instance, lambda: self._guest(instance)._domain,
            libvirt_module())
