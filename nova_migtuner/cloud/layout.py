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

"""Where the cloud's pieces live: work dir, venvs, addresses and ports.

Everything listens on loopback only. The two compute hosts are the test
bed's libvirtd hosts on 127.0.0.2 and 127.0.0.3, both on libvirt's default
TCP port, because nova builds ``qemu+tcp://<live_migration_inbound_addr>/
system`` and ``tcp://<live_migration_inbound_addr>`` without a port.
The credentials are fixed: this cloud is reachable from this machine only.
"""

import dataclasses
import os
import sys

WORKDIR_ENV = 'NOVA_MIGTUNER_CLOUD_DIR'
DEFAULT_WORKDIR = '/var/tmp/nova-migtuner-cloud'
CLOUD_VENV_ENV = 'MIGTUNER_CLOUD_VENV'
TEMPEST_VENV_ENV = 'MIGTUNER_TEMPEST_VENV'
CLOUD_NAME = 'migtuner-local'
REGION = 'RegionOne'
PASSWORD = 'migtuner-local-secret'
# The instances directory every compute sees; each host bind-mounts its
# own copy over it (a shared one makes nova choose a shared-storage
# migration, which libvirt then refuses as unsafe).
INSTANCES_PATH = '/var/lib/nova/instances'
SERVICE_USERS = ('nova', 'glance', 'placement', 'neutron')
DATABASES = ('keystone', 'glance', 'placement', 'neutron', 'nova_api',
             'nova_cell0', 'nova')


@dataclasses.dataclass(frozen=True)
class Compute:
    """One nova-compute and the test bed host it runs on."""

    bed_host: str          # 'a' or 'b'
    address: str           # its libvirtd and migration address

    @property
    def host(self):
        # The test bed's hostname of that libvirtd (its UTS namespace),
        # which is also libvirt's hypervisor hostname.
        return 'migtuner-%s' % self.bed_host


COMPUTES = (Compute('a', '127.0.0.2'), Compute('b', '127.0.0.3'))
LIBVIRT_PORT = 16509


@dataclasses.dataclass(frozen=True)
class Layout:
    workdir: str
    venv: str              # nova, nova_migtuner, openstackclient
    cloud_venv: str        # keystone, glance, placement, neutron, waitress
    tempest_venv: str
    db_port: int = 13306
    amqp_port: int = 15673
    rabbit_dist_port: int = 25673
    epmd_port: int = 14369
    keystone_port: int = 15000
    glance_port: int = 19292
    placement_port: int = 18778
    neutron_port: int = 19696
    nova_api_port: int = 18774
    # The report collector's Prometheus endpoint (--metrics-port).
    collector_metrics_port: int = 19100

    @classmethod
    def from_environment(cls, workdir=None):
        root = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
        venv = sys.prefix
        # Installed into a venv: the repository's venvs are next to it.
        base = os.path.dirname(venv) if os.path.basename(venv).startswith(
            '.venv') else root
        return cls(
            workdir=os.path.abspath(
                workdir or os.environ.get(WORKDIR_ENV) or DEFAULT_WORKDIR),
            venv=venv,
            cloud_venv=os.environ.get(CLOUD_VENV_ENV) or os.path.join(
                base, '.venv-cloud'),
            tempest_venv=os.environ.get(TEMPEST_VENV_ENV) or os.path.join(
                base, '.venv-tempest'))

    def path(self, *parts):
        return os.path.join(self.workdir, *parts)

    @property
    def run_dir(self):
        return self.path('run')

    def log(self, name):
        return self.path('logs', '%s.log' % name)

    def etc(self, *parts):
        return self.path('etc', *parts)

    def url(self, port, suffix=''):
        return 'http://127.0.0.1:%d%s' % (port, suffix)

    @property
    def keystone_url(self):
        return self.url(self.keystone_port, '/v3')

    def db_url(self, database):
        return ('mysql+pymysql://migtuner:%s@127.0.0.1:%d/%s?charset=utf8'
                % (PASSWORD, self.db_port, database))

    @property
    def transport_url(self):
        return 'rabbit://guest:guest@127.0.0.1:%d/' % self.amqp_port

    def bin(self, venv, name):
        return os.path.join(venv, 'bin', name)

    @property
    def clouds_yaml(self):
        return self.path('clouds.yaml')

    @property
    def testbed_dir(self):
        return self.path('testbed')

    def compute_dir(self, compute):
        return self.path('compute-%s' % compute.bed_host)
