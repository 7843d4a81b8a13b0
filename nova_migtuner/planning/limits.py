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

"""Admin limits from configuration: ``[migtuner]`` narrowed by ``[libvirt]``.

Nova's own ``[libvirt]`` permissions are only read when nova's options are
registered (inside nova services); the command line passes them explicitly.
"""

from oslo_config import cfg

from nova_migtuner.conf import migtuner as mt_opts
from nova_migtuner.planning import context as ctx_mod
from nova_migtuner import units

# Used with link_bandwidth = measure until a migration has been measured,
# and by whoever cannot measure (the scheduler, the operator CLI).
MEASURE_FALLBACK_BANDWIDTH = '1Gbit/s'


def link_bandwidth(configured, observed=None):
    """Bytes/s of the migration link and whether it was measured.

    :param configured: ``[migtuner] link_bandwidth`` (a rate or 'measure').
    :param observed: bytes/s seen in earlier migrations from this host.
    :returns: ``(bytes_per_second, measured)``.
    """
    if str(configured).strip().lower() == mt_opts.MEASURE:
        if observed:
            return float(observed), True
        return units.parse_rate(MEASURE_FALLBACK_BANDWIDTH), False
    return units.parse_rate(configured, what='link_bandwidth'), False


def _nova_libvirt(conf, name):
    try:
        return getattr(conf.libvirt, name)
    except (cfg.NoSuchOptError, cfg.NoSuchGroupError, AttributeError):
        return None


def admin_limits(conf, nova_permit_post_copy=None,
                 nova_bandwidth_mib_s=None, nova_permit_auto_converge=None):
    """Return ``AdminLimits`` for *conf*.

    :param nova_permit_post_copy: nova's ``live_migration_permit_post_copy``
        when it is not registered on *conf*; ``None`` reads it from *conf*
        and, where nova is not loaded at all, leaves ``[migtuner]`` alone.
    :param nova_permit_auto_converge: the same for nova's
        ``live_migration_permit_auto_converge`` (nova's default: False).
    """
    mt = conf.migtuner
    nova_post = _nova_libvirt(conf, 'live_migration_permit_post_copy')
    if nova_post is None:
        nova_post = nova_permit_post_copy
    permit_post_copy = mt.permit_post_copy and (
        nova_post is None or bool(nova_post))
    # Never more permissive than nova: auto-converge, like post-copy, needs
    # both options.
    nova_ac = _nova_libvirt(conf, 'live_migration_permit_auto_converge')
    if nova_ac is None:
        nova_ac = nova_permit_auto_converge
    permit_auto_converge = mt.permit_auto_converge and (
        nova_ac is None or bool(nova_ac))
    nova_bw = _nova_libvirt(conf, 'live_migration_bandwidth')
    if nova_bw is None:
        nova_bw = nova_bandwidth_mib_s
    caps = [v for v in (mt.max_bandwidth_mib_s, nova_bw) if v]
    return ctx_mod.AdminLimits(
        max_downtime_ms=mt.max_downtime_ms,
        permit_post_copy=permit_post_copy,
        permit_auto_converge=permit_auto_converge,
        permit_pause=mt.permit_pause,
        max_pause_downtime_ms=mt.max_pause_downtime_ms,
        permit_compression=mt.permit_compression,
        max_parallel_connections=mt.max_parallel_connections,
        max_bandwidth_mib_s=min(caps) if caps else 0,
        completion_budget_per_gib_s=mt.completion_budget_per_gib_s,
        stall_window_s=mt.stall_window_s,
        max_deferral_s=mt.max_deferral_s,
        instance_spacing_s=mt.instance_spacing_s,
        host_spacing_s=mt.host_spacing_s,
        busy_host_cpu_load=mt.busy_host_cpu_load)
