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

# virDomainState (stable enum).
DOMAIN_PAUSED = 3


class ActionRefused(Exception):
    """libvirt did not take an action (the call failed or did nothing)."""


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

    def is_active(self):
        try:
            return bool(self.domain.isActive())
        except self.libvirt.libvirtError:
            return False
