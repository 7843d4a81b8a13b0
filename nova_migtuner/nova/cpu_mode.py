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

"""Apply the flavor's ``migtuner:cpu_mode`` when the guest XML is generated.

Nova 34 has one CPU mode per host (``[libvirt] cpu_mode``). Yet
a guest that needs the host's cache topology (host-passthrough) and guests
that must stay movable across CPU generations (host-model, custom baseline)
live in the same cloud. ``CPUModeMixin`` lets a flavor choose, within what
``[libvirt]`` allows on the host (``cpu.mode.refusal``): virt_type kvm/qemu,
not ``cpu_mode=none``, host-passthrough only on kvm, custom models only
from ``[libvirt] cpu_models`` (nova checked those at start-up). The
``[libvirt] cpu_model_extra_flags`` nova adds are kept. ``MigTunerFilter``
resolves the same wish with the same function, so live migrations of such
guests only go to hosts that can run them.

NUMA placement is not touched here: ``hw:numa_nodes`` is fixed into the
instance's NUMA topology at API time and claimed on the host; changing it
in the driver would go behind the claims.

Use it before ``LibvirtDriver`` in the bases::

    class MigTunerDriver(cpu_mode.CPUModeMixin, host_stats.HostStatsMixin,
                         libvirt_driver.LibvirtDriver):
"""

from oslo_log import log as logging

import nova.conf

from nova_migtuner.cpu import mode as cpu_mode
from nova_migtuner.cpu import model as cpu_model

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF


def libvirt_cpu_config(arch):
    """The ``[libvirt]`` CPU settings of this host as plain values."""
    return cpu_mode.LibvirtCPUConfig(
        virt_type=CONF.libvirt.virt_type,
        cpu_mode=CONF.libvirt.cpu_mode,
        cpu_models=tuple(CONF.libvirt.cpu_models or ()),
        arch=arch)


class CPUModeMixin(object):
    """Override ``LibvirtDriver._get_guest_cpu_model_config`` (driver.py:5980).

    It is called with the flavor when a guest's XML is generated (spawn,
    hard reboot, resize, rebuild, cold migration, evacuation, unshelve) and
    without one at start-up checks, where nova's behaviour is kept.
    """

    def _get_guest_cpu_model_config(self, flavor=None, arch=None):
        cpu = super()._get_guest_cpu_model_config(flavor, arch)
        if flavor is None or cpu is None:
            return cpu
        extra_specs = getattr(flavor, 'extra_specs', None) or {}
        if cpu_mode.CPU_MODE_KEY not in extra_specs and \
                cpu_mode.CPU_MODEL_KEY not in extra_specs:
            return cpu
        if not arch:
            arch = self._host.get_capabilities().host.cpu.arch
        choice = cpu_mode.resolve_guest_cpu(extra_specs,
                                            libvirt_cpu_config(arch))
        if choice.refused:
            LOG.warning('Flavor %(flavor)s asks for %(key)s=%(value)s, not '
                        'applied on this host: %(reason)s; the guest gets '
                        'CPU mode %(mode)s',
                        {'flavor': getattr(flavor, 'name', '?'),
                         'key': cpu_mode.CPU_MODE_KEY,
                         'value': extra_specs.get(cpu_mode.CPU_MODE_KEY),
                         'reason': choice.refused, 'mode': cpu.mode})
            return cpu
        if choice.source != cpu_mode.SOURCE_FLAVOR:
            return cpu
        cpu.mode = choice.mode
        if choice.mode == cpu_model.CUSTOM:
            cpu.model = self._get_cpu_model_mapping(choice.model)
        else:
            # host-model and host-passthrough take the CPU from the host;
            # a model left from [libvirt] cpu_models would contradict it.
            cpu.model = None
        LOG.debug('CPU mode %(mode)s model %(model)s from flavor %(flavor)s',
                  {'mode': cpu.mode, 'model': cpu.model or '',
                   'flavor': getattr(flavor, 'name', '?')})
        return cpu
