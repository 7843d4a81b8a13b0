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

"""Plain values out of nova's ``HostState`` for the pure rules."""

from nova_migtuner.cpu import mode as cpu_mode
from nova_migtuner.cpu import model as cpu_model
from nova_migtuner.planning import links
from nova_migtuner.scheduler import stats as mt_stats


def facts_of(host_state):
    return mt_stats.decode(getattr(host_state, 'stats', None) or {})


def cpu_of(host_state, facts):
    cpu = cpu_model.host_cpu_from_cpu_info(
        getattr(host_state, 'cpu_info', None))
    if cpu is not None and facts is not None:
        cpu = cpu.with_expanded_features(facts.cpu_features_expanded)
    return cpu


def verified_cpu_models(facts):
    """The host's ``[libvirt] cpu_models`` if it runs ``cpu_mode=custom``.

    nova checked those against the host CPU at start-up; with any other
    mode the host's list says nothing, hence None ("cannot tell").
    """
    if facts is None or facts.cpu_mode != cpu_model.CUSTOM:
        return None
    return facts.cpu_models or ()


def libvirt_cpu_config(facts, cpu):
    """``mode.LibvirtCPUConfig`` of a host from what it reported."""
    return cpu_mode.LibvirtCPUConfig(
        virt_type=facts.virt_type or 'kvm',
        cpu_mode=facts.cpu_mode or None,
        cpu_models=tuple(facts.cpu_models or ()),
        arch=cpu.arch if cpu is not None else None)


def aggregate_views(host_state):
    return [links.AggregateView(hosts=tuple(getattr(agg, 'hosts', None) or
                                            ()),
                                metadata=dict(getattr(agg, 'metadata', None)
                                              or {}))
            for agg in getattr(host_state, 'aggregates', None) or ()]


def flavor_extra_specs(spec_obj):
    flavor = spec_obj.flavor if 'flavor' in spec_obj else None
    return dict(getattr(flavor, 'extra_specs', None) or {})
