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

"""Host facts for the migtuner scheduler filter and weigher.

``HostStatsMixin`` extends the libvirt driver's ``get_available_resource``:
nova's resource tracker copies ``['stats']`` into ``compute_nodes.stats`` on
every periodic update (``[DEFAULT] update_resources_interval``), and the
scheduler reads them from ``HostState.stats``. Collecting them must never
break that update: a failure is logged and the stats are left out.

Use it before ``LibvirtDriver`` in the bases::

    class MigTunerDriver(cpu_mode.CPUModeMixin, host_stats.HostStatsMixin,
                         libvirt_driver.LibvirtDriver):
"""

import os
import time

from oslo_log import log as logging

from nova import context as nova_context
from nova import objects
from nova.virt.libvirt import config as vconfig

import nova.conf
from nova_migtuner.cpu import model as cpu_model
from nova_migtuner import migration_statuses as statuses
from nova_migtuner.nova import records
from nova_migtuner.scheduler import stats as mt_stats

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF

LIVE_MIGRATION = statuses.LIVE_MIGRATION
COMPLETED = statuses.COMPLETED
# Finished migrations looked at to find the last incoming one.
_RECENT_MIGRATIONS = 20
_KEPT_FEATURE_POLICIES = (None, 'require', 'force')


class HostStatsMixin(object):
    """Add ``scheduler.stats`` facts to ``get_available_resource()``."""

    _migtuner_expanded_features = None

    def get_available_resource(self, nodename):
        data = super().get_available_resource(nodename)
        try:
            facts = self._migtuner_host_facts(nodename)
        except Exception:
            LOG.warning('Cannot collect migtuner host stats for node %s; '
                        'the scheduler filter and weigher will treat this '
                        'host as reporting nothing', nodename, exc_info=True)
            return data
        stats = dict(data.get('stats') or {})
        stats.update(mt_stats.encode(facts))
        data['stats'] = stats
        return data

    def _migtuner_host_facts(self, nodename):
        caps = self._host.get_capabilities()
        host_cpu = cpu_model.HostCPU(
            arch=caps.host.cpu.arch, vendor=caps.host.cpu.vendor,
            model=caps.host.cpu.model,
            features=frozenset(f.name for f in caps.host.cpu.features))
        incoming = records.incoming_by_host(
            self._migtuner_migrations(nodename)).get(
                CONF.host, records.Incoming())
        topology = getattr(caps.host, 'topology', None)
        return mt_stats.HostFacts(
            updated_at=time.time(),
            virt_type=CONF.libvirt.virt_type,
            cpu_mode=CONF.libvirt.cpu_mode or '',
            cpu_models=tuple(CONF.libvirt.cpu_models or ()),
            cpu_fingerprint=host_cpu.fingerprint(),
            cpu_features_expanded=self._migtuner_expanded_cpu_features(
                caps.host.cpu),
            cpu_load=self._migtuner_host_cpu_load(),
            incoming_migrations=incoming.in_flight,
            last_incoming_end=incoming.last_end,
            numa_nodes=len(topology.cells) if topology else None)

    def _migtuner_migrations(self, nodename):
        """Unfinished and recently completed migrations touching this host.
        """
        ctxt = nova_context.get_admin_context()
        in_progress = objects.MigrationList.get_in_progress_by_host_and_node(
            ctxt, CONF.host, nodename)
        completed = objects.MigrationList.get_by_filters(
            ctxt, {'host': CONF.host, 'migration_type': LIVE_MIGRATION,
                   'status': COMPLETED},
            sort_keys=['updated_at'], sort_dirs=['desc'],
            limit=_RECENT_MIGRATIONS)
        return list(in_progress) + list(completed)

    def _migtuner_expanded_cpu_features(self, host_cpu_config):
        """All features of the host CPU, model features included.

        The listed features of the capabilities are relative to the model;
        the expanded list lets the scheduler compare hosts of different
        models. The host CPU does not change while the service runs, so it
        is asked once.
        """
        if self._migtuner_expanded_features is None:
            xml = self._get_guest_baseline_cpu_features(
                host_cpu_config.to_xml())
            if not xml:
                return None
            cpu = vconfig.LibvirtConfigGuestCPU()
            cpu.parse_str(xml)
            self._migtuner_expanded_features = frozenset(
                f.name for f in cpu.features
                if getattr(f, 'policy', None) in _KEPT_FEATURE_POLICIES)
        return self._migtuner_expanded_features

    def _migtuner_host_cpu_load(self):
        """1-minute load average per online CPU (1.0: every CPU busy)."""
        online = len(self._host.get_online_cpus()) or 1
        return os.getloadavg()[0] / online
