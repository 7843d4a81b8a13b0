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

"""The few libvirt calls a plan needs during a migration, behind one face.

``PlanApplier`` never talks to libvirt itself: it calls an actuator.
``DomainActuator`` wraps a raw ``virDomain`` (the test bed, the bench);
nova's driver uses ``nova_migtuner.nova.actuator.NovaGuestActuator``,
which switches to post-copy through nova's own helper so that nova's
Migration record follows.

Every call that libvirt refuses raises ``ActionRefused`` with libvirt's
message; the applier then tells the escalator, which keeps its ladder and
deadline running. No libvirt import: the caller hands in its libvirt
module (the real binding or nova's fake) for its error class.
"""

# virDomainState and its reasons (stable enums).
DOMAIN_RUNNING = 1
DOMAIN_PAUSED = 3
# virDomainPausedReason: post-copy failed (libvirt 8.5+), the guest's
# memory is split between the hosts and only a post-copy resume joins it.
PAUSED_POSTCOPY_FAILED = 13
# virDomainRunningReason: the destination's vCPUs run on, post-copy failed.
RUNNING_POSTCOPY_FAILED = 11


class ActionRefused(Exception):
    """libvirt did not take an action (the call failed or did nothing)."""


class DestinationNotWaiting(ActionRefused):
    """The destination has no QEMU waiting to resume a post-copy migration.

    libvirt says so with ``VIR_ERR_OPERATION_INVALID`` ("domain ... is not
    processing incoming migration") once the destination's QEMU is gone: a
    resume can then never succeed. A destination libvirtd that is
    reconnecting to its QEMU may say the same for a moment, so the caller
    decides how many times in a row make it final.
    """


class DomainActuator:
    """The plan's calls on one ``virDomain``.

    :param domain: the domain (for nova's hooks: the raw one, not the
        hooked wrapper, so that the plan's own calls are not intercepted).
    :param libvirt_module: the module whose ``libvirtError`` the domain
        raises.
    """

    def __init__(self, domain, libvirt_module):
        self.domain = domain
        self.libvirt = libvirt_module

    def _call(self, method, *args):
        try:
            return method(*args)
        except self.libvirt.libvirtError as e:
            raise ActionRefused(str(e)) from e

    def set_max_downtime(self, downtime_ms):
        self._call(self.domain.migrateSetMaxDowntime, int(downtime_ms))

    def max_downtime(self):
        """The max downtime libvirt holds (ms), or None if it cannot say."""
        getter = getattr(self.domain, 'migrateGetMaxDowntime', None)
        if getter is None:   # nova's fake libvirt
            return None
        try:
            return getter(0)
        except self.libvirt.libvirtError:
            return None

    def start_post_copy(self):
        self._call(self.domain.migrateStartPostCopy, 0)

    def suspend(self):
        self._call(self.domain.suspend)

    def resume(self):
        self._call(self.domain.resume)

    def abort_job(self):
        self._call(self.domain.abortJob)

    def is_paused(self):
        # info() rather than state(): nova's fake libvirt has only info().
        return self._call(self.domain.info)[0] == DOMAIN_PAUSED

    def postcopy_failed(self):
        """True if libvirt says this domain's post-copy migration failed.

        False when it cannot say (no ``state()`` in nova's fake libvirt, or
        an error).
        """
        state = getattr(self.domain, 'state', None)
        if state is None:
            return False
        try:
            st, reason = state()[:2]
        except self.libvirt.libvirtError:
            return False
        return ((st, reason) == (DOMAIN_PAUSED, PAUSED_POSTCOPY_FAILED) or
                (st, reason) == (DOMAIN_RUNNING, RUNNING_POSTCOPY_FAILED))

    def resume_post_copy(self, dest_uri, params, flags):
        """Restart a failed post-copy migration; returns when it completed.

        The same call as the migration's with ``VIR_MIGRATE_POSTCOPY_RESUME``
        (libvirt 8.5+); raises ``ActionRefused`` when libvirt fails it (the
        link is still down) or lacks the flag, ``DestinationNotWaiting``
        when the destination has no QEMU to resume into.
        """
        resume = getattr(self.libvirt, 'VIR_MIGRATE_POSTCOPY_RESUME', None)
        if resume is None:
            raise ActionRefused('this libvirt cannot resume a failed '
                                'post-copy migration (libvirt 8.5+ can)')
        postcopy = getattr(self.libvirt, 'VIR_MIGRATE_POSTCOPY', 0)
        try:
            self.domain.migrateToURI3(dest_uri, params,
                                      flags | postcopy | resume)
        except self.libvirt.libvirtError as e:
            invalid = getattr(self.libvirt, 'VIR_ERR_OPERATION_INVALID', None)
            if invalid is not None and e.get_error_code() == invalid:
                raise DestinationNotWaiting(str(e)) from e
            raise ActionRefused(str(e)) from e

    def is_active(self):
        try:
            return bool(self.domain.isActive())
        except self.libvirt.libvirtError:
            return False
