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

"""MigTunerFilter, MigTunerWeigher, CPU mode and extra-spec validation on
nova's in-process services (API, conductor, scheduler, fake-libvirt
computes reporting different CPUs).

The computes run ``LibvirtDriver`` with ``CPUModeMixin`` and
``HostStatsMixin`` (what ``MigTunerDriver`` is meant to inherit), put in
place of ``nova.virt.libvirt.LibvirtDriver`` so nova loads it by its usual
``compute_driver = libvirt.LibvirtDriver``.

Run with stestr or testtools (not pytest)::

    .venv/bin/python -m stestr --test-path tests/functional/scheduler \
        --top-dir . run --concurrency 2
"""

import os
import sys

import fixtures
from lxml import etree

from nova.api.validation.extra_specs import validators as nova_validators
from nova import context as nova_context
from nova import objects
from nova.tests.fixtures import libvirt as fakelibvirt
from nova.tests.functional.api import client
from nova.tests.functional import integrated_helpers
from nova.tests.functional.libvirt import base as libvirt_base
from nova.virt.libvirt import driver as libvirt_driver

import nova_migtuner.conf
from nova_migtuner.nova import cpu_mode
from nova_migtuner.nova import extra_specs
from nova_migtuner.nova import host_stats

CONF = nova_migtuner.conf.CONF
API_PASTE = os.path.join(sys.prefix, 'etc', 'nova', 'api-paste.ini')
FILTER = 'nova_migtuner.scheduler.filters.MigTunerFilter'
WEIGHER = 'nova_migtuner.scheduler.weights.MigTunerWeigher'

# (model, listed features, expanded features): names fake libvirt knows.
SKYLAKE = ('Skylake-Server-IBRS', ('vmx', 'ssbd', 'pdpe1gb'),
           ('sse2', 'avx2', 'avx512f', 'vmx', 'ssbd', 'pdpe1gb'))
CASCADE = ('Cascadelake-Server', ('vmx', 'ssbd', 'pdpe1gb'),
           ('sse2', 'avx2', 'avx512f', 'avx512vnni', 'vmx', 'ssbd',
            'pdpe1gb'))


class TestDriver(cpu_mode.CPUModeMixin, host_stats.HostStatsMixin,
                 libvirt_driver.LibvirtDriver):
    """The composition the lead gives MigTunerDriver."""

    cpu_load = 0.1

    def _migtuner_host_cpu_load(self):
        # os.getloadavg() is the same for every fake host of this process.
        return self.cpu_load


class SchedulingTestBase(libvirt_base.LibvirtMigrationMixin,
                         libvirt_base.ServersTestBase,
                         integrated_helpers.InstanceHelperMixin):
    microversion = 'latest'
    ADMIN_API = True
    HOST_CPUS = {}
    WEIGHT_CLASSES = ['nova.scheduler.weights.all_weighers', WEIGHER]

    def setUp(self):
        super().setUp()
        self.flags(destination_settle_s=0, max_incoming_migrations=2,
                   group='migtuner')

    def _setup_services(self):
        self.flags(api_paste_config=API_PASTE, group='wsgi')
        self.useFixture(fixtures.MonkeyPatch(
            'nova.virt.libvirt.LibvirtDriver', TestDriver))
        super()._setup_services()

    def _setup_scheduler_service(self):
        self.flags(available_filters=['nova.scheduler.filters.all_filters',
                                      FILTER],
                   enabled_filters=(CONF.filter_scheduler.enabled_filters +
                                    ['MigTunerFilter']),
                   weight_classes=self.WEIGHT_CLASSES,
                   group='filter_scheduler')
        return self.start_service('scheduler')

    def _get_connection(self, host_info=None, pci_info=None, mdev_info=None,
                        vdpa_info=None, libvirt_version=None,
                        qemu_version=None, hostname=None):
        connection = super()._get_connection(
            host_info, pci_info, mdev_info, vdpa_info, libvirt_version,
            qemu_version, hostname)
        model, listed, expanded = self.HOST_CPUS.get(hostname, SKYLAKE)
        stock_capabilities = connection.getCapabilities

        def capabilities():
            tree = etree.fromstring(stock_capabilities())
            cpu = tree.find('./host/cpu')
            cpu.find('model').text = model
            for feature in cpu.findall('feature'):
                cpu.remove(feature)
            pages = cpu.find('pages')
            for name in listed:
                pages.addprevious(etree.Element('feature', name=name))
            return etree.tostring(tree, encoding='unicode')

        def baseline(cpus, flags):
            return ("<cpu mode='custom' match='exact'><model>%s</model>"
                    "<vendor>Intel</vendor>%s</cpu>" % (model, ''.join(
                        "<feature policy='require' name='%s'/>" % name
                        for name in expanded)))

        connection.getCapabilities = capabilities
        connection.baselineCPU = baseline
        # fake compareCPU (nova's late check on the destination) compares
        # against host_info.cpu_model
        connection.host_info.cpu_model = model
        return connection

    def _migrate_stub(self, domain, destination, params, flags):
        target = [name for name in self.computes
                  if '//%s/' % name in destination]
        self.assertEqual(1, len(target), destination)
        self.computes[target[0]].driver._host.get_connection().createXML(
            params['destination_xml'],
            'fake-createXML-doesnt-care-about-flags')
        domain.complete_job()

    def start_hosts(self, *names):
        for name in names:
            self.start_compute(name, host_info=fakelibvirt.HostInfo(
                cpu_nodes=1, cpu_sockets=1, cpu_cores=4, cpu_threads=1,
                kB_mem=8 * 1024 * 1024))

    def set_load(self, host, load):
        self.computes[host].driver.cpu_load = load

    def refresh_stats(self):
        """nova's periodic update_available_resource on every compute."""
        ctxt = nova_context.get_admin_context()
        for compute in self.computes.values():
            compute.manager.update_available_resource(ctxt)

    def host_of(self, server):
        return self.api.get_server(server['id'])['OS-EXT-SRV-ATTR:host']

    def boot_on(self, host, flavor_id):
        server = self._create_server(flavor_id=flavor_id, host=host,
                                     networks='none')
        self.assertEqual(host, self.host_of(server))
        return server

    def live_migrate_expecting_no_valid_host(self, server):
        # The API casts to the conductor (2.34+: 202, migration 'error');
        # nova's functional fixtures turn the cast into a call, so the
        # NoValidHost comes back as a 500 here.
        error = self.assertRaises(
            client.OpenStackApiException, self.api.post_server_action,
            server['id'], {'os-migrateLive': {'host': None,
                                              'block_migration': 'auto'}})
        self.assertIn('NoValidHost', str(error))
        self._wait_for_migration_status(server, ['error'])
        self._wait_for_state_change(server, 'ACTIVE')

    def guest_cpu_mode(self, server):
        """The mode nova recorded from the generated guest XML."""
        instance = objects.Instance.get_by_uuid(
            nova_context.get_admin_context(), server['id'],
            expected_attrs=['vcpu_model'])
        return instance.vcpu_model.mode


class PassthroughGuestTest(SchedulingTestBase):
    """host-passthrough guests need an identical CPU."""

    HOST_CPUS = {'src': SKYLAKE, 'twin': SKYLAKE, 'newer': CASCADE}

    def setUp(self):
        super().setUp()
        self.flavor = self._create_flavor(
            memory_mb=1024, vcpu=1, extra_spec={
                'migtuner:cpu_mode': 'host-passthrough'})

    def test_live_migrates_only_to_the_identical_cpu_host(self):
        # nova's own late check on the destination (_compare_cpu) would
        # refuse 'newer' and the conductor would retry; without retries
        # the scheduler's first choice must be right.
        self.flags(migrate_max_retries=0)
        self.start_hosts('src', 'twin', 'newer')
        # Every other signal points at 'newer': idle, while 'twin' is busy.
        self.set_load('newer', 0.0)
        self.set_load('twin', 1.5)
        self.refresh_stats()
        server = self.boot_on('src', self.flavor)
        self.assertEqual('host-passthrough', self.guest_cpu_mode(server))
        self._live_migrate(server, 'completed')
        self.assertEqual('twin', self.host_of(server))
        # (fake libvirt's XMLDesc drops <cpu>, so the migrated XML cannot
        # show it; the instance keeps the CPU model nova recorded)
        self.assertEqual('host-passthrough', self.guest_cpu_mode(server))

    def test_no_identical_cpu_host_is_no_valid_host(self):
        self.start_hosts('src', 'newer')
        self.refresh_stats()
        server = self.boot_on('src', self.flavor)
        self.live_migrate_expecting_no_valid_host(server)
        self.assertEqual('src', self.host_of(server))
        log = self.stdlog.logger.output
        self.assertIn(
            'MigTunerFilter rejected every destination for the live '
            'migration of instance %s: newer: host-passthrough guest needs '
            'CPU model Skylake-Server-IBRS, host has Cascadelake-Server'
            % server['id'], log)

    def test_host_model_guest_may_go_to_a_newer_cpu(self):
        # Same hosts, a guest without the spec (host-model, nova's
        # default): the expanded features of 'newer' are a superset.
        self.start_hosts('src', 'newer')
        self.refresh_stats()
        flavor = self._create_flavor(memory_mb=1024, vcpu=1)
        server = self.boot_on('src', flavor)
        self.assertEqual('host-model', self.guest_cpu_mode(server))
        # nova's own late check (fake compareCPU) compares models only;
        # let it pass to see the scheduler's decision.
        self.useFixture(fixtures.MockPatch(
            'nova.virt.libvirt.driver.LibvirtDriver._compare_cpu'))
        self._live_migrate(server, 'completed')
        self.assertEqual('newer', self.host_of(server))


class BootUnaffectedTest(SchedulingTestBase):

    HOST_CPUS = {'src': SKYLAKE, 'busy': CASCADE}

    def test_boot_ignores_limits_that_stop_a_live_migration(self):
        self.flags(max_incoming_migrations=1, group='migtuner')
        self.start_hosts('src', 'busy')
        flavor = self._create_flavor(memory_mb=1024, vcpu=1)
        server = self.boot_on('src', flavor)
        # 'busy' reports one live migration in flight to it.
        self.useFixture(fixtures.MockPatch(
            'nova_migtuner.nova.host_stats.incoming_in_flight',
            return_value=1))
        self.refresh_stats()
        self.useFixture(fixtures.MockPatch(
            'nova.virt.libvirt.driver.LibvirtDriver._compare_cpu'))
        self.live_migrate_expecting_no_valid_host(server)
        self.assertIn('busy: host already has 1 incoming live migration(s) '
                      'in flight; limit is 1', self.stdlog.logger.output)
        # A boot with a host-passthrough flavor, no host given, lands on
        # either host: the filter leaves boots alone.
        passthrough = self._create_flavor(
            memory_mb=1024, vcpu=1,
            extra_spec={'migtuner:cpu_mode': 'host-passthrough'})
        self.computes['src'].service_ref.disabled = True
        self.computes['src'].service_ref.save()
        booted = self._create_server(flavor_id=passthrough, networks='none')
        self.assertEqual('busy', self.host_of(booted))


class WeigherTest(SchedulingTestBase):
    """The weigher alone decides here (nova's weighers are off)."""

    WEIGHT_CLASSES = [WEIGHER]

    def setUp(self):
        super().setUp()
        self.start_hosts('src', 'a', 'b')
        self.flavor = self._create_flavor(memory_mb=1024, vcpu=1)

    def migrate_new_guest(self):
        self.refresh_stats()
        server = self.boot_on('src', self.flavor)
        self._live_migrate(server, 'completed')
        return self.host_of(server)

    def test_follows_destination_load(self):
        self.set_load('a', 0.9)
        self.set_load('b', 0.1)
        self.assertEqual('b', self.migrate_new_guest())
        self.set_load('a', 0.0)
        self.set_load('b', 0.9)
        self.assertEqual('a', self.migrate_new_guest())

    def test_follows_link_class(self):
        self.flags(link_classes={'rack': '25Gbit/s'}, group='migtuner')
        self.set_load('a', 0.9)
        self.set_load('b', 0.1)
        # Over equal links the idle host wins...
        self.assertEqual('b', self.migrate_new_guest())
        # ...but a 25 times faster link beats a busier host.
        aggregate = self.admin_api.post_aggregate(
            {'aggregate': {'name': 'rack-1'}})
        for host in ('src', 'a'):
            self.admin_api.add_host_to_aggregate(aggregate['id'], host)
        self.admin_api.post_aggregate_action(aggregate['id'], {
            'set_metadata': {'metadata': {'migtuner_link_class': 'rack'}}})
        self.assertEqual('a', self.migrate_new_guest())

    def test_follows_memory_headroom(self):
        # Two 3 GiB guests fill 'a' (8 GiB): b keeps the headroom.
        big = self._create_flavor(memory_mb=3072, vcpu=1)
        for _ in range(2):
            self.boot_on('a', big)
        self.assertEqual('b', self.migrate_new_guest())
        # Now 'b' holds that guest and two more big ones: 'a' is roomier.
        for _ in range(2):
            self.boot_on('b', big)
        self.assertEqual('a', self.migrate_new_guest())


class ExtraSpecValidationTest(integrated_helpers._IntegratedTestBase):
    """``migtuner:*`` extra specs are checked by nova's API (2.86+)."""

    microversion = 'latest'
    ADMIN_API = True

    def setUp(self):
        # Until setup.cfg registers the entry point, put the validators
        # into nova's registry the way load_validators() does.
        registry = dict(nova_validators.VALIDATORS)
        namespaces = set(nova_validators.NAMESPACES)
        for validator in extra_specs.register():
            registry[validator.name] = validator
            namespaces.add(validator.name_regex.split(':', 1)[0])
        self.useFixture(fixtures.MonkeyPatch(
            'nova.api.validation.extra_specs.validators.VALIDATORS',
            registry))
        self.useFixture(fixtures.MonkeyPatch(
            'nova.api.validation.extra_specs.validators.NAMESPACES',
            namespaces))
        super().setUp()

    def _setup_services(self):
        self.flags(api_paste_config=API_PASTE, group='wsgi')
        super()._setup_services()

    def set_spec(self, flavor_id, key, value):
        return self.admin_api.post_extra_spec(
            flavor_id, {'extra_specs': {key: value}})

    def test_invalid_specs_get_400_saying_what_is_allowed(self):
        flavor = self.admin_api.post_flavor(
            {'flavor': {'name': 'f', 'ram': 512, 'vcpus': 1, 'disk': 1}})
        cases = [
            ('migtuner:max_downtime_ms', 'abc',
             "migtuner:max_downtime_ms='abc' is not an integer; allowed: "
             "10..60000"),
            ('migtuner:cpu_mode', 'host',
             "allowed: host-passthrough, host-model, custom"),
            ('migtuner:permit_post_copy', 'maybe', 'allowed: true or false'),
            ('migtuner:strategy', 'yolo', 'allowed: balanced'),
            ('migtuner:max_downtime', '300', 'not appear to be a valid'),
        ]
        for key, value, message in cases:
            error = self.assertRaises(client.OpenStackApiException,
                                      self.set_spec, flavor['id'], key,
                                      value)
            self.assertEqual(400, error.response.status_code, key)
            self.assertIn(message, error.response.text, key)
        self.set_spec(flavor['id'], 'migtuner:max_downtime_ms', '300')
        self.set_spec(flavor['id'], 'migtuner:cpu_mode', 'host-passthrough')
        specs = self.admin_api.get_flavor(flavor['id'])['extra_specs']
        self.assertEqual({'migtuner:max_downtime_ms': '300',
                          'migtuner:cpu_mode': 'host-passthrough'}, specs)
