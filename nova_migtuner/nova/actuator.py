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

"""The plan's libvirt calls inside nova: through nova's ``Guest``.

The switch to post-copy goes through nova's own
``migration.trigger_postcopy_switch`` so that nova's Migration record says
'running (post-copy)' as it does after a force-complete; nova swallows
libvirt's refusal there, so the record's status is what confirms it.
"""

from nova.virt.libvirt import guest as guest_mod
from nova.virt.libvirt import migration as migration_mod

from nova_migtuner.engine import actuator

POST_COPY_STATUS = 'running (post-copy)'


class NovaGuestActuator(actuator.DomainActuator):
    """``DomainActuator`` whose calls are nova's ``Guest`` methods.

    :param domain: the raw ``virDomain`` (not the hooked one: nova's
        downtime steps are ignored there, the plan's must not be).
    :param instance: the nova ``Instance`` being migrated.
    :param migration: its nova ``Migration`` record.
    """

    def __init__(self, domain, libvirt_module, instance, migration):
        super().__init__(domain, libvirt_module)
        self.guest = guest_mod.Guest(domain)
        self.instance = instance
        self.migration = migration

    def set_max_downtime(self, downtime_ms):
        self._call(self.guest.migrate_configure_max_downtime,
                   int(downtime_ms))

    def start_post_copy(self):
        migration_mod.trigger_postcopy_switch(self.guest, self.instance,
                                              self.migration)
        if getattr(self.migration, 'status', None) != POST_COPY_STATUS:
            raise actuator.ActionRefused('libvirt refused the switch')

    def suspend(self):
        self._call(self.guest.pause)

    def resume(self):
        self._call(self.guest.resume)

    def abort_job(self):
        self._call(self.guest.abort_job)
