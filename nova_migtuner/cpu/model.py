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

"""What a host CPU is, as far as running a guest's CPU definition goes."""

import dataclasses
import hashlib
import json
from typing import FrozenSet, Optional

HOST_PASSTHROUGH = 'host-passthrough'
HOST_MODEL = 'host-model'
CUSTOM = 'custom'
NONE = 'none'

# Modes a flavor may ask for with ``migtuner:cpu_mode``. 'none' is left to
# the operator's ``[libvirt] cpu_mode``: a flavor must not drop the <cpu>
# element that the operator's mode exists to set.
FLAVOR_CPU_MODES = (HOST_PASSTHROUGH, HOST_MODEL, CUSTOM)


@dataclasses.dataclass(frozen=True)
class HostCPU:
    """A host CPU as libvirt describes it.

    ``features`` are the features libvirt lists next to ``model`` in the
    host capabilities: the ones the host has *beyond* the model, so two
    lists only compare when the models are equal. ``expanded_features``,
    when known, is the full list (model features included, from
    ``baselineCPU(..., VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES)``) and
    compares across models.
    """
    arch: Optional[str]
    vendor: Optional[str]
    model: Optional[str]
    features: FrozenSet[str] = frozenset()
    expanded_features: Optional[FrozenSet[str]] = None

    def fingerprint(self):
        """Short stable hash of arch, vendor, model and features.

        Equal fingerprints mean a host-passthrough guest sees the same CPU.
        """
        text = '|'.join([self.arch or '', self.vendor or '', self.model or '',
                         ','.join(sorted(self.features))])
        return hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]

    def describe(self):
        return '%s %s (%s)' % (self.vendor or '?', self.model or '?',
                               self.arch or '?')

    def with_expanded_features(self, expanded):
        return dataclasses.replace(
            self, expanded_features=None if expanded is None
            else frozenset(expanded))


def host_cpu_from_cpu_info(cpu_info):
    """Build a ``HostCPU`` from nova's ``ComputeNode.cpu_info``.

    :param cpu_info: the JSON text (or its dict) the libvirt driver reports
        in ``get_available_resource()['cpu_info']``.
    :returns: a ``HostCPU``, or None when *cpu_info* is empty or unreadable
        (other drivers report '' or free text).
    """
    if not cpu_info:
        return None
    if isinstance(cpu_info, str):
        try:
            cpu_info = json.loads(cpu_info)
        except ValueError:
            return None
    if not isinstance(cpu_info, dict) or not cpu_info.get('model'):
        return None
    return HostCPU(arch=cpu_info.get('arch'),
                   vendor=cpu_info.get('vendor'),
                   model=cpu_info.get('model'),
                   features=frozenset(cpu_info.get('features') or ()))
