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

"""Which CPU mode a guest gets: the flavor's wish within what [libvirt] allows.

The driver applies ``resolve_guest_cpu`` when it generates the guest XML and
the scheduler filter calls the same function with the source host's
``[libvirt]`` settings (reported in its stats) to know which CPU definition
a live-migrating guest carries. One function, so the two cannot drift.
"""

import dataclasses
import re
from typing import Optional, Tuple

from nova_migtuner.cpu import model as cpu_model

CPU_MODE_KEY = 'migtuner:cpu_mode'
CPU_MODEL_KEY = 'migtuner:cpu_model'

SOURCE_FLAVOR = 'flavor'
SOURCE_LIBVIRT = 'libvirt'

# libvirt CPU model names: 'Skylake-Server-IBRS', 'EPYC-Rome', 'qemu64',
# 'POWER9', 'cortex-a57', 'max'.
CPU_MODEL_PATTERN = r'[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}'
_CPU_MODEL_RE = re.compile(CPU_MODEL_PATTERN)

_MODEL_SELECTING_VIRT_TYPES = ('kvm', 'qemu')
_AARCH64 = 'aarch64'


class CPUSpecError(ValueError):
    """A ``migtuner:cpu_*`` extra spec has a bad value; says what is allowed.
    """


@dataclasses.dataclass(frozen=True)
class LibvirtCPUConfig:
    """The ``[libvirt]`` settings of one host that bound a guest's CPU."""
    virt_type: str = 'kvm'
    cpu_mode: Optional[str] = None          # None: nova's default
    cpu_models: Tuple[str, ...] = ()
    arch: Optional[str] = None              # host CPU architecture

    def default_mode(self):
        """The mode nova itself picks on this host (driver.py:5980)."""
        if self.virt_type not in _MODEL_SELECTING_VIRT_TYPES:
            return None
        if self.cpu_mode:
            return self.cpu_mode
        # nova: AArch64 has no host-model, so it falls back to passthrough.
        if self.arch == _AARCH64:
            return cpu_model.HOST_PASSTHROUGH
        return cpu_model.HOST_MODEL


@dataclasses.dataclass(frozen=True)
class CPUModeRequest:
    """``migtuner:cpu_mode`` (and ``migtuner:cpu_model``) of a flavor."""
    mode: str
    model: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class GuestCPUChoice:
    """The CPU mode a guest runs with, and why.

    ``source`` is 'flavor' when the flavor's ``migtuner:cpu_mode`` was
    applied, 'libvirt' when the host's ``[libvirt]`` default was used
    (no wish, or a wish ``[libvirt]`` does not allow: ``refused`` says why).
    ``mode`` None means nova sets no CPU model at all (e.g. virt_type lxc).
    """
    mode: Optional[str]
    model: Optional[str]
    source: str
    refused: Optional[str] = None


def validate_cpu_mode(value, key=CPU_MODE_KEY):
    text = str(value).strip()
    if text not in cpu_model.FLAVOR_CPU_MODES:
        raise CPUSpecError('%s=%r is not a CPU mode; allowed: %s'
                           % (key, value,
                              ', '.join(cpu_model.FLAVOR_CPU_MODES)))
    return text


def validate_cpu_model(value, key=CPU_MODEL_KEY):
    text = str(value).strip()
    if not _CPU_MODEL_RE.fullmatch(text):
        raise CPUSpecError(
            '%s=%r is not a CPU model name; allowed: a libvirt CPU model '
            'such as Skylake-Server-IBRS or EPYC-Rome, listed in the '
            'compute hosts\' [libvirt] cpu_models (letters, digits, '
            '"_", ".", "+", "-"; at most 64 characters)' % (key, value))
    return text


def requested_cpu_mode(extra_specs):
    """Read ``migtuner:cpu_mode``/``migtuner:cpu_model`` of a flavor.

    :returns: a ``CPUModeRequest``, or None when the flavor has no wish.
    :raises CPUSpecError: a bad value, or a combination that cannot work
        (``custom`` without a model, a model without ``custom``).
    """
    specs = extra_specs or {}
    raw_mode = specs.get(CPU_MODE_KEY)
    raw_model = specs.get(CPU_MODEL_KEY)
    if raw_mode is None:
        if raw_model is not None:
            raise CPUSpecError('%s=%r needs %s=custom'
                               % (CPU_MODEL_KEY, raw_model, CPU_MODE_KEY))
        return None
    mode = validate_cpu_mode(raw_mode)
    if mode == cpu_model.CUSTOM:
        if raw_model is None:
            raise CPUSpecError('%s=custom needs %s naming one of the hosts\' '
                               '[libvirt] cpu_models'
                               % (CPU_MODE_KEY, CPU_MODEL_KEY))
        return CPUModeRequest(mode, validate_cpu_model(raw_model))
    if raw_model is not None:
        raise CPUSpecError('%s=%r is only used with %s=custom, not %s'
                           % (CPU_MODEL_KEY, raw_model, CPU_MODE_KEY, mode))
    return CPUModeRequest(mode)


def refusal(request, libvirt_cfg):
    """Why ``[libvirt]`` on this host does not allow *request*, or None."""
    if libvirt_cfg.virt_type not in _MODEL_SELECTING_VIRT_TYPES:
        return ('[libvirt] virt_type=%s cannot select a CPU model'
                % libvirt_cfg.virt_type)
    if libvirt_cfg.cpu_mode == cpu_model.NONE:
        return ('[libvirt] cpu_mode=none: the operator lets the hypervisor '
                'choose the CPU for every guest')
    if request.mode == cpu_model.HOST_PASSTHROUGH:
        if libvirt_cfg.virt_type != 'kvm':
            return ('host-passthrough needs [libvirt] virt_type=kvm, not %s'
                    % libvirt_cfg.virt_type)
    elif request.mode == cpu_model.HOST_MODEL:
        if libvirt_cfg.arch == _AARCH64:
            return 'host-model is not supported on aarch64 hosts'
    elif request.mode == cpu_model.CUSTOM:
        # nova checks [libvirt] cpu_models against the host CPU at start-up
        # (driver.py _check_cpu_compatibility) and only with cpu_mode=custom;
        # any other model is unverified on this host.
        if libvirt_cfg.cpu_mode != cpu_model.CUSTOM:
            return ('custom CPU models need [libvirt] cpu_mode=custom '
                    '(this host has %s)'
                    % (libvirt_cfg.cpu_mode or 'the default'))
        if _find_model(request.model, libvirt_cfg.cpu_models) is None:
            return ('CPU model %s is not in [libvirt] cpu_models (%s)'
                    % (request.model,
                       ', '.join(libvirt_cfg.cpu_models) or 'empty'))
    return None


def _find_model(name, models):
    for candidate in models:
        if candidate.lower() == name.lower():
            return candidate
    return None


def resolve_guest_cpu(extra_specs, libvirt_cfg):
    """The CPU mode and model a guest of this flavor runs with on a host.

    A bad ``migtuner:cpu_*`` value (the API validators stop those, but
    flavors created before they were installed, or with a microversion
    older than 2.86, may carry one) counts as a refused wish: the guest gets
    the host default and ``refused`` says why.
    """
    default_mode = libvirt_cfg.default_mode()
    default_model = (libvirt_cfg.cpu_models[0]
                     if default_mode == cpu_model.CUSTOM and
                     libvirt_cfg.cpu_models else None)
    fallback = GuestCPUChoice(default_mode, default_model, SOURCE_LIBVIRT)
    try:
        request = requested_cpu_mode(extra_specs)
    except CPUSpecError as e:
        return dataclasses.replace(fallback, refused=str(e))
    if request is None:
        return fallback
    why_not = refusal(request, libvirt_cfg)
    if why_not:
        return dataclasses.replace(fallback, refused=why_not)
    model = (_find_model(request.model, libvirt_cfg.cpu_models)
             if request.mode == cpu_model.CUSTOM else None)
    return GuestCPUChoice(request.mode, model, SOURCE_FLAVOR)
