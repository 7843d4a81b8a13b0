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

"""An outside view of a nova server on the cloud's test bed hosts.

Reads what the code under test does not control: libvirt over the
observer's own connections, and the guest's heartbeat in nova's
``console.log`` on whichever host runs it.
"""

import libvirt

from nova_migtuner.cloud import layout as layout_mod
from nova_migtuner.testbed import console
from nova_migtuner.testbed import heartbeat

COMPLETED_STATS_FLAGS = (libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED |
                         libvirt.VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED)


class ServerObserver:
    """The libvirt domains and serial logs of one server on both hosts."""

    def __init__(self, cloud, server_id):
        self.cloud = cloud
        self.server_id = server_id

    def console_log(self, bed_host):
        """Host-side path of nova's console.log for this server."""
        return self.cloud.bed.hosts[bed_host].path(
            '%s/%s/console.log' % (layout_mod.INSTANCES_PATH,
                                   self.server_id))

    def heartbeat_probe(self):
        """A HeartbeatProbe over the console logs on both hosts."""
        return heartbeat.HeartbeatProbe(
            {host: self.console_log(host) for host in self.cloud.bed.hosts})

    def console_text(self, bed_host):
        return console.read_text(self.console_log(bed_host))

    def domain(self, bed_host):
        """The server's virDomain on ``bed_host``, or None."""
        for dom in self.cloud.bed.connect(bed_host).listAllDomains():
            if dom.UUIDString() == self.server_id:
                return dom
        return None

    def _hosts_in_state(self, state):
        hosts = []
        for name in self.cloud.bed.hosts:
            dom = self.domain(name)
            if dom is not None and dom.isActive() and dom.state()[0] == state:
                hosts.append(name)
        return hosts

    def running_on(self):
        """Test bed hosts where the server's domain is running."""
        return self._hosts_in_state(libvirt.VIR_DOMAIN_RUNNING)

    def paused_on(self):
        """Test bed hosts where the server's domain is paused."""
        return self._hosts_in_state(libvirt.VIR_DOMAIN_PAUSED)

    def defined_on(self):
        """Test bed hosts where the server has a domain, in any state."""
        return [name for name in self.cloud.bed.hosts
                if self.domain(name) is not None]

    def completed_stats(self, bed_host):
        """libvirt's statistics of the last completed job on ``bed_host``
        (kept for other readers).
        """
        dom = self.domain(bed_host)
        if dom is None:
            return {}
        return dom.jobStats(COMPLETED_STATS_FLAGS)


def bed_host_of(compute_host):
    """'a' or 'b' for a nova compute host name ('migtuner-a')."""
    for compute in layout_mod.COMPUTES:
        if compute.host == compute_host:
            return compute.bed_host
    raise ValueError('%r is not a compute of the cloud (expected one of %s)'
                     % (compute_host, ', '.join(c.host for c in
                                                layout_mod.COMPUTES)))
