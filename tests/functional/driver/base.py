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

"""Base of the nova functional tests of ``MigTunerDriver``.

Real nova services in process (API, conductor, scheduler, two computes)
with nova's fake libvirt; the computes load the driver through nova's own
``load_compute_driver`` with exactly the nova.conf line an admin writes:
``compute_driver = migtuner.MigTunerDriver``.

Run with stestr (not pytest)::

    .venv/bin/python -m stestr --test-path tests/functional/driver \
        --top-dir . run --concurrency 2
"""

import importlib.util
import os
import sys
import threading
import time

import fixtures
from nova.tests.fixtures import libvirt as fakelibvirt
from nova.tests.functional import integrated_helpers
from nova.tests.functional.libvirt import base as libvirt_base

from nova_migtuner.nova import driver as mt_driver
from nova_migtuner.planning import notification_schema as notif
from tests.functional.driver import samples

COMPUTE_DRIVER = 'migtuner.MigTunerDriver'
# nova's wheel installs api-paste.ini under <prefix>/etc/nova; the test
# default looks next to site-packages.
API_PASTE = os.path.join(sys.prefix, 'etc', 'nova', 'api-paste.ini')
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))
SHIM_DIR = os.path.join(REPO_ROOT, 'nova', 'virt')

MIB = 1024 ** 2
# The fake's own jobStats, before any test patches it (scripts nest).
FAKE_JOB_STATS = fakelibvirt.Domain.jobStats


class ShimFixture(fixtures.Fixture):
    """Make ``nova.virt.migtuner`` importable as an installed copy would.

    A regular ``pip install`` puts the shim package into nova's own
    ``nova/virt`` directory; an editable install cannot. In that case the
    repository's ``nova/virt`` is added to ``nova.virt.__path__`` so that
    nova imports the very same shim file.
    """

    def _setUp(self):
        import nova.virt
        if importlib.util.find_spec('nova.virt.migtuner') is not None:
            return
        nova.virt.__path__.append(SHIM_DIR)
        self.addCleanup(nova.virt.__path__.remove, SHIM_DIR)
        self.addCleanup(sys.modules.pop, 'nova.virt.migtuner', None)


class MigTunerDriverMixin:
    """Run nova's test classes with our driver in place of the stock one."""

    def _setup_services(self):
        self.useFixture(ShimFixture())
        self.flags(api_paste_config=API_PASTE, group='wsgi')
        super()._setup_services()

    def _setup_compute_service(self):
        self.flags(compute_driver=COMPUTE_DRIVER)

    def start_compute(self, hostname='compute1', *args, **kwargs):
        hostname = super().start_compute(hostname, *args, **kwargs)
        driver = self.computes[hostname].driver
        # The run must really use our driver, loaded by name.
        assert isinstance(driver, mt_driver.MigTunerDriver), driver
        assert type(driver).__module__ == 'nova_migtuner.nova.driver'
        return hostname

    def check_notification_samples(self):
        """Every migtuner notification matches its sample file."""
        problems = []
        for n in self.notifier.versioned_notifications:
            if n['event_type'].startswith(notif.EVENT_PREFIX):
                problems += samples.mismatches(n)
        self.assertEqual([], problems)


class FastClock:
    """A monotonic clock running *factor* times faster than the real one.

    Given to the driver's operations so that plan deadlines (60 s at
    least) and stall windows pass in a fraction of a second of test time.
    """

    def __init__(self, factor):
        self.factor = factor
        self.origin = time.monotonic()

    def __call__(self):
        return self.origin + (time.monotonic() - self.origin) * self.factor


class ScriptedMigration:
    """Drives fake libvirt through one migration of one server.

    The source domain's ``jobStats()`` returns *samples* one per poll (the
    last one repeated); with ``complete_after_samples`` the migration then
    completes (the destination domain appears, the source job turns
    COMPLETED), otherwise it stays stalled until the driver switches to
    post-copy (then it completes) or aborts (then ``migrateToURI3`` fails
    as libvirt's does and the job reads CANCELLED). With
    ``fail_after_polls`` the destination dies after that many polls:
    ``migrateToURI3`` fails as libvirt 9.0's does when the destination
    QEMU is killed, the source domain keeps running and its job is gone.
    The destination domain's ``jobStats(COMPLETED)`` returns *completed*.
    """

    RUNNING, FINISHING, DONE, CANCELLED, FAILED = (
        'running', 'finishing', 'done', 'cancelled', 'failed')

    def __init__(self, test, samples, completed=None,
                 complete_after_samples=True, bytes_per_poll=50 * MIB,
                 refuse_post_copy=False, fail_after_polls=None):
        self.test = test
        self.fail_after_polls = fail_after_polls
        self.refuse_post_copy = refuse_post_copy
        self.bytes_per_poll = bytes_per_poll
        self.samples = list(samples)
        self.completed = dict(completed or {})
        self.complete_after_samples = complete_after_samples
        self.state = None
        self.calls = []            # (flags, params) given to migrateToURI3
        self.uris = []             # dconnuri given to migrateToURI3
        self.downtimes = []        # migrateSetMaxDowntime values
        self.completed_reads = []  # flags of jobStats() on the destination
        self.postcopy_started = False
        self.aborted = False
        self.polls = 0
        self._lock = threading.Lock()
        for name in ('migrateToURI3', 'jobStats', 'migrateSetMaxDowntime',
                     'migrateStartPostCopy', 'abortJob'):
            test.useFixture(fixtures.MonkeyPatch(
                'nova.tests.fixtures.libvirt.Domain.%s' % name,
                self._method(getattr(self, '_' + name))))

    @staticmethod
    def _method(func):
        def method(domain, *args, **kwargs):
            return func(domain, *args, **kwargs)
        return method

    def _is_source(self, domain):
        return domain._connection is self.test.src.driver._host.\
            get_connection()

    def _is_dest(self, domain):
        return domain._connection is self.test.dest.driver._host.\
            get_connection()

    def _migrateToURI3(self, domain, dconnuri, params, flags):
        self.calls.append((flags, dict(params)))
        self.uris.append(dconnuri)
        self.state = self.RUNNING
        give_up = time.monotonic() + 60
        while self.state == self.RUNNING and time.monotonic() < give_up:
            time.sleep(0.05)
        if self.state == self.RUNNING:   # never leave a test hanging
            self.state = self.CANCELLED
        if self.state == self.FAILED:
            raise fakelibvirt.make_libvirtError(
                fakelibvirt.libvirtError,
                'internal error: client socket is closed',
                error_code=fakelibvirt.VIR_ERR_INTERNAL_ERROR,
                error_domain=fakelibvirt.VIR_FROM_QEMU)
        if self.state == self.CANCELLED:
            raise fakelibvirt.make_libvirtError(
                fakelibvirt.libvirtError,
                'operation aborted: migration out job: canceled by client',
                error_code=fakelibvirt.VIR_ERR_OPERATION_ABORTED
                if hasattr(fakelibvirt, 'VIR_ERR_OPERATION_ABORTED') else 78,
                error_domain=fakelibvirt.VIR_FROM_QEMU)
        self.test.dest.driver._host.get_connection().createXML(
            params['destination_xml'],
            'fake-createXML-doesnt-care-about-flags')
        domain.complete_job()
        self.state = self.DONE

    def _jobStats(self, domain, flags=0):
        if self._is_dest(domain) and flags:
            self.completed_reads.append(flags)
            return dict(self.completed, type=fakelibvirt.
                        VIR_DOMAIN_JOB_COMPLETED)
        if not self._is_source(domain) or self.state is None:
            return FAKE_JOB_STATS(domain, flags)
        if self.state == self.CANCELLED:
            return {'type': fakelibvirt.VIR_DOMAIN_JOB_CANCELLED}
        if self.state == self.FAILED:
            # libvirt has torn the failed job down: no job any more.
            return {'type': fakelibvirt.VIR_DOMAIN_JOB_NONE}
        if self.state == self.DONE:
            return {'type': fakelibvirt.VIR_DOMAIN_JOB_COMPLETED}
        with self._lock:
            self.polls += 1
            if (self.fail_after_polls is not None and
                    self.polls > self.fail_after_polls and
                    self.state == self.RUNNING):
                self.state = self.FAILED
                return {'type': fakelibvirt.VIR_DOMAIN_JOB_NONE}
            index = min(self.polls, len(self.samples)) - 1
            if (self.polls >= len(self.samples) and
                    self.complete_after_samples and
                    self.state == self.RUNNING):
                self.state = self.FINISHING
            sample = dict(self.samples[index])
            # A stalled job still sends data (the guest re-dirties it).
            extra = (self.polls - 1 - index) * self.bytes_per_poll
            for key in ('memory_processed', 'data_processed'):
                if key in sample:
                    sample[key] += extra
        return sample

    def _migrateSetMaxDowntime(self, domain, downtime, flags=0):
        self.downtimes.append(downtime)

    def _migrateStartPostCopy(self, domain, flags=0):
        if self.refuse_post_copy:
            raise fakelibvirt.make_libvirtError(
                fakelibvirt.libvirtError,
                'Requested operation is not valid: post-copy migration '
                'is not active', error_code=fakelibvirt.VIR_ERR_INTERNAL_ERROR,
                error_domain=fakelibvirt.VIR_FROM_QEMU)
        self.postcopy_started = True
        if self.state == self.RUNNING:
            self.state = self.FINISHING

    def _abortJob(self, domain, flags=0):
        self.aborted = True
        if self.state == self.RUNNING:
            self.state = self.CANCELLED


def running_sample(remaining, total=2048 * MIB, iteration=1, elapsed_ms=0,
                   processed=0, bps=100 * MIB, dirty_pages=None):
    sample = {'type': fakelibvirt.VIR_DOMAIN_JOB_UNBOUNDED,
              'time_elapsed': elapsed_ms,
              'memory_total': total, 'memory_remaining': remaining,
              'memory_processed': processed, 'data_total': total,
              'data_remaining': remaining, 'data_processed': processed,
              'memory_iteration': iteration, 'memory_bps': bps}
    if dirty_pages is not None:
        sample['memory_dirty_rate'] = dirty_pages
    return sample


class MigTunerTestBase(MigTunerDriverMixin,
                       libvirt_base.ServersTestBase,
                       integrated_helpers.InstanceHelperMixin):
    microversion = '2.74'
    ADMIN_API = True

    def setUp(self):
        super().setUp()
        self.addCleanup(self.check_notification_samples)
        self.flags(dirty_rate_calc_s=0, group='migtuner')
        self.src_hostname = self.start_compute(hostname='src')
        self.dest_hostname = self.start_compute(hostname='dest')
        self.src = self.computes[self.src_hostname]
        self.dest = self.computes[self.dest_hostname]

    # -- helpers ----------------------------------------------------------

    def restart_computes(self):
        """Restart both computes (host flags are read at start-up)."""
        for name in (self.src_hostname, self.dest_hostname):
            self.restart_compute_service(name)
        self.src = self.computes[self.src_hostname]
        self.dest = self.computes[self.dest_hostname]

    def use_clock(self, clock):
        self.src.driver._migtuner_ops.clock = clock

    def create_flavor(self, name, extra_specs=None, memory_mb=2048):
        flavor_id = self._create_flavor(name=name, memory_mb=memory_mb,
                                        vcpu=1, disk=1,
                                        extra_spec=extra_specs)
        return flavor_id

    def create_server_on_src(self, flavor_id=None):
        return self._create_server(host=self.src_hostname, networks='none',
                                   flavor_id=flavor_id)

    def live_migrate(self, server, host=None):
        self.api.post_server_action(
            server['id'],
            {'os-migrateLive': {'host': host, 'block_migration': 'auto'}})

    def wait_for_migration(self, server, statuses, timeout=30.0):
        deadline = time.monotonic() + timeout
        seen = None
        while time.monotonic() < deadline:
            migrations = self.admin_api.api_get(
                '/os-migrations?instance_uuid=%s' % server['id']).body[
                'migrations']
            if migrations:
                latest = max(migrations, key=lambda m: m['id'])
                seen = latest['status']
                if seen in statuses:
                    return latest
            time.sleep(0.2)
        self.fail('migration of %s did not reach %s (last %s)'
                  % (server['id'], statuses, seen))

    def notifications(self, event):
        """The captured notifications of *event*, with the flat payload
        (``notification_schema.flat_payload``) in place of the envelope.
        """
        return [dict(n, payload=notif.flat_payload(event, n['payload']))
                for n in self.notifier.versioned_notifications
                if n['event_type'] == 'migtuner.live_migration.%s' % event]

    def wait_for_notification(self, event, count=1, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.notifications(event)
            if len(found) >= count:
                return found
            time.sleep(0.1)
        self.fail('no %d %s notification(s) within %.0f s; got %s' % (
            count, event, timeout,
            [n['event_type'] for n in self.notifier.versioned_notifications
             if n['event_type'].startswith('migtuner.')]))

    def host_of(self, server):
        return self.api.get_server(server['id'])['OS-EXT-SRV-ATTR:host']

    def flag_names(self, flags):
        return {name for name in dir(fakelibvirt)
                if name.startswith('VIR_MIGRATE_') and
                not name.startswith('VIR_MIGRATE_PARAM_') and
                isinstance(getattr(fakelibvirt, name), int) and
                flags & getattr(fakelibvirt, name)}


# A 2 GiB guest whose migration converges in four polls, and one that
# stalls with 800 MiB left (the guest re-dirties it).
CONVERGING = [running_sample(remaining=r * MIB, iteration=1,
                             processed=(2048 - r) * MIB,
                             elapsed_ms=(2048 - r) * 5)
              for r in (2000, 1500, 1000, 500)]
STALLED = [running_sample(remaining=800 * MIB, iteration=i,
                          processed=3000 * MIB, dirty_pages=30000,
                          bps=100 * MIB)
           for i in (5, 6)]
