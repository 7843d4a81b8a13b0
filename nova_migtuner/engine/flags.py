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

"""Plan -> libvirt migration flags and typed parameters.

A plan names its tuning flags by libvirt constant name (``plan.TUNING_FLAGS``)
so it stays plain data. Here the names become numbers, looked up with
``getattr`` on whichever libvirt module the caller uses: the real
``libvirt`` binding, or nova's ``nova.tests.fixtures.libvirt`` fake (which
lacks some constants, e.g. ``VIR_MIGRATE_COMPRESSED`` and
``VIR_MIGRATE_PARAM_BANDWIDTH``).

Flags the plan does not own (PEER2PEER, UNDEFINE_SOURCE, PERSIST_DEST,
NON_SHARED_*, TLS, TUNNELLED, ...) come from the caller's ``base_flags``
(nova's host-wide flags, or the test bed's) and are kept as they are.
"""

import logging

from nova_migtuner.planning import plan as plan_mod
from nova_migtuner import units

LOG = logging.getLogger(__name__)

# Typed-parameter names are part of libvirt's stable API (strings in
# libvirt-domain.h). They are used when the module in hand does not define
# the constant, as nova's fake libvirt does not for most of them.
PARAM_BANDWIDTH = ('VIR_MIGRATE_PARAM_BANDWIDTH', 'bandwidth')
PARAM_BANDWIDTH_POSTCOPY = ('VIR_MIGRATE_PARAM_BANDWIDTH_POSTCOPY',
                            'bandwidth.postcopy')
PARAM_PARALLEL_CONNECTIONS = ('VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS',
                              'parallel.connections')
PARAM_COMPRESSION = ('VIR_MIGRATE_PARAM_COMPRESSION', 'compression')
PARAM_AUTO_CONVERGE_INITIAL = ('VIR_MIGRATE_PARAM_AUTO_CONVERGE_INITIAL',
                               'auto_converge.initial')
PARAM_AUTO_CONVERGE_INCREMENT = (
    'VIR_MIGRATE_PARAM_AUTO_CONVERGE_INCREMENT', 'auto_converge.increment')


class UnsupportedFlagError(ValueError):
    """The plan needs a flag that the libvirt module does not define."""


def _param_name(libvirt_module, param):
    constant, literal = param
    return getattr(libvirt_module, constant, literal)


def flag_value(name, libvirt_module):
    """Return the integer of flag *name*, or raise UnsupportedFlagError."""
    value = getattr(libvirt_module, name, None)
    if value is None:
        raise UnsupportedFlagError(
            'libvirt module %s has no %s; this libvirt cannot do what the '
            'plan asks' % (getattr(libvirt_module, '__name__', libvirt_module),
                           name))
    return int(value)


def libvirt_flags(plan, base_flags, libvirt_module):
    """Return *base_flags* with the plan's tuning flags in place of its own.

    Every flag of ``plan.TUNING_FLAGS`` (LIVE, AUTO_CONVERGE, POSTCOPY,
    COMPRESSED, PARALLEL) is cleared from *base_flags*, then the ones in
    ``plan.flags`` are set; every other bit of *base_flags* is kept. Tuning
    flags the module does not define cannot be in *base_flags* and are
    skipped when clearing; a plan flag the module does not define raises
    ``UnsupportedFlagError`` (a plan must not be silently weakened).

    :param plan: a ``nova_migtuner.planning.plan.MigrationPlan``.
    :param base_flags: int, e.g. nova's ``self._live_migration_flags`` or
        ``VIR_MIGRATE_PEER2PEER`` on the test bed. Not modified.
    :param libvirt_module: the ``libvirt`` module (real or fake).
    """
    flags = int(base_flags)
    for name in plan_mod.TUNING_FLAGS:
        value = getattr(libvirt_module, name, None)
        if value is not None:
            flags &= ~int(value)
    for name in plan.flags:
        if name not in plan_mod.TUNING_FLAGS:
            raise UnsupportedFlagError(
                'plan flag %s is not a tuning flag (%s); the caller owns '
                'it' % (name, ', '.join(plan_mod.TUNING_FLAGS)))
        flags |= flag_value(name, libvirt_module)
    return flags


def flag_names(flags, libvirt_module, names=None):
    """Names of the ``VIR_MIGRATE_*`` bits set in *flags*, for reports."""
    if names is None:
        names = sorted(n for n in dir(libvirt_module)
                       if n.startswith('VIR_MIGRATE_') and
                       not n.startswith('VIR_MIGRATE_PARAM_') and
                       isinstance(getattr(libvirt_module, n), int))
    return tuple(n for n in names
                 if getattr(libvirt_module, n, 0) and
                 flags & int(getattr(libvirt_module, n)) ==
                 int(getattr(libvirt_module, n)))


def migration_params(plan, base_params, libvirt_module):
    """Return a new params dict for ``migrateToURI3``: *base_params* + plan.

    Adds, when the plan asks for it:

    * ``VIR_MIGRATE_PARAM_BANDWIDTH`` (MiB/s) when ``plan.bandwidth_mib_s``
      is non-zero. 0 means the plan sets no cap: a cap already in
      *base_params* (nova's ``live_migration_bandwidth``) is then kept,
      because the engine never lifts a limit somebody else set;
    * ``VIR_MIGRATE_PARAM_BANDWIDTH_POSTCOPY`` with the same cap when the
      plan may post-copy (libvirt >= 5.1): otherwise the post-copy phase
      ignores the cap;
    * ``VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS`` when
      ``plan.parallel_connections > 1`` (QEMU multifd; goes with the
      ``VIR_MIGRATE_PARALLEL`` flag the plan then carries);
    * ``VIR_MIGRATE_PARAM_COMPRESSION`` (e.g. ``'xbzrle'``) when
      ``plan.compression`` is set (goes with ``VIR_MIGRATE_COMPRESSED``).

    * ``VIR_MIGRATE_PARAM_AUTO_CONVERGE_INITIAL`` and ``_INCREMENT``
      (percent; libvirt >= 4.0) when the plan sets auto-converge and chose
      its throttle steps (``plan.auto_converge_initial_pct`` and
      ``_increment_pct``, which the model predicted with); a plan without
      them leaves QEMU's defaults (20 %/10 %).

    Everything else in *base_params* (``VIR_MIGRATE_PARAM_URI``,
    ``DEST_XML``, ``MIGRATE_DISKS``, ...) is kept; *base_params* itself is
    not modified.
    """
    params = dict(base_params or {})
    bandwidth = _param_name(libvirt_module, PARAM_BANDWIDTH)
    if plan.bandwidth_mib_s:
        params[bandwidth] = int(plan.bandwidth_mib_s)
        if plan_mod.POSTCOPY in plan.flags:
            # BANDWIDTH caps pre-copy only; QEMU's post-copy phase is
            # unlimited unless capped separately (measured on the test bed:
            # ~125 MiB in 0.5 s after the switch under a 32 MiB/s cap).
            params[_param_name(libvirt_module,
                               PARAM_BANDWIDTH_POSTCOPY)] = int(
                plan.bandwidth_mib_s)
    parallel = _param_name(libvirt_module, PARAM_PARALLEL_CONNECTIONS)
    if plan.parallel_connections > 1:
        params[parallel] = int(plan.parallel_connections)
    else:
        params.pop(parallel, None)
    compression = _param_name(libvirt_module, PARAM_COMPRESSION)
    if plan.compression:
        params[compression] = plan.compression
    else:
        params.pop(compression, None)
    for param, value in ((PARAM_AUTO_CONVERGE_INITIAL,
                          plan.auto_converge_initial_pct),
                         (PARAM_AUTO_CONVERGE_INCREMENT,
                          plan.auto_converge_increment_pct)):
        name = _param_name(libvirt_module, param)
        if value is not None and plan_mod.AUTO_CONVERGE in plan.flags:
            params[name] = int(value)
        else:
            params.pop(name, None)
    LOG.debug('Migration params for strategy %(strategy)s: bandwidth '
              '%(bw)s, %(conn)d connection(s), compression %(comp)s',
              {'strategy': plan.strategy,
               'bw': (units.format_rate(plan.bandwidth_mib_s * units.MiB)
                      if plan.bandwidth_mib_s else 'not limited'),
               'conn': plan.parallel_connections,
               'comp': plan.compression or 'none'})
    return params
