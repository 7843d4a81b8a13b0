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

"""Can a destination host run the CPU definition a live-migrating guest has?

A live migration keeps the guest's CPU definition: the destination must run
exactly what the guest was started with on the source, or libvirt refuses
(nova notices late, in ``_compare_cpu`` on the destination). These rules
decide it in the scheduler, from data every host reports:

* host-passthrough: the guest sees the source host's CPU, so the
  destination needs the same vendor, model and features;
* host-model: the guest got a CPU built from the source host's CPU, so the
  destination needs at least the source's features (compared on the
  expanded feature lists when both hosts report them, otherwise on the same
  model with a superset of the listed features);
* custom: the destination must be able to run the named model; a host
  that lists it in ``[libvirt] cpu_models`` has had it checked by nova at
  start-up.
"""

import dataclasses
from typing import Optional, Tuple

from nova_migtuner.cpu import model as cpu_model

_MAX_LISTED = 8


@dataclasses.dataclass(frozen=True)
class Verdict:
    """Whether a destination passes, and why not (for the debug log)."""
    passes: bool
    reason: str = ''


PASS = Verdict(True)


def _names(features):
    listed = sorted(features)
    text = ', '.join(listed[:_MAX_LISTED])
    if len(listed) > _MAX_LISTED:
        text += ' and %d more' % (len(listed) - _MAX_LISTED)
    return text


def check_destination_cpu(choice, source, destination,
                          destination_cpu_models: Optional[Tuple[str, ...]]
                          = None):
    """Whether *destination* can run the CPU definition of a guest.

    :param choice: the guest's ``mode.GuestCPUChoice`` (resolved with the
        source host's ``[libvirt]`` settings).
    :param source: ``model.HostCPU`` of the source host, or None if unknown.
    :param destination: ``model.HostCPU`` of the candidate, or None if it
        reports none.
    :param destination_cpu_models: the candidate's ``[libvirt] cpu_models``
        when it runs with ``cpu_mode=custom``, None if unknown.
    :returns: a ``Verdict``. Unknown source data passes (nothing to compare
        against; nova's own check on the destination still runs); a
        destination that reports no CPU fails for the modes that need one.
    """
    mode = choice.mode
    if mode in (None, cpu_model.NONE):
        return PASS
    if mode == cpu_model.CUSTOM:
        return _check_custom(choice.model, destination,
                             destination_cpu_models)
    if source is None:
        return PASS
    if destination is None:
        return Verdict(False, '%s guest from a %s host: this host reports '
                              'no CPU model' % (mode, source.describe()))
    if source.arch and destination.arch and source.arch != destination.arch:
        return Verdict(False, 'guest CPU architecture is %s, host is %s'
                       % (source.arch, destination.arch))
    if source.vendor != destination.vendor:
        return Verdict(False, '%s guest needs a %s CPU, host has %s'
                       % (mode, source.vendor, destination.vendor))
    if mode == cpu_model.HOST_PASSTHROUGH:
        return _check_passthrough(source, destination)
    return _check_host_model(source, destination)


def _check_passthrough(source, destination):
    if source.model != destination.model:
        return Verdict(False, 'host-passthrough guest needs CPU model %s, '
                              'host has %s'
                       % (source.model, destination.model))
    missing = source.features - destination.features
    extra = destination.features - source.features
    if missing or extra:
        parts = []
        if missing:
            parts.append('missing %s' % _names(missing))
        if extra:
            parts.append('extra %s' % _names(extra))
        return Verdict(False, 'host-passthrough guest needs CPU model %s '
                              'with identical features; host has %s'
                       % (source.model, '; '.join(parts)))
    return PASS


def _check_host_model(source, destination):
    if (source.expanded_features is not None and
            destination.expanded_features is not None):
        missing = source.expanded_features - destination.expanded_features
        if missing:
            return Verdict(False, 'host-model guest from a %s host needs '
                                  'CPU features this host lacks: %s'
                           % (source.model, _names(missing)))
        return PASS
    # Listed features are relative to the model; without the expanded
    # lists only a host of the same model can be compared safely.
    if source.model != destination.model:
        return Verdict(False, 'host-model guest from a %s host: host has %s '
                              'and reports no expanded feature list to '
                              'compare' % (source.model, destination.model))
    missing = source.features - destination.features
    if missing:
        return Verdict(False, 'host-model guest from a %s host needs CPU '
                              'features this host lacks: %s'
                       % (source.model, _names(missing)))
    return PASS


def _check_custom(model_name, destination, destination_cpu_models):
    if not model_name:
        return PASS
    if destination_cpu_models is None:
        # The host runs no migtuner stats (or another cpu_mode) and cannot
        # confirm; nova's own comparison on the destination still applies.
        return PASS
    if model_name.lower() in (m.lower() for m in destination_cpu_models):
        return PASS
    if destination is not None and destination.model and \
            destination.model.lower() == model_name.lower():
        return PASS
    return Verdict(False, 'custom CPU model %s is not in this host\'s '
                          '[libvirt] cpu_models (%s)'
                   % (model_name, ', '.join(destination_cpu_models) or
                      'none'))
