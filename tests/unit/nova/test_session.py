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

"""The monitor hooks of one migration with a fake domain (no services)."""

import pytest

from nova_migtuner.nova import notifications
from nova_migtuner.nova import session as session_mod
from nova_migtuner.planning import notification_schema
from nova_migtuner.planning import plan as P
from tests.engine.plans import make_plan
from tests.unit.nova import fakes

MiB = 1024 ** 2
PAUSE_AT_1S = make_plan(max_pause_ms=1000, deadline_s=600, escalation=(
    P.EscalationStep(P.TRIGGER_ELAPSED, 1, P.ACTION_PAUSE),))


@pytest.fixture
def emitted(monkeypatch):
    recorder = fakes.Emitted()
    monkeypatch.setattr(notifications, 'emit', recorder)
    return recorder


def run_until_paused(s, domain, clock):
    for step in range(6):
        clock.now = step * 0.5
        s.observe(domain, fakes.job(processed=step * MiB))
        if domain.run_state == fakes.PAUSED:
            return


def paused_then_degraded(clock):
    s = fakes.make_session(clock=clock)
    s.arm(PAUSE_AT_1S)
    domain = fakes.Domain()
    s.tune_call(0, {})
    run_until_paused(s, domain, clock)
    assert domain.run_state == fakes.PAUSED
    s.degrade('monitor', ZeroDivisionError('escalator bug'))
    assert not s.tuned
    return s, domain


def test_degraded_session_still_resumes_the_guest_it_paused(emitted):
    clock = fakes.Clock()
    s, domain = paused_then_degraded(clock)
    clock.now = 4.0
    s.observe(domain, fakes.failed_job())
    assert domain.run_state == fakes.RUNNING
    assert domain.calls[-1] == 'resume'


def test_degraded_session_keeps_the_pause_watchdog(emitted):
    clock = fakes.Clock()
    s, domain = paused_then_degraded(clock)
    for t in (4.0, 10.0, 20.0, 40.0):
        clock.now = t
        s.observe(domain, fakes.job(processed=20 * MiB))
    assert 'abortJob' in domain.calls


def test_pause_that_raises_a_non_libvirt_error_is_still_resumed(emitted):
    clock = fakes.Clock()
    s = fakes.make_session(clock=clock)
    s.arm(PAUSE_AT_1S)

    class BrokenDomain(fakes.Domain):
        def suspend(self):
            self.run_state = fakes.PAUSED
            raise TypeError('binding bug after pausing')

    domain = BrokenDomain()
    s.tune_call(0, {})
    run_until_paused(s, domain, clock)
    assert not s.tuned
    clock.now = 4.0
    s.observe(domain, fakes.failed_job())
    assert domain.run_state == fakes.RUNNING


def test_refused_post_copy_switch_is_not_counted_as_started(
        emitted, monkeypatch):
    # nova's trigger_postcopy_switch swallows libvirt's refusal; the
    # Migration record's status is what says whether it took.
    from nova.virt.libvirt import migration as nova_migration
    monkeypatch.setattr(nova_migration, 'libvirt', fakes.libvirt)
    plan = make_plan(flags=(P.LIVE, P.POSTCOPY), deadline_s=5,
                     deadline_action=P.ACTION_ABORT, escalation=(
                         P.EscalationStep(P.TRIGGER_ELAPSED, 1,
                                          P.ACTION_POST_COPY),))
    clock = fakes.Clock()
    s = fakes.make_session(clock=clock)
    s.arm(plan)
    domain = fakes.Domain(refuse={'migrateStartPostCopy': True})
    s.tune_call(0, {})
    for step in range(16):
        clock.now = step * 0.5
        s.observe(domain, fakes.job(processed=step * MiB))
    assert s.tuned, s.fallback_reason
    assert 'migrateStartPostCopy' in domain.calls
    assert not s.post_copy
    assert s.migration.status == 'running'
    kinds = [(done.action.kind, done.applied) for done in s.applied]
    assert (P.ACTION_POST_COPY, False) in kinds
    # The deadline still fires: the refused switch finished nothing.
    assert kinds[-1] == (P.ACTION_ABORT, True)
    assert domain.calls[-1] == 'abortJob'
    escalated = [notification_schema.flat_payload(e, p)
                 for e, p in emitted.sent if e == 'escalated']
    assert [p['applied'] for p in escalated
            if p['action'] == 'post_copy'] == [False]


class LinkCutInPostCopy(fakes.Domain):
    """The migration call fails in post-copy (paused, post-copy failed).

    A post-copy resume fails *link_down_for* times, then completes. With
    *refusal* the resume fails with that libvirt error code.
    """

    RESUME = 1 << 19

    def __init__(self, link_down_for, refusal=None):
        super().__init__()
        self.link_down_for = link_down_for
        self.failed = False
        self.resumes = 0
        self.refusal = refusal

    def state(self, flags=0):
        return [3, 13] if self.failed else [self.run_state, 1]

    def migrateToURI3(self, uri, params=None, flags=0):
        if flags & self.RESUME:
            self.resumes += 1
            if self.refusal is not None:
                raise fakes.libvirt_error(
                    "domain 'g' is not processing incoming migration",
                    code=self.refusal)
            if self.link_down_for:
                self.link_down_for -= 1
                raise fakes.libvirt_error('Connection refused')
            self.failed = False
            return 0
        self.failed = True
        raise fakes.libvirt_error('post-copy failed')


def in_post_copy(monkeypatch, domain):
    from nova.virt.libvirt import migration as nova_migration
    from nova_migtuner.engine import applier as applier_mod
    monkeypatch.setattr(nova_migration, 'libvirt', fakes.libvirt)
    monkeypatch.setattr(fakes.libvirt, 'VIR_MIGRATE_POSTCOPY_RESUME',
                        LinkCutInPostCopy.RESUME, raising=False)
    monkeypatch.setattr(applier_mod, 'POST_COPY_RECOVERY_INTERVAL_S', 0.01)
    plan = make_plan(flags=(P.LIVE, P.POSTCOPY), deadline_s=600,
                     escalation=(P.EscalationStep(P.TRIGGER_ELAPSED, 1,
                                                  P.ACTION_POST_COPY),))
    clock = fakes.Clock()
    s = fakes.make_session(clock=clock)
    s.arm(plan)
    s.tune_call(0, {})
    for step in range(4):
        clock.now = step * 0.5
        s.observe(domain, fakes.job(processed=step * MiB))
    assert s.post_copy, s.applied
    return s


def end_of(s, emitted):
    """The ``.end`` the flow sends for *s*, checked against its schema."""
    from nova_migtuner.nova import flow

    class Ops:
        report_untuned = True

        def note_end(self, s, payload):
            pass

    flow.notify_end(s, Ops(), 'failed', None)
    end = emitted.last(notification_schema.END)
    assert notification_schema.validate(notification_schema.END, end) == []
    return end


def test_failed_post_copy_is_resumed_inside_nova_s_migration_call(
        emitted, monkeypatch):
    domain = LinkCutInPostCopy(link_down_for=2)
    s = in_post_copy(monkeypatch, domain)
    hooked = session_mod.TunedDomain(domain, s)
    # nova's monitor does not see the failed job: it would roll back.
    domain.failed = True
    domain.jobStats = lambda flags=0: fakes.failed_job()
    assert hooked.jobStats()['type'] == 2
    domain.failed = False
    # The call fails in post-copy; the hook resumes it, nova sees success.
    assert hooked.migrateToURI3('qemu+tcp://dest/system', {}, 0) == 0
    assert domain.resumes == 3
    assert s.applier.post_copy_recovery == 'recovered'
    end = end_of(s, emitted)
    assert (end['post_copy_recovery'],
            end['post_copy_recovery_attempts']) == ('recovered', 3)


def test_failed_post_copy_not_resumed_in_time_raises_to_nova(
        emitted, monkeypatch):
    from nova_migtuner.engine import applier as applier_mod
    domain = LinkCutInPostCopy(link_down_for=10 ** 6)
    s = in_post_copy(monkeypatch, domain)
    monkeypatch.setattr(applier_mod, 'POST_COPY_RECOVERY_S', 0.1)
    with pytest.raises(fakes.libvirt.libvirtError, match='post-copy failed'):
        session_mod.TunedDomain(domain, s).migrateToURI3(
            'qemu+tcp://dest/system', {}, 0)
    assert s.applier.post_copy_recovery == 'split'
    end = end_of(s, emitted)
    assert end['post_copy_recovery'] == 'split'
    assert end['post_copy_recovery_attempts'] >= 1
    assert domain.state()[:2] == [3, 13]
    assert 'resume' not in domain.calls
    # Given up: nova's monitor must neither roll back (that destroys the
    # destination's domain, which holds the guest's running state) nor
    # poll the job libvirt keeps open for a resume for ever (measured on
    # libvirt 9.0: an unbounded job). It gets an error: nova then sets the
    # migration to error and the instance to ERROR, and cleans up nothing.
    hooked = session_mod.TunedDomain(domain, s)
    for job in (fakes.failed_job(), fakes.job(processed=4 * MiB),
                {'type': 0}):
        domain.jobStats = lambda flags=0, job=job: job
        with pytest.raises(session_mod.PostCopyNotRecovered,
                           match='paused on src .* QEMU on dest'):
            hooked.jobStats()
    # A job that completed after all is nova's to finish.
    domain.jobStats = lambda flags=0: {'type': 3}
    assert hooked.jobStats()['type'] == 3


def test_resume_towards_a_destination_without_its_qemu_gives_up_early(
        emitted, monkeypatch):
    from nova_migtuner.engine import applier as applier_mod
    # What libvirt 9.0 answers once the destination's QEMU was killed in
    # post-copy: the destination has the domain, but nothing to resume.
    domain = LinkCutInPostCopy(
        link_down_for=0, refusal=fakes.libvirt.VIR_ERR_OPERATION_INVALID)
    s = in_post_copy(monkeypatch, domain)
    with pytest.raises(fakes.libvirt.libvirtError, match='post-copy failed'):
        session_mod.TunedDomain(domain, s).migrateToURI3(
            'qemu+tcp://dest/system', {}, 0)
    # Not the 120 s bound's worth of attempts.
    assert domain.resumes == applier_mod.DESTINATION_GONE_REFUSALS
    assert s.applier.post_copy_recovery == 'split'
    assert s.applier.destination_gone
    assert end_of(s, emitted)['post_copy_recovery'] == 'split'
    domain.jobStats = lambda flags=0: fakes.failed_job()
    with pytest.raises(session_mod.PostCopyNotRecovered,
                       match='dest has no QEMU left .* paused on src'):
        session_mod.TunedDomain(domain, s).jobStats()


class FinishedByQemu(LinkCutInPostCopy):
    """The destination's libvirtd died after the switch: the source's
    libvirt fails the job, QEMU finishes it, and libvirt undefines the
    source's domain; resumes then find no domain.
    """

    def __init__(self):
        super().__init__(link_down_for=10 ** 6)
        self.gone = False

    def state(self, flags=0):
        if self.gone:
            raise fakes.libvirt_error('Domain not found',
                                      code=fakes.libvirt.VIR_ERR_NO_DOMAIN)
        return super().state(flags)

    def migrateToURI3(self, uri, params=None, flags=0):
        if flags & self.RESUME:
            self.resumes += 1
            self.gone = self.resumes >= 2
            raise fakes.libvirt_error('Domain not found',
                                      code=fakes.libvirt.VIR_ERR_NO_DOMAIN)
        return super().migrateToURI3(uri, params, flags)


def test_post_copy_that_qemu_finished_is_handed_to_nova_at_once(
        emitted, monkeypatch):
    domain = FinishedByQemu()
    s = in_post_copy(monkeypatch, domain)
    # nova sees the call succeed, after two resumes, not 120 s of them.
    assert session_mod.TunedDomain(domain, s).migrateToURI3(
        'qemu+tcp://dest/system', {}, 0) == 0
    assert domain.resumes == 2
    assert s.applier.completed_without_resume
    end = end_of(s, emitted)
    assert (end['post_copy_recovery'],
            end['post_copy_recovery_attempts']) == ('recovered', 2)


def test_post_copy_no_longer_failed_at_the_resume_leaves_nova_s_monitor_be(
        monkeypatch):
    domain = LinkCutInPostCopy(link_down_for=0)
    s = in_post_copy(monkeypatch, domain)
    domain.failed = True
    # Between the hook's check and the applier's, the job went on.
    monkeypatch.setattr(s.applier, 'recover_post_copy',
                        lambda *args, **kwargs: None)
    assert s.recover_post_copy('qemu+tcp://dest/system', {}, 0) is False
    domain.failed = False
    running = fakes.job(processed=8 * MiB)
    domain.jobStats = lambda flags=0: running
    assert session_mod.TunedDomain(domain, s).jobStats() == running


def test_the_longest_gap_between_monitor_polls_reaches_the_end(emitted):
    clock = fakes.Clock()
    s = fakes.make_session(clock=clock)
    s.arm(PAUSE_AT_1S)
    domain = fakes.Domain()
    s.tune_call(0, {})
    assert end_of(s, emitted)['monitor_poll_gap_max_ms'] is None
    # nova's 0.5 s polls, then a monitor blocked for 7.25 s, then polls.
    for t in (0.0, 0.5, 1.0, 8.25, 8.75):
        clock.now = t
        s.observe(domain, fakes.job(processed=int(t * 4) * MiB))
    assert s.longest_poll_gap_s == pytest.approx(7.25)
    assert end_of(s, emitted)['monitor_poll_gap_max_ms'] == 7250
