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

"""``MigTunerDriver``: nova's libvirt driver with tuned live migrations.

nova.conf on each compute host::

    [DEFAULT]
    compute_driver = migtuner.MigTunerDriver

(the ``nova/virt/migtuner`` shim package makes that name importable). The
subclass is thin: it checks at start-up that this is a nova it knows, and
wires the per-migration flow (``flow``) and the libvirt hooks (``session``)
into five private methods of ``LibvirtDriver``; a plan libvirt refuses
before the job starts is retried once with nova's flags (``refused_plan``).
Everything else is nova's.
"""

import threading

from nova import version as nova_version
from nova.virt.libvirt import driver as libvirt_driver
from nova.virt.libvirt import guest as libvirt_guest
from nova.virt.libvirt import migration as libvirt_migration
from oslo_log import log as logging

import nova_migtuner.conf
from nova_migtuner.conf import startup
from nova_migtuner.engine import flags as flags_mod
from nova_migtuner.nova import action_event
from nova_migtuner.nova import cpu_mode
from nova_migtuner.nova import flow
from nova_migtuner.nova import host_stats
from nova_migtuner.nova import incoming
from nova_migtuner.nova import libvirt_host
from nova_migtuner.nova import libvirt_return
from nova_migtuner.nova import ops as ops_mod
from nova_migtuner.nova import refused_plan
from nova_migtuner.nova import session as session_mod
from nova_migtuner.planning import compat

CONF = nova_migtuner.conf.CONF
LOG = logging.getLogger(__name__)

# libvirt's error code for a job cancelled by abortJob (nova's fake libvirt
# in the functional tests does not define it).
VIR_ERR_OPERATION_ABORTED = 78


def check_nova():
    """Refuse to run on a nova whose private surface is not the expected."""
    try:
        compat.require(nova_version.version_string(),
                       libvirt_driver.LibvirtDriver, libvirt_migration,
                       libvirt_guest)
    except compat.UnsupportedNovaError as e:
        LOG.critical('%s', e)
        raise


class MigTunerDriver(cpu_mode.CPUModeMixin, host_stats.HostStatsMixin,
                     libvirt_driver.LibvirtDriver):
    """LibvirtDriver whose live migrations follow a ``MigrationPlan``.

    The mixins come first so that their overrides wrap nova's methods:
    ``migtuner:cpu_mode`` in the guest CPU config, and the host facts the
    scheduler filter and weigher read from the resource stats.
    """

    def __init__(self, virtapi, read_only=False):
        check_nova()
        startup.check_service('MigTunerDriver', secrets=True)
        super().__init__(virtapi, read_only)
        found = compat.instance_problems(self)
        if found:
            message = compat.message(found)
            LOG.critical('%s', message)
            raise compat.UnsupportedNovaError(message)
        # nova 34 can deadlock on its own connection lock when libvirtd
        # dies (see libvirt_host).
        libvirt_host.make_connection_lock_reentrant(self._host)
        self._migtuner_sessions = {}
        self._migtuner_local = threading.local()
        self._migtuner_ops = ops_mod.NovaOps(
            self, super()._live_migration)
        # Incoming live migrations admitted by the destination pre-check.
        self._migtuner_incoming = incoming.IncomingLedger()
        LOG.info('nova_migtuner driver loaded on nova %s',
                 nova_version.version_string())
        for line in nova_migtuner.conf.rate_settings():
            LOG.info('nova_migtuner [migtuner] %(setting)s',
                     {'setting': line})

    # -- source: the per-migration flow ------------------------------------

    def _live_migration(self, context, instance, dest, post_method,
                        recover_method, block_migration, migrate_data):
        try:
            session = self._migtuner_ops.new_session(
                context, instance, dest, post_method, recover_method,
                block_migration, migrate_data)
        except Exception as e:
            LOG.error('nova_migtuner falls back to stock nova behaviour: '
                      'could not set up the migration: %(error)s',
                      {'error': e}, instance=instance, exc_info=True)
            return super()._live_migration(
                context, instance, dest, post_method, recover_method,
                block_migration, migrate_data)
        self._migtuner_sessions[instance.uuid] = session
        recorded = action_event.start(context, instance, instance.host)

        def on_end(ending):
            if recorded:
                action_event.finish_session(context, instance, session,
                                            ending)

        try:
            flow.run(session, self._migtuner_ops, on_end=on_end)
        finally:
            self._migtuner_sessions.pop(instance.uuid, None)
            self._migtuner_ops.forget(session)
            session.job_completed.stop()

    def _migtuner_guest(self, instance, guest):
        """The guest nova migrates, with its domain's calls hooked."""
        session = self._migtuner_sessions.get(instance.uuid)
        if session is None:
            return guest
        return libvirt_guest.Guest(refused_plan.FallbackDomain(
            session_mod.TunedDomain(guest._domain, session), session))

    def _live_migration_operation(self, context, instance, dest,
                                  block_migration, migrate_data, guest,
                                  device_names):
        try:
            return super()._live_migration_operation(
                context, instance, dest, block_migration, migrate_data,
                self._migtuner_guest(instance, guest), device_names)
        except libvirt_driver.libvirt.libvirtError as e:
            # A job that ends without completing (aborted by the operator
            # or the plan, or failed: the destination's QEMU or libvirtd
            # died, the link broke) makes migrateToURI3 fail, and nova 34's
            # _live_migration re-raises that from the operation's future
            # after its monitor has already rolled the migration back: the
            # instance would go to ERROR although it runs on the source.
            # The monitor owns the outcome: it finds where the domain is
            # (find_job_type), rolls back a job that did not complete and
            # completes one that did. Without a session (nova_migtuner fell
            # back) nova's own behaviour stays.
            if self._migtuner_sessions.get(instance.uuid) is None:
                raise
            aborted = e.get_error_code() == getattr(
                libvirt_driver.libvirt, 'VIR_ERR_OPERATION_ABORTED',
                VIR_ERR_OPERATION_ABORTED)
            LOG.log(logging.INFO if aborted else logging.WARNING,
                    'nova_migtuner: the migration job ended without '
                    'completing (%(error)s); nova\'s monitor decides from '
                    'where the guest runs, and rolls the migration back if '
                    'it is still on the source', {'error': e},
                    instance=instance)
            return None

    def _live_migration_monitor(self, context, instance, guest, dest,
                                post_method, recover_method,
                                block_migration, migrate_data, future,
                                disk_paths):
        session = self._migtuner_sessions.get(instance.uuid)
        self._migtuner_local.session = session
        if session is not None:
            session.job_completed.start(self._host.get_connection(),
                                        guest._domain)
        try:
            return super()._live_migration_monitor(
                context, instance, self._migtuner_guest(instance, guest),
                dest, post_method, recover_method, block_migration,
                migrate_data, future, disk_paths)
        finally:
            self._migtuner_local.session = None

    def _get_migration_flags(self, is_block_migration):
        # nova's monitor asks this once per migration, to decide whether a
        # force-complete switches to post-copy or pauses: answer for the
        # flags this migration was started with, not the host's.
        flags = super()._get_migration_flags(is_block_migration)
        session = getattr(self._migtuner_local, 'session', None)
        if session is None or not session.tuned:
            return flags
        try:
            return flags_mod.libvirt_flags(session.plan, flags,
                                           session.libvirt)
        except Exception as e:
            session.degrade('monitor', e)
            return flags

    def live_migration_abort(self, instance):
        session = self._migtuner_sessions.get(instance.uuid)
        if session is not None and session.request_abort():
            LOG.info('nova_migtuner: abort requested while the migration '
                     'waits to start; it will not start',
                     instance=instance)
            return
        return super().live_migration_abort(instance)

    def live_migration_force_complete(self, instance):
        session = self._migtuner_sessions.get(instance.uuid)
        if session is not None and session.request_start():
            LOG.info('nova_migtuner: force-complete requested while the '
                     'migration waits to start; it starts now',
                     instance=instance)
            return
        return super().live_migration_force_complete(instance)

    # -- destination: admission and the final numbers ----------------------

    def check_can_live_migrate_destination(self, context, instance,
                                           src_compute_info, dst_compute_info,
                                           block_migration=False,
                                           disk_over_commit=False):
        data = super().check_can_live_migrate_destination(
            context, instance, src_compute_info, dst_compute_info,
            block_migration, disk_over_commit)
        try:
            incoming.admit(self._migtuner_incoming, context, instance,
                           CONF.host, CONF.migtuner.max_incoming_migrations)
        except Exception:
            # nova's manager cleans up only after a pre-check that returned.
            super().cleanup_live_migration_destination_check(context, data)
            raise
        return data

    def rollback_live_migration_at_destination(self, context, instance,
                                               *args, **kwargs):
        self._migtuner_incoming.release(instance.uuid)
        super().rollback_live_migration_at_destination(context, instance,
                                                       *args, **kwargs)

    def post_live_migration_at_destination(self, context, instance,
                                           network_info,
                                           block_migration=False,
                                           block_device_info=None):
        self._migtuner_incoming.release(instance.uuid)
        libvirt_return.wait_for_libvirt(
            self._host, CONF.migtuner.destination_libvirt_wait_s,
            instance=instance)
        super().post_live_migration_at_destination(
            context, instance, network_info, block_migration,
            block_device_info)
        self._migtuner_ops.keep_destination_stats(instance)
