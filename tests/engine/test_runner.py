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

"""The poll loop against a scripted domain: refused actions, stuck calls."""

import threading
import types

from nova_migtuner.engine import report
from nova_migtuner.engine import runner
from nova_migtuner.planning import plan as P
from tests.engine.plans import make_plan

MiB = 1024 ** 2


class LibvirtError(Exception):
    pass


LIBVIRT = types.SimpleNamespace(
    __name__='scripted-libvirt', libvirtError=LibvirtError,
    VIR_MIGRATE_LIVE=1, VIR_MIGRATE_PEER2PEER=2,
    VIR_MIGRATE_PERSIST_DEST=8, VIR_MIGRATE_UNDEFINE_SOURCE=16,
    VIR_MIGRATE_POSTCOPY=32768, VIR_MIGRATE_AUTO_CONVERGE=8192,
    VIR_MIGRATE_PARAM_URI='migrate_uri',
    VIR_DOMAIN_JOB_STATS_COMPLETED=1)


class ScriptedDomain:
    """A source domain whose job runs until aborted (or forever)."""

    def __init__(self, refuse_post_copy=False, refuse_downtime=False,
                 abort_ends_call=True, active=True):
        self.refuse_post_copy = refuse_post_copy
        self.refuse_downtime = refuse_downtime
        self.abort_ends_call = abort_ends_call
        self.active = active
        self.aborted = threading.Event()
        self.never = threading.Event()
        self.calls = []
        self.processed = 0

    def name(self):
        return 'scripted'

    def UUIDString(self):
        return '00000000-0000-0000-0000-000000000001'

    def state(self):
        return [1, 0]

    def info(self):
        return [1, 0, 0, 1, 0]

    def isActive(self):
        return self.active

    def jobStats(self, flags=0):
        if flags:
            raise LibvirtError('no completed job')
        self.processed += MiB
        return {'type': 2, 'memory_iteration': 3,
                'memory_remaining': 100 * MiB, 'memory_total': 256 * MiB,
                'memory_bps': 32 * MiB, 'data_processed': self.processed}

    def migrateSetMaxDowntime(self, downtime, flags=0):
        self.calls.append(('downtime', downtime))
        if self.refuse_downtime and downtime != 100:
            raise LibvirtError('downtime refused')

    def migrateStartPostCopy(self, flags=0):
        self.calls.append(('post-copy',))
        if self.refuse_post_copy:
            raise LibvirtError('post-copy not allowed')

    def abortJob(self):
        self.calls.append(('abort',))
        self.aborted.set()

    def migrateToURI3(self, uri, params, flags):
        if self.abort_ends_call:
            self.aborted.wait(30)
            raise LibvirtError('operation aborted')
        self.never.wait(30)


class NoDestination:
    def lookupByUUIDString(self, uuid):
        raise LibvirtError('no domain')

    def close(self):
        pass


def run_in_thread(migration, within_s=10):
    result = []
    worker = threading.Thread(target=lambda: result.append(migration.run()),
                              daemon=True)
    worker.start()
    worker.join(within_s)
    assert not worker.is_alive(), 'the run did not end in %s s' % within_s
    return result[0]


def migration(domain, plan, **kwargs):
    return runner.LibvirtMigration(
        domain, plan, 'qemu+tcp://dest/system', libvirt_module=LIBVIRT,
        monitor_interval_s=0.02, migration_connection=False,
        dest_connection=NoDestination(), **kwargs)


def test_refused_post_copy_switch_leaves_the_deadline_running():
    plan = make_plan(flags=(P.LIVE, P.POSTCOPY), deadline_s=0.4,
                     escalation=(P.EscalationStep(P.TRIGGER_ELAPSED, 0.1,
                                                  P.ACTION_POST_COPY),))
    domain = ScriptedDomain(refuse_post_copy=True)
    mig = migration(domain, plan, abort_timeout_s=5)
    result = run_in_thread(mig)
    assert ('post-copy',) in domain.calls
    assert ('abort',) in domain.calls
    assert result.outcome == report.OUTCOME_ABORTED
    assert not result.post_copy
    assert [r.action.kind for r in mig.escalator.refused] == [
        P.ACTION_POST_COPY]


def test_refused_downtime_raise_is_not_an_engine_error():
    plan = make_plan(deadline_s=0.4, escalation=(
        P.EscalationStep(P.TRIGGER_ELAPSED, 0.1, P.ACTION_RAISE_DOWNTIME,
                         downtime_ms=300),))
    domain = ScriptedDomain(refuse_downtime=True)
    result = run_in_thread(migration(domain, plan, abort_timeout_s=5))
    assert result.outcome == report.OUTCOME_ABORTED
    assert result.final_downtime_ms == 100
    assert 'engine error' not in (result.error or '')


def test_wait_for_a_call_that_never_returns_is_bounded():
    # The job looks gone when an action fails, but migrateToURI3 hangs.
    plan = make_plan(deadline_s=60, escalation=(
        P.EscalationStep(P.TRIGGER_ELAPSED, 0.1, P.ACTION_RAISE_DOWNTIME,
                         downtime_ms=300),))
    domain = ScriptedDomain(refuse_downtime=True, abort_ends_call=False)

    domain.isActive = lambda: not any(c[0] == 'downtime' and c[1] == 300
                                      for c in domain.calls)
    result = run_in_thread(migration(domain, plan, abort_timeout_s=0.5))
    assert result.outcome == report.OUTCOME_FAILED
    assert 'did not return' in result.error
