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

"""The three ways the bench migrates a guest, each as a ``MigrationPlan``.

All three are executed by the same engine (``engine.runner``), so they
are measured the same way; the nova methods reproduce what nova 34's own
monitor (``virt/libvirt/driver.py`` ``_live_migration_monitor``) does with
its ``[libvirt]`` options: the flags come from nova's own
``LibvirtDriver._parse_migration_flags``, the max downtime schedule from
nova's ``migration.downtime_steps`` (applied as elapsed-time steps, as
``migration.update_downtime`` does), and the completion timeout action
(``abort``, or ``force_complete``: post-copy when the flag is set, else
pause) at ``live_migration_completion_timeout x data_gb``.

Two deliberate differences, reported in every plan's reasons:

* nova floors ``data_gb`` at 2 GiB; the bench uses the guest's real size
  (0.25 GiB), which shortens nova's timeline 8x in nova's favour (downtime
  steps every 18 s instead of 150 s, timeout 200 s instead of 1600 s);
* every method's deadline is capped at the bench's run cap (90 s, 30 s
  with --quick): at the cap each method takes its own deadline action
  (stock nova: abort; nova's best static config: force_complete; the
  migtuner plan: its deadline action).

``VIR_MIGRATE_UNDEFINE_SOURCE`` (in nova's flags) is dropped for every
method so the source keeps the completed stats after post-copy.
"""

import dataclasses
import logging

from nova_migtuner.planning import context as ctx_mod
from nova_migtuner.planning import inputs
from nova_migtuner.planning import model
from nova_migtuner.planning import plan as P
from nova_migtuner.planning import planner
from nova_migtuner import units

LOG = logging.getLogger(__name__)

STOCK = 'stock-nova'
NOVA_BEST = 'nova-best-static'
MIGTUNER = 'migtuner'
METHODS = (STOCK, NOVA_BEST, MIGTUNER)

MIGTUNER_STRATEGY = 'balanced'
MIGTUNER_STALL_WINDOW_S = 4
# nova pauses without bounding the pause; the escalator needs a bound.
UNBOUNDED_PAUSE_MS = 10 ** 9

_nova_conf = None


def _nova():
    """nova's CONF (parsed once, no config files) and the modules used."""
    global _nova_conf
    import nova.conf
    from nova.virt.libvirt import driver
    from nova.virt.libvirt import migration
    if _nova_conf is None:
        _nova_conf = nova.conf.CONF
        _nova_conf([], project='nova', default_config_files=[])
    return _nova_conf, driver, migration


def nova_flags(libvirt, permit_post_copy=False, permit_auto_converge=False):
    """The live-migration flags nova 34 computes from these options."""
    conf, driver, _ = _nova()
    conf.set_override('live_migration_permit_post_copy', permit_post_copy,
                      group='libvirt')
    conf.set_override('live_migration_permit_auto_converge',
                      permit_auto_converge, group='libvirt')
    try:
        # _parse_migration_flags only reads CONF and the flag bits.
        drv = object.__new__(driver.LibvirtDriver)
        drv._parse_migration_flags()
        return drv._live_migration_flags
    finally:
        conf.clear_override('live_migration_permit_post_copy',
                            group='libvirt')
        conf.clear_override('live_migration_permit_auto_converge',
                            group='libvirt')


def split_flags(flags, libvirt):
    """(plan tuning flag names, base flags without UNDEFINE_SOURCE)."""
    tuning = tuple(n for n in P.TUNING_FLAGS
                   if flags & getattr(libvirt, n, 0))
    base = flags
    for name in P.TUNING_FLAGS:
        base &= ~getattr(libvirt, name, 0)
    base &= ~libvirt.VIR_MIGRATE_UNDEFINE_SOURCE
    return tuning, base


def nova_plan(method, libvirt, memory_bytes, run_cap_s, dirty_rate,
              touched, link_mib_s):
    """Return ``(plan, base_flags)`` for STOCK or NOVA_BEST."""
    conf, _, migration = _nova()
    best = method == NOVA_BEST
    flags = nova_flags(libvirt, permit_post_copy=best,
                       permit_auto_converge=best)
    tuning, base = split_flags(flags, libvirt)
    data_gb = memory_bytes / float(units.GiB)
    steps = list(migration.downtime_steps(data_gb))
    timeout = conf.libvirt.live_migration_completion_timeout * data_gb
    action = 'force_complete' if best else conf.libvirt.\
        live_migration_timeout_action
    if action == 'force_complete':
        deadline_action = (P.ACTION_POST_COPY if P.POSTCOPY in tuning
                           else P.ACTION_PAUSE)
    else:
        deadline_action = P.ACTION_ABORT
    escalation = tuple(
        P.EscalationStep(P.TRIGGER_ELAPSED, t, P.ACTION_RAISE_DOWNTIME,
                         downtime_ms=d, reason='nova downtime step')
        for t, d in steps[1:] if t < run_cap_s)
    bandwidth = link_mib_s * units.MiB
    prediction = model.predict_precopy(
        memory_bytes, dirty_rate or 0.0, bandwidth, steps[0][1] / 1000.0,
        touched=touched, auto_converge=P.AUTO_CONVERGE in tuning,
        time_limit=min(timeout, run_cap_s))
    reasons = (
        'nova 34 flags from [libvirt] permit_post_copy=%s '
        'permit_auto_converge=%s: %s' % (best, best, ', '.join(tuning)),
        'nova downtime_steps(data_gb=%.2f) (nova floors data_gb at 2): %s'
        % (data_gb, steps),
        'completion timeout %d s/GiB x %.2f GiB = %.0f s, then %s; capped '
        'at the bench run cap %.0f s' % (
            conf.libvirt.live_migration_completion_timeout, data_gb,
            timeout, action, run_cap_s),
        'bandwidth capped at %d MiB/s by the bench (nova: '
        'live_migration_bandwidth)' % link_mib_s,
    )
    plan = P.MigrationPlan(
        strategy=method, flags=tuning, initial_downtime_ms=steps[0][1],
        max_downtime_ms=steps[-1][1], bandwidth_mib_s=link_mib_s,
        parallel_connections=1, compression=None, escalation=escalation,
        completion_deadline_s=min(timeout, run_cap_s),
        deadline_action=deadline_action, max_pause_ms=UNBOUNDED_PAUSE_MS,
        timing=P.TimingDecision(), prediction=prediction, reasons=reasons)
    return plan, base


def migtuner_inputs(memory_bytes, link_mib_s, dirty_rate, touched,
                    permit_post_copy=True, dirty_rate_samples=(),
                    max_deferral_s=0, guest_cpu_load=None,
                    working_set=None):
    """The planner's inputs: dirty rate, touched memory and the guest's CPU
    load measured on the guest, the link the bench's own cap and the
    workload's buffer as its working set (given, not measured).
    """
    return inputs.build_inputs(
        memory_bytes=memory_bytes,
        link_bandwidth=inputs.given(link_mib_s * units.MiB),
        dirty_rate=inputs.measured(dirty_rate),
        touched=inputs.measured(touched),
        guest_cpu_load=inputs.measured(guest_cpu_load),
        working_set=inputs.given(working_set),
        dirty_rate_samples=dirty_rate_samples,
        limits=ctx_mod.AdminLimits(
            permit_post_copy=permit_post_copy, permit_auto_converge=True,
            max_bandwidth_mib_s=link_mib_s,
            stall_window_s=MIGTUNER_STALL_WINDOW_S,
            max_deferral_s=max_deferral_s))


def migtuner_plan(libvirt, memory_bytes, run_cap_s, dirty_rate, touched,
                  link_mib_s, **planning):
    """Return ``(plan, base_flags)`` built by ``planner.build_plan``.

    *planning* passes ``migtuner_inputs``' keyword arguments.
    """
    plan = planner.build_plan(
        migtuner_inputs(memory_bytes, link_mib_s, dirty_rate, touched,
                        **planning),
        MIGTUNER_STRATEGY)
    if plan.completion_deadline_s > run_cap_s:
        plan = dataclasses.replace(
            plan, completion_deadline_s=float(run_cap_s),
            reasons=plan.reasons + (
                'deadline %.0f s capped at the bench run cap %.0f s'
                % (plan.completion_deadline_s, run_cap_s),))
    base = libvirt.VIR_MIGRATE_PEER2PEER | libvirt.VIR_MIGRATE_PERSIST_DEST
    return plan, base


def build(method, libvirt, memory_bytes, run_cap_s, dirty_rate, touched,
          link_mib_s, **planning):
    """``(plan, base_flags)`` of *method*; *planning* goes to the migtuner
    planner's inputs (``migtuner_inputs``) only.
    """
    if method == MIGTUNER:
        return migtuner_plan(libvirt, memory_bytes, run_cap_s, dirty_rate,
                             touched, link_mib_s, **planning)
    return nova_plan(method, libvirt, memory_bytes, run_cap_s, dirty_rate,
                     touched, link_mib_s)
