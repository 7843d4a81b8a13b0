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

"""Measure a guest's memory dirty rate before migrating it.

libvirt >= 7.2 with QEMU >= 5.2 can measure it without migrating:
``domain.startDirtyRateCalc(seconds)`` starts QEMU's ``calc-dirty-rate``
(page sampling by default: it hashes a sample of pages and counts how many
changed during the period, so it works under TCG too), and the
``VIR_DOMAIN_STATS_DIRTYRATE`` stats group then reports
``dirtyrate.calc_status`` (0 unstarted, 1 measuring, 2 measured) and
``dirtyrate.megabytes_per_second`` (QEMU's "MB" are MiB).

Limits: page sampling counts pages dirtied *at least once* during the
period, so a guest rewriting a small working set reads as at most
``working set / period``; and it measures the guest as it runs now, not
under migration (under TCG, dirty tracking slows the guest: on the test bed
a 100 MiB/s workload dirtied ~23 MiB/s during pre-copy).

Fallback: when libvirt or QEMU cannot measure (old versions, nova's fake
libvirt, an error, a timeout), ``measure_dirty_rate`` returns a
``DirtyRateMeasurement`` whose ``bytes_per_second`` is None and whose
``reason`` says why. The caller then leaves ``MigrationInputs.dirty_rate``
at None (strategies assume a rate and say so), and the migration itself
measures it: QEMU reports ``memory_dirty_rate`` from the second pre-copy
round, which the escalator's stall detection uses.
"""

import dataclasses
import logging
import time
from typing import Optional

from nova_migtuner.planning import dirty_pattern
from nova_migtuner.planning import plan as plan_mod
from nova_migtuner import units

LOG = logging.getLogger(__name__)

DEFAULT_PERIOD_S = 1
# calc-dirty-rate takes the period plus bookkeeping; beyond this, give up.
EXTRA_WAIT_S = 5.0
POLL_S = 0.1
_MEASURING = 1
_MEASURED = 2
METHOD = 'libvirt startDirtyRateCalc (QEMU calc-dirty-rate)'


@dataclasses.dataclass(frozen=True)
class DirtyRateMeasurement:
    """Result of one measurement.

    :ivar bytes_per_second: the dirty rate, or None when not measured.
    :ivar period_s: the measuring period asked for.
    :ivar mode: QEMU's calc mode as reported (e.g. 'page-sampling').
    :ivar reason: why it could not be measured (None when measured).
    """
    bytes_per_second: Optional[float]
    period_s: float
    method: str = METHOD
    mode: Optional[str] = None
    reason: Optional[str] = None

    @property
    def measured(self):
        return self.bytes_per_second is not None

    def describe(self):
        if self.measured:
            return 'dirty rate %s over %g s (%s, %s)' % (
                units.format_rate(self.bytes_per_second), self.period_s,
                self.method, self.mode or 'default mode')
        return 'dirty rate not measured: %s' % self.reason


MODE_PAGE_SAMPLING = 'page-sampling'
MODE_DIRTY_BITMAP = 'dirty-bitmap'
# startDirtyRateCalc flags (libvirt-domain.h, stable values).
_MODE_FLAGS = {MODE_PAGE_SAMPLING: ('VIR_DOMAIN_DIRTYRATE_MODE_PAGE_SAMPLING',
                                    0),
               MODE_DIRTY_BITMAP: ('VIR_DOMAIN_DIRTYRATE_MODE_DIRTY_BITMAP',
                                   1)}


def measure_dirty_rate(domain, period_s=DEFAULT_PERIOD_S,
                       libvirt_module=None, timeout_s=None,
                       _sleep=time.sleep, mode=MODE_PAGE_SAMPLING):
    """Measure *domain*'s dirty rate over *period_s* whole seconds.

    Blocks for about *period_s*. Never raises for a libvirt that cannot
    measure; returns a measurement with ``bytes_per_second=None`` and the
    reason instead.

    :param mode: ``page-sampling`` (QEMU's default: hashes a sample of
        pages, about 512 per GiB, so a guest dirtying a small part of its
        memory reads with a large sampling error) or ``dirty-bitmap``
        (counts every page dirtied in the period with the dirty log that
        migration uses, so the guest runs as it will while migrating).
        QEMU 7.2 under TCG (the test bed) dies on ``dirty-bitmap``: the
        guest's QEMU resets the monitor connection; use it with KVM only.
    """
    if libvirt_module is None:
        import libvirt as libvirt_module
    period = max(1, int(round(period_s)))
    stats_group = getattr(libvirt_module, 'VIR_DOMAIN_STATS_DIRTYRATE', None)
    start = getattr(domain, 'startDirtyRateCalc', None)
    if stats_group is None or start is None:
        return _unmeasured(period, 'this libvirt binding has no dirty rate '
                                   'calculation (needs libvirt >= 7.2)')
    if mode not in _MODE_FLAGS:
        raise ValueError('dirty rate mode %r unknown; allowed: %s'
                         % (mode, ', '.join(sorted(_MODE_FLAGS))))
    name, value = _MODE_FLAGS[mode]
    try:
        start(period, getattr(libvirt_module, name, value))
    except libvirt_module.libvirtError as exc:
        return _unmeasured(period, 'startDirtyRateCalc failed: %s' % exc)
    deadline = time.monotonic() + (timeout_s if timeout_s is not None
                                   else period + EXTRA_WAIT_S)
    _sleep(period)
    # Inside nova-compute the domain is an eventlet tpool.Proxy, which
    # domainListGetStats rejects ("domain list contains non-domain
    # elements"): hand it the virDomain behind the proxy.
    raw_domain = getattr(domain, '_obj', domain)
    last = {}
    while True:
        try:
            result = raw_domain.connect().domainListGetStats(
                [raw_domain], stats_group)
            last = result[0][1] if result else {}
        except libvirt_module.libvirtError as exc:
            return _unmeasured(period, 'dirty rate stats unreadable: %s'
                                       % exc)
        status = last.get('dirtyrate.calc_status')
        if status == _MEASURED and \
                'dirtyrate.megabytes_per_second' in last:
            rate = last['dirtyrate.megabytes_per_second'] * units.MiB
            measurement = DirtyRateMeasurement(
                bytes_per_second=float(rate), period_s=period,
                mode=last.get('dirtyrate.calc_mode'))
            LOG.info('Guest %(name)s: %(what)s',
                     {'name': domain.name(),
                      'what': measurement.describe()})
            return measurement
        if status not in (_MEASURING, _MEASURED) and status is not None \
                and time.monotonic() > deadline - EXTRA_WAIT_S / 2:
            return _unmeasured(period, 'QEMU did not start measuring '
                                       '(calc_status %r)' % status)
        if time.monotonic() >= deadline:
            return _unmeasured(period, 'no result within %.0f s (last '
                                       'stats %r)' % (period + EXTRA_WAIT_S,
                                                      last))
        _sleep(POLL_S)


def _unmeasured(period, reason):
    LOG.info('Dirty rate not measured (%s); the first pre-copy round will '
             'measure it', reason)
    return DirtyRateMeasurement(bytes_per_second=None, period_s=period,
                                reason=reason)


def sample_dirty_rates(domain, window_s, period_s=DEFAULT_PERIOD_S,
                       libvirt_module=None, clock=time.monotonic,
                       _sleep=time.sleep, mode=MODE_PAGE_SAMPLING):
    """Consecutive dirty-rate samples over about *window_s* seconds.

    Returns ``dirty_pattern.DirtySample``s (times on *clock*), oldest
    first; stops early, with what it has, when a measurement fails (the
    reason is logged by ``measure_dirty_rate``). Blocks for the window.
    """
    samples = []
    end = clock() + window_s
    while not samples or clock() < end:
        start = clock()
        result = measure_dirty_rate(domain, period_s,
                                    libvirt_module=libvirt_module,
                                    _sleep=_sleep, mode=mode)
        if not result.measured:
            break
        samples.append(dirty_pattern.DirtySample(
            start, max(clock(), start + 1e-3), result.bytes_per_second))
    return tuple(samples)


def wait_for_quiet_window(domain, samples, replan, max_wait_s, window_s,
                          period_s=DEFAULT_PERIOD_S, libvirt_module=None,
                          clock=time.monotonic, _sleep=time.sleep,
                          mode=MODE_PAGE_SAMPLING):
    """Sample until the plan's timing stops waiting for a quiet window.

    :param samples: the samples the first plan was built from.
    :param replan: ``replan(samples) -> MigrationPlan`` (pure planning).
    :param max_wait_s: the bound on the wait (``max_deferral_s``).
    :param window_s: samples older than this are dropped.
    :returns: ``(plan, samples, waited_s)``: the plan to start with.
    """
    started = clock()
    plan = replan(samples)
    while (plan.timing.action == plan_mod.TIMING_WAIT and
           plan.timing.wait_for == plan_mod.WAIT_FOR_QUIET_WINDOW and
           clock() - started < max_wait_s):
        more = sample_dirty_rates(domain, 0, period_s,
                                  libvirt_module=libvirt_module,
                                  clock=clock, _sleep=_sleep, mode=mode)
        if not more:
            LOG.info('Dirty rate no longer measurable: starting now')
            break
        samples = tuple(x for x in samples + more
                        if x.end_s >= more[-1].end_s - window_s)
        plan = replan(samples)
    return plan, samples, clock() - started
