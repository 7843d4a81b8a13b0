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

"""Bring the one-machine cloud up, report its state, take it down.

Order of ``up`` (each step is skipped when already done, so ``up`` is
idempotent): the test bed's two libvirtd hosts, MariaDB, epmd + RabbitMQ,
keystone (+ the service catalog), glance, placement, neutron, nova's
databases and cells, nova-api, nova-conductor, nova-scheduler, one
nova-compute inside each test bed host's namespaces, host discovery, the
guest images and flavor, and the report collector.
"""

from concurrent import futures
import logging
import os
import secrets
import shutil
import socket
import subprocess
import time

import yaml

from nova_migtuner.cloud import configs
from nova_migtuner.cloud import layout as layout_mod
from nova_migtuner.cloud import services as svc
from nova_migtuner.testbed import bed as testbed_bed
from nova_migtuner.testbed import guest
from nova_migtuner.testbed import processes
from nova_migtuner.testbed.workload import Workload

LOG = logging.getLogger(__name__)

LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        'wsgi_launcher.py')
COMPUTE_READY_TIMEOUT_S = 240.0
# The stamp files of one-time steps (schemas, bootstrap) under state/.
STAMPS = ('mariadb-users', 'keystone', 'catalog', 'glance', 'placement',
          'neutron', 'nova-db')
IMAGE_NAME = 'migtuner-guest'
# A guest that dirties 128 MiB at twice the link cap from boot: pre-copy
# alone never converges (configs.LINK_CAP_MIB_S).
BUSY_IMAGE_NAME = 'migtuner-guest-busy'
# nova gives a guest one serial port, the console: the heartbeat goes there.
IDLE_WORKLOAD = Workload(heartbeat_device='ttyS0')
BUSY_WORKLOAD = Workload('constant', dirty_mib=128,
                         rate_mib_s=2 * configs.LINK_CAP_MIB_S,
                         heartbeat_device='ttyS0')
FLAVOR_NAME = 'migtuner.tiny'
FLAVOR_RAM_MB = 256
USER_CLOUDS_YAML = os.path.expanduser('~/.config/openstack/clouds.yaml')


def artifacts_version(artifacts):
    """A short name for the build inputs of the guest's kernel and
    initramfs (``GuestArtifacts.fingerprint``).
    """
    return artifacts.fingerprint()['digest'][:10]


class CloudError(Exception):
    """The cloud could not be brought up or down; says which part."""


class Cloud:
    def __init__(self, layout=None):
        self.layout = layout or layout_mod.Layout.from_environment()
        L = self.layout
        self.bed = testbed_bed.Testbed(
            workdir=L.testbed_dir,
            ports=(layout_mod.LIBVIRT_PORT, layout_mod.LIBVIRT_PORT),
            addresses=tuple(c.address for c in layout_mod.COMPUTES),
            extra_mounts=(('nova-instances', layout_mod.INSTANCES_PATH),))
        self._conn = None

    # -- the parts -------------------------------------------------------

    def _env(self, extra=None):
        # Every process of the cloud carries the work dir in its
        # environment: leftovers() finds them by it.
        env = {layout_mod.WORKDIR_ENV: self.layout.workdir}
        env.update(extra or {})
        return env

    def _wsgi(self, name, port, app, env, preload=()):
        L = self.layout
        venv = L.venv if name == 'nova-api' else L.cloud_venv
        argv = [L.bin(venv, 'python'), LAUNCHER, '--port', str(port),
                '--name', name]
        for module in preload:
            argv += ['--preload', module]
        return svc.Service(
            name=name, argv=argv + [app],
            run_dir=L.run_dir, log_file=L.log(name),
            ready=svc.http_answers(L.url(port, '/')),
            probe='GET %s' % L.url(port, '/'), env=self._env(env))

    def mariadb(self):
        L = self.layout
        return svc.Service(
            name='mariadb',
            argv=['mariadbd', '--no-defaults', '--user=root',
                  '--datadir=%s' % L.path('mariadb', 'data'),
                  '--socket=%s' % self.db_socket,
                  '--port=%d' % L.db_port, '--bind-address=127.0.0.1',
                  '--pid-file=%s' % L.path('run', 'mariadbd.pid'),
                  '--skip-name-resolve', '--max-connections=1000',
                  '--innodb-buffer-pool-size=256M',
                  # A throwaway test cloud: no fsync per commit.
                  '--innodb-flush-log-at-trx-commit=0',
                  '--innodb-doublewrite=0'],
            run_dir=L.run_dir, log_file=L.log('mariadb'),
            ready=svc.command_answers(self._mysql_argv('SELECT 1')),
            probe='SELECT 1 over %s' % self.db_socket, env=self._env())

    @property
    def db_socket(self):
        return self.layout.path('run', 'mysqld.sock')

    def _mysql_argv(self, sql):
        return ['mariadb', '--no-defaults', '-S', self.db_socket, '-u',
                'root', '-e', sql]

    def _rabbit_env(self):
        L = self.layout
        base = L.path('rabbitmq')
        return self._env({
            'HOME': base,
            'RABBITMQ_NODENAME': 'migtuner@localhost',
            'RABBITMQ_NODE_IP_ADDRESS': '127.0.0.1',
            'RABBITMQ_NODE_PORT': str(L.amqp_port),
            'RABBITMQ_DIST_PORT': str(L.rabbit_dist_port),
            'ERL_EPMD_PORT': str(L.epmd_port),
            'ERL_EPMD_ADDRESS': '127.0.0.1',
            'RABBITMQ_MNESIA_BASE': os.path.join(base, 'mnesia'),
            'RABBITMQ_LOG_BASE': os.path.join(base, 'log'),
            'RABBITMQ_LOGS': '-',
            'RABBITMQ_PID_FILE': L.path('run', 'rabbitmq-beam.pid'),
            'RABBITMQ_CONF_ENV_FILE': os.path.join(base, 'rabbitmq-env.conf'),
            'RABBITMQ_CONFIG_FILE': os.path.join(base, 'rabbitmq'),
            'RABBITMQ_ENABLED_PLUGINS_FILE': os.path.join(base,
                                                          'enabled_plugins'),
            'ERL_CRASH_DUMP': L.log('erl_crash.dump'),
        })

    def epmd(self):
        L = self.layout
        return svc.Service(
            name='epmd', argv=['epmd', '-port', str(L.epmd_port),
                               '-address', '127.0.0.1'],
            run_dir=L.run_dir, log_file=L.log('epmd'),
            ready=svc.tcp_answers('127.0.0.1', L.epmd_port),
            probe='TCP 127.0.0.1:%d' % L.epmd_port, env=self._rabbit_env())

    def rabbitmq(self):
        L = self.layout
        return svc.Service(
            name='rabbitmq',
            argv=['/usr/lib/rabbitmq/bin/rabbitmq-server'],
            run_dir=L.run_dir, log_file=L.log('rabbitmq'),
            ready=svc.tcp_answers('127.0.0.1', L.amqp_port),
            probe='AMQP 127.0.0.1:%d' % L.amqp_port, env=self._rabbit_env())

    def keystone(self):
        return self._wsgi('keystone', self.layout.keystone_port,
                          'keystone.wsgi.api:application',
                          {'OS_KEYSTONE_CONFIG_DIR':
                           self.layout.etc('keystone')})

    def glance(self):
        return self._wsgi('glance', self.layout.glance_port,
                          'glance.wsgi.api:application',
                          {'OS_GLANCE_CONFIG_DIR': self.layout.etc('glance')})

    def placement(self):
        return self._wsgi('placement', self.layout.placement_port,
                          'placement.wsgi.api:application',
                          {'OS_PLACEMENT_CONFIG_DIR':
                           self.layout.etc('placement')})

    def neutron(self):
        return self._wsgi('neutron', self.layout.neutron_port,
                          'neutron.wsgi.api:application',
                          {'OS_NEUTRON_CONFIG_DIR': self.layout.etc('neutron'),
                           'OS_NEUTRON_CONFIG_FILES':
                           'neutron.conf;ml2_conf.ini'},
                          preload=('neutron.db.models.port_forwarding',))

    def nova_api(self):
        return self._wsgi('nova-api', self.layout.nova_api_port,
                          'nova.wsgi.osapi_compute:application',
                          {'OS_NOVA_CONFIG_DIR': self.layout.etc('nova'),
                           # nova-api loads its paste pipeline from the
                           # first file.
                           'OS_NOVA_CONFIG_FILES': 'api-paste.ini;nova.conf'})

    def _nova_service(self, binary, host=None, extra_conf=(), wrapper=()):
        L = self.layout
        argv = [L.bin(L.venv, binary), '--config-file',
                L.etc('nova', 'nova.conf')]
        for path in extra_conf:
            argv += ['--config-file', path]
        name = binary if host is None else '%s-%s' % (binary, host)
        return svc.Service(
            name=name, argv=argv, run_dir=L.run_dir, log_file=L.log(name),
            ready=self._nova_service_up(binary, host),
            probe='%s%s is up in the compute API' % (
                binary, '' if host is None else ' on %s' % host),
            env=self._env(), wrapper=wrapper,
            ready_timeout_s=COMPUTE_READY_TIMEOUT_S)

    def conductor(self):
        return self._nova_service('nova-conductor')

    def scheduler(self):
        return self._nova_service('nova-scheduler')

    def compute(self, compute):
        L = self.layout
        host = self.bed.hosts[compute.bed_host]
        pid = host.pid()
        wrapper = (['nsenter', '-t', str(pid), '-m', '-u', '--']
                   if pid else ['false'])
        return self._nova_service(
            'nova-compute', host=compute.host,
            extra_conf=[L.etc('nova', 'compute-%s.conf' % compute.bed_host)],
            wrapper=wrapper)

    def collector(self):
        L = self.layout
        return svc.Service(
            name='report-collector',
            argv=[L.bin(L.venv, 'nova-migtuner'), 'report-collector',
                  '--config-file', L.etc('nova', 'nova.conf'),
                  '--database', self.reports_db,
                  '--metrics-port', str(L.collector_metrics_port),
                  '--metrics-address', '127.0.0.1'],
            run_dir=L.run_dir, log_file=L.log('report-collector'),
            ready=svc.log_contains(L.log('report-collector'), 'Collecting'),
            probe='listening on versioned_notifications', env=self._env())

    @property
    def reports_db(self):
        return self.layout.path('reports.sqlite')

    def services(self):
        """Every service in start order."""
        return ([self.mariadb(), self.epmd(), self.rabbitmq(),
                 self.keystone(), self.glance(), self.placement(),
                 self.neutron(), self.nova_api(), self.conductor(),
                 self.scheduler()] +
                [self.compute(c) for c in layout_mod.COMPUTES] +
                [self.collector()])

    # -- up ----------------------------------------------------------------

    def up(self, driver='migtuner', nova_options=()):
        """Start whatever is not running; return what was started."""
        if driver not in configs.NOVA_DRIVERS:
            raise ValueError('driver %r is invalid: expected one of %s'
                             % (driver, ', '.join(configs.NOVA_DRIVERS)))
        self._check_prerequisites()
        L = self.layout
        for sub in ('run', 'logs', 'etc', 'state'):
            os.makedirs(L.path(sub), exist_ok=True)
        started = []
        self.bed.up()
        self._write_configs()
        self._start(self.mariadb(), started, before=self._init_mariadb)
        self._once('mariadb-users', self._create_databases)
        self._start(self.epmd(), started, before=self._init_rabbitmq)
        self._start(self.rabbitmq(), started)
        self._once('keystone', self._init_keystone)
        self._start(self.keystone(), started)
        self._write_clouds_yaml()
        self._once('catalog', self._create_catalog)
        self._once('glance', self._init_glance)
        self._start(self.glance(), started)
        self._once('placement', self._init_placement)
        self._start(self.placement(), started)
        self._once('neutron', self._init_neutron)
        self._start(self.neutron(), started)
        self._once('nova-db', self._init_nova)
        self._start(self.nova_api(), started)
        self._start(self.conductor(), started)
        self._start(self.scheduler(), started)
        self.start_computes(driver, nova_options, started)
        self._start(self.collector(), started)
        self.ensure_guest_image()
        self.ensure_guest_image(BUSY_IMAGE_NAME, BUSY_WORKLOAD)
        self.ensure_flavor()
        return started

    def _check_prerequisites(self):
        L = self.layout
        missing = [name for name in ('mariadbd', 'mariadb-install-db',
                                     'epmd', 'nsenter')
                   if shutil.which(name) is None]
        if not os.path.exists('/usr/lib/rabbitmq/bin/rabbitmq-server'):
            missing.append('rabbitmq-server')
        for venv, what in ((L.cloud_venv, 'keystone-manage'),
                           (L.venv, 'nova-compute')):
            if not os.path.exists(L.bin(venv, what)):
                missing.append(L.bin(venv, what))
        if missing:
            raise CloudError('The cloud needs %s; install them with '
                             '"tools/run setup".' % ', '.join(missing))

    def _start(self, service, started, before=None):
        # Service.start leaves a running, answering service alone.
        if before is not None and not service.is_running():
            before()
        try:
            if service.start():
                started.append(service.name)
        except svc.ServiceError as exc:
            raise CloudError(str(exc))

    def _once(self, step, func):
        stamp = self.layout.path('state', '%s.done' % step)
        if os.path.exists(stamp):
            return
        began = time.monotonic()
        func()
        LOG.info('cloud: %s set up in %.1f s', step,
                 time.monotonic() - began)
        with open(stamp, 'w') as f:
            f.write('%s\n' % time.strftime('%Y-%m-%dT%H:%M:%S'))

    def _run(self, argv, env=None, timeout=600, name=None):
        """Run a set-up command; its whole output goes to the service's
        log, and its tail into the error if it fails.
        """
        full_env = dict(os.environ)
        full_env.update(self._env(env))
        log = self.layout.log(name or 'setup')
        try:
            result = subprocess.run(
                argv, env=full_env, timeout=timeout, stdin=subprocess.DEVNULL,
                cwd=self.layout.run_dir,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise CloudError('%s failed: %s' % (' '.join(argv), exc))
        out = result.stdout.decode('utf-8', 'replace')
        with open(log, 'a') as f:
            f.write('$ %s\n%s\n' % (' '.join(argv), out))
        if result.returncode:
            raise CloudError('%s failed with exit code %d; output tail:\n%s'
                             % (' '.join(argv), result.returncode,
                                processes.tail(out, 30)))
        return out

    # -- configuration -----------------------------------------------------

    def _write_configs(self):
        L = self.layout
        configs.write(L.etc('keystone', 'keystone.conf'),
                      configs.keystone(L))
        configs.write(L.etc('glance', 'glance-api.conf'), configs.glance(L))
        shutil.copy(os.path.join(L.cloud_venv, 'etc', 'glance',
                                 'glance-api-paste.ini'), L.etc('glance'))
        configs.write(L.etc('placement', 'placement.conf'),
                      configs.placement(L))
        configs.write(L.etc('neutron', 'neutron.conf'), configs.neutron(L))
        configs.write(L.etc('neutron', 'ml2_conf.ini'),
                      configs.neutron_ml2())
        shutil.copy(os.path.join(L.cloud_venv, 'etc', 'neutron',
                                 'api-paste.ini'), L.etc('neutron'))
        configs.write(L.etc('nova', 'nova.conf'),
                      configs.nova_common(L, self.operator_secret()))
        shutil.copy(os.path.join(L.venv, 'etc', 'nova', 'api-paste.ini'),
                    L.etc('nova'))
        for sub in ('glance', 'neutron', 'nova'):
            os.makedirs(L.path(sub), exist_ok=True)

    def operator_secret(self):
        """The cloud's [migtuner] operator_secret, made once: 32 random
        bytes, hex; also in ``operator_secret_file`` for the CLI.
        """
        path = self.operator_secret_file
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, 'w') as f:
                f.write(secrets.token_hex(32))
        with open(path) as f:
            return f.read().strip()

    @property
    def operator_secret_file(self):
        return self.layout.path('state', 'operator_secret')

    def _compute_config_path(self, compute):
        return self.layout.etc('nova', 'compute-%s.conf' % compute.bed_host)

    def start_computes(self, driver, nova_options=(), started=None):
        """Start both computes with this driver and these options.

        A compute that runs with other settings is restarted; nothing else
        is touched.
        """
        started = [] if started is None else started
        for compute in layout_mod.COMPUTES:
            path = self._compute_config_path(compute)
            wanted = configs.render(configs.nova_compute(
                self.layout, compute, driver, nova_options))
            try:
                with open(path) as f:
                    current = f.read()
            except OSError:
                current = None
            service = self.compute(compute)
            if current != wanted:
                if service.is_running():
                    LOG.info('cloud: restarting %s with new settings',
                             service.name)
                    service.stop()
                os.makedirs(os.path.join(self.layout.compute_dir(compute),
                                         'state'), exist_ok=True)
                with open(path, 'w') as f:
                    f.write(wanted)
            self._start(self.compute(compute), started)
        self._discover_hosts()
        return started

    def restart_compute(self, bed_host):
        """Stop the nova-compute of test bed host *bed_host* and start it
        again with the same settings, as an operator's restart does.
        """
        compute = next(c for c in layout_mod.COMPUTES
                       if c.bed_host == bed_host)
        service = self.compute(compute)
        service.stop()
        self._start(self.compute(compute), [])

    def _write_clouds_yaml(self):
        L = self.layout
        entry = {'clouds': {layout_mod.CLOUD_NAME: {
            'auth': {'auth_url': L.keystone_url, 'username': 'admin',
                     'password': layout_mod.PASSWORD,
                     'project_name': 'admin',
                     'user_domain_name': 'Default',
                     'project_domain_name': 'Default'},
            'region_name': layout_mod.REGION,
            'identity_api_version': 3,
            'interface': 'public',
        }}}
        with open(L.clouds_yaml, 'w') as f:
            yaml.safe_dump(entry, f, default_flow_style=False)
        self._user_clouds_yaml(entry['clouds'][layout_mod.CLOUD_NAME])

    def _user_clouds_yaml(self, entry):
        """Add (or with None remove) the cloud's entry in the user's
        ``clouds.yaml``, where ``openstack --os-cloud migtuner-local``
        looks without any environment variable. Other entries stay.
        """
        path = USER_CLOUDS_YAML
        try:
            with open(path) as f:
                data = yaml.safe_load(f) or {}
        except FileNotFoundError:
            data = {}
        except (OSError, yaml.YAMLError) as exc:
            LOG.warning('cloud: not touching %s, which cannot be read as '
                        'YAML: %s', path, exc)
            return
        clouds = data.setdefault('clouds', {})
        if entry is None:
            if clouds.pop(layout_mod.CLOUD_NAME, None) is None:
                return
        else:
            clouds[layout_mod.CLOUD_NAME] = entry
        if not clouds and set(data) == {'clouds'}:
            os.remove(path)
            return
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            yaml.safe_dump(data, f, default_flow_style=False)

    # -- one-time set-up steps ---------------------------------------------

    def _init_mariadb(self):
        data = self.layout.path('mariadb', 'data')
        if os.path.isdir(os.path.join(data, 'mysql')):
            return
        os.makedirs(data, exist_ok=True)
        self._run(['mariadb-install-db', '--no-defaults', '--user=root',
                   '--datadir=%s' % data, '--skip-test-db',
                   '--auth-root-authentication-method=socket'],
                  name='mariadb')

    def _create_databases(self):
        sql = ["CREATE USER IF NOT EXISTS 'migtuner'@'127.0.0.1' "
               "IDENTIFIED BY '%s'" % layout_mod.PASSWORD,
               "GRANT ALL PRIVILEGES ON *.* TO 'migtuner'@'127.0.0.1'"]
        sql += ['CREATE DATABASE IF NOT EXISTS %s CHARACTER SET utf8mb4'
                % db for db in layout_mod.DATABASES]
        self._run(self._mysql_argv('; '.join(sql)), name='mariadb')

    def _init_rabbitmq(self):
        base = self.layout.path('rabbitmq')
        os.makedirs(os.path.join(base, 'log'), exist_ok=True)
        for name, text in (('rabbitmq-env.conf', ''),
                           ('enabled_plugins', '[].\n'),
                           ('rabbitmq.conf', '')):
            with open(os.path.join(base, name), 'w') as f:
                f.write(text)

    def _init_keystone(self):
        L = self.layout
        manage = [L.bin(L.cloud_venv, 'keystone-manage'), '--config-file',
                  L.etc('keystone', 'keystone.conf')]
        for sub in ('fernet-keys', 'credential-keys'):
            os.makedirs(L.path('keystone', sub), exist_ok=True)
        self._run(manage + ['db_sync'], name='keystone')
        self._run(manage + ['fernet_setup', '--keystone-user', 'root',
                            '--keystone-group', 'root'], name='keystone')
        self._run(manage + ['credential_setup', '--keystone-user', 'root',
                            '--keystone-group', 'root'], name='keystone')
        self._run(manage + [
            'bootstrap', '--bootstrap-password', layout_mod.PASSWORD,
            '--bootstrap-admin-url', L.keystone_url,
            '--bootstrap-internal-url', L.keystone_url,
            '--bootstrap-public-url', L.keystone_url,
            '--bootstrap-region-id', layout_mod.REGION], name='keystone')

    def connection(self):
        """An openstacksdk connection as the cloud's admin."""
        if self._conn is None:
            from openstack import config as os_config
            from openstack import connection

            region = os_config.OpenStackConfig(
                config_files=[self.layout.clouds_yaml],
                load_envvars=False).get_one(cloud=layout_mod.CLOUD_NAME)
            self._conn = connection.Connection(config=region)
        return self._conn

    def _create_catalog(self):
        L = self.layout
        conn = self.connection()
        identity = conn.identity
        project = identity.find_project('service', domain_id='default') or \
            identity.create_project(name='service', domain_id='default')
        # The service role: keystonemiddleware accepts a service token
        # (nova -> neutron, nova -> placement) only with it.
        roles = [identity.find_role('admin'),
                 identity.find_role('service') or
                 identity.create_role(name='service')]
        for user_name in layout_mod.SERVICE_USERS:
            user = identity.find_user(user_name, domain_id='default') or \
                identity.create_user(name=user_name, domain_id='default',
                                     password=layout_mod.PASSWORD)
            for role in roles:
                identity.assign_project_role_to_user(project, user, role)
        for name, kind, port, suffix in (
                ('glance', 'image', L.glance_port, ''),
                ('placement', 'placement', L.placement_port, ''),
                ('neutron', 'network', L.neutron_port, ''),
                ('nova', 'compute', L.nova_api_port, '/v2.1')):
            service = identity.find_service(name) or \
                identity.create_service(name=name, type=kind)
            existing = {e.interface for e in identity.endpoints(
                service_id=service.id)}
            for interface in {'public', 'internal'} - existing:
                identity.create_endpoint(
                    service_id=service.id, interface=interface,
                    url=L.url(port, suffix), region_id=layout_mod.REGION)

    def _init_glance(self):
        L = self.layout
        for sub in ('images', 'staging', 'tasks', 'locks'):
            os.makedirs(L.path('glance', sub), exist_ok=True)
        self._run([L.bin(L.cloud_venv, 'glance-manage'), '--config-file',
                   L.etc('glance', 'glance-api.conf'), 'db_sync'],
                  name='glance')

    def _init_placement(self):
        L = self.layout
        self._run([L.bin(L.cloud_venv, 'placement-manage'), '--config-file',
                   L.etc('placement', 'placement.conf'), 'db', 'sync'],
                  name='placement')

    def _init_neutron(self):
        L = self.layout
        os.makedirs(L.path('neutron', 'state'), exist_ok=True)
        self._run([L.bin(L.cloud_venv, 'neutron-db-manage'), '--config-file',
                   L.etc('neutron', 'neutron.conf'), '--config-file',
                   L.etc('neutron', 'ml2_conf.ini'), 'upgrade', 'heads'],
                  name='neutron')

    def _nova_manage(self, *args):
        L = self.layout
        return self._run([L.bin(L.venv, 'nova-manage'), '--config-file',
                          L.etc('nova', 'nova.conf')] + list(args),
                         name='nova-manage')

    def _init_nova(self):
        self._nova_manage('api_db', 'sync')
        self._nova_manage('cell_v2', 'map_cell0', '--database_connection',
                          self.layout.db_url('nova_cell0'))
        if ' cell1 ' not in self._nova_manage('cell_v2', 'list_cells'):
            self._nova_manage('cell_v2', 'create_cell', '--name', 'cell1')
        self._nova_manage('db', 'sync')

    def _discover_hosts(self):
        self._nova_manage('cell_v2', 'discover_hosts', '--verbose')
        deadline = time.monotonic() + 60
        wanted = {c.host for c in layout_mod.COMPUTES}
        while time.monotonic() < deadline:
            found = {h.name for h in self.connection().compute.hypervisors()}
            if wanted <= {n.split('.')[0] for n in found}:
                return
            time.sleep(1)
            self._nova_manage('cell_v2', 'discover_hosts')
        raise CloudError('the compute API lists hypervisors %s, not %s, '
                         'after host discovery' % (sorted(found),
                                                   sorted(wanted)))

    def _nova_service_up(self, binary, host):
        def check():
            try:
                found = list(self.connection().compute.services(
                    binary=binary))
            except Exception as exc:
                self._conn = None
                return 'the compute API did not answer: %s' % exc
            for service in found:
                if (host is None or service.host == host) and \
                        service.state == 'up':
                    return None
            return '%s%s is not up in the compute API' % (
                binary, '' if host is None else ' on %s' % host)
        return check

    # -- guest image and flavor --------------------------------------------

    def ensure_guest_image(self, name=IMAGE_NAME, workload=None):
        """The test bed guest in glance: kernel, initramfs, tiny root, and
        the workload's parameters in ``os_command_line``.
        """
        conn = self.connection()
        image = conn.image.find_image(name)
        if image is not None:
            return image
        artifacts = self.bed.artifacts
        artifacts.ensure_built()
        # Named by their build inputs: a changed workload program gets new
        # uploads instead of an earlier build found by name.
        build = artifacts_version(artifacts)
        kernel = self._upload_once('%s-kernel-%s' % (IMAGE_NAME, build),
                                   artifacts.kernel, 'aki')
        ramdisk = self._upload_once('%s-initramfs-%s' % (IMAGE_NAME, build),
                                    artifacts.initramfs, 'ari')
        root = self.layout.path('state', 'root.raw')
        if not os.path.exists(root):
            with open(root, 'wb') as f:
                f.truncate(1024 * 1024)
        workload = workload or IDLE_WORKLOAD
        command_line = '%s %s' % (guest.BASE_KERNEL_ARGS,
                                  workload.kernel_args())
        return conn.image.create_image(
            name=name, filename=root, disk_format='raw',
            container_format='bare', visibility='public',
            kernel_id=kernel.id, ramdisk_id=ramdisk.id,
            os_command_line=command_line, wait=True)

    def _upload_once(self, name, path, kind):
        conn = self.connection()
        image = conn.image.find_image(name)
        if image is None:
            image = conn.image.create_image(
                name=name, filename=path, disk_format=kind,
                container_format=kind, visibility='public', wait=True)
        return image

    def ensure_flavor(self, name=FLAVOR_NAME, ram_mb=FLAVOR_RAM_MB):
        compute = self.connection().compute
        flavor = compute.find_flavor(name)
        if flavor is None:
            flavor = compute.create_flavor(name=name, ram=ram_mb, vcpus=1,
                                           disk=1, is_public=True)
        return flavor

    # -- status and down ---------------------------------------------------

    def status(self):
        bed = self.bed.status()
        result = {'workdir': self.layout.workdir,
                  'clouds_yaml': self.layout.clouds_yaml,
                  'libvirt_hosts': {
                      name: {'running': host['running'], 'pid': host['pid'],
                             'uri': host['uri'], 'guests': host['guests']}
                      for name, host in bed['hosts'].items()},
                  'services': []}
        for service in self.services():
            result['services'].append(service.status())
        result['control_plane_rss_mib'] = round(sum(
            s['rss_mib'] for s in result['services']), 1)
        return result

    def kept_logs_dir(self):
        """Where ``down`` keeps the services' logs of the last cloud."""
        return self.layout.workdir.rstrip(os.sep) + '-logs'

    def _keep_logs(self):
        # The state goes, the logs stay: a failed run is read after down.
        logs, kept = self.layout.path('logs'), self.kept_logs_dir()
        if not os.path.isdir(logs):
            return
        shutil.rmtree(kept, ignore_errors=True)
        try:
            shutil.move(logs, kept)
        except OSError as e:
            LOG.warning('could not keep the logs of %s in %s: %s', logs,
                        kept, e)
            return
        LOG.info('the services\' logs are kept in %s', kept)

    def down(self):
        """Stop every service and the test bed; remove the cloud's state
        (its logs are kept, in ``kept_logs_dir()``).

        Raises CloudError listing whatever is left behind.
        """
        self._conn = None
        everything = self.services()
        # The OpenStack services in parallel (each may wait out its stop
        # timeout), then the broker and the database they were using.
        backends = {'mariadb', 'epmd', 'rabbitmq'}
        with futures.ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda s: s.stop(),
                          [s for s in everything if s.name not in backends]))
        for service in reversed(everything):
            if service.name in backends:
                service.stop()
        self.bed.down()
        for pid in self._cloud_processes():
            processes.kill(pid)
        self._keep_logs()
        shutil.rmtree(self.layout.workdir, ignore_errors=True)
        self._user_clouds_yaml(None)
        left = self.leftovers()
        if any(left.values()):
            raise CloudError('cloud down left things behind: %s' % left)

    def _cloud_processes(self):
        marker = ('%s=%s' % (layout_mod.WORKDIR_ENV,
                             self.layout.workdir)).encode()
        found = []
        for entry in os.listdir('/proc'):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open('/proc/%s/environ' % entry, 'rb') as f:
                    env = f.read().split(b'\0')
            except OSError:
                continue
            if marker in env and processes.is_running(int(entry)):
                found.append(int(entry))
        return found

    def listening_ports(self):
        """The cloud's TCP ports that something still listens on."""
        L = self.layout
        ports = [('127.0.0.1', p) for p in (
            L.db_port, L.amqp_port, L.rabbit_dist_port, L.epmd_port,
            L.keystone_port, L.glance_port, L.placement_port,
            L.neutron_port, L.nova_api_port)]
        ports += [(c.address, layout_mod.LIBVIRT_PORT)
                  for c in layout_mod.COMPUTES]
        busy = []
        for address, port in ports:
            with socket.socket() as sock:
                sock.settimeout(0.5)
                if sock.connect_ex((address, port)) == 0:
                    busy.append('%s:%d' % (address, port))
        return busy

    def leftovers(self):
        left = self.bed.leftovers()
        left['processes'] = sorted(set(left['processes']) |
                                   set(self._cloud_processes()))
        left['ports'] = self.listening_ports()
        return left
