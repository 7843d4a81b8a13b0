"""The cloud of ``nova-migtuner cloud``, shared by the tests here.

``tools/run test`` brings the cloud up before these tests and down after
the Tempest run; run alone, the fixture brings it up (with the migtuner
driver) and takes it down again if it started it.
"""

import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from nova_migtuner.cloud import cloud as cloud_mod
from nova_migtuner.cloud import layout as layout_mod
from nova_migtuner.cloud import observer as observer_mod

OPENSTACK_TIMEOUT_S = 600
BOOT_TIMEOUT_S = 240


@pytest.fixture(scope='session')
def cloud():
    cloud = cloud_mod.Cloud()
    was_up = all(s.is_running() for s in cloud.services())
    cloud.up(driver=os.environ.get('MIGTUNER_CLOUD_TEST_DRIVER', 'migtuner'))
    yield cloud
    if not was_up:
        cloud.down()


class OpenStackCLI:
    """The real ``openstack`` binary, as an operator runs it."""

    def __init__(self, cloud):
        self.cloud = cloud
        self.binary = os.path.join(os.path.dirname(sys.executable),
                                   'openstack')
        self.env = dict(os.environ)
        self.env.update({
            'OS_CLIENT_CONFIG_FILE': cloud.layout.clouds_yaml,
            'OS_CLOUD': layout_mod.CLOUD_NAME,
            'MIGTUNER_OPERATOR_SECRET_FILE': cloud.operator_secret_file,
            'MIGTUNER_REPORT_DB': cloud.reports_db,
        })

    def run(self, *args, check=True, timeout=OPENSTACK_TIMEOUT_S):
        proc = subprocess.run([self.binary] + list(args), env=self.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError('openstack %s exited %d:\n%s\n%s' % (
                ' '.join(args), proc.returncode, proc.stdout, proc.stderr))
        return proc

    def json(self, *args, **kwargs):
        return json.loads(self.run(*(args + ('-f', 'json')),
                                   **kwargs).stdout)


@pytest.fixture(scope='session')
def openstack(cloud):
    return OpenStackCLI(cloud)


@pytest.fixture
def servers(cloud, openstack):
    """Boot servers with ``servers(n, image=...)``; deleted afterwards."""
    created = []

    def boot(count=1, image=cloud_mod.IMAGE_NAME, host=None,
             flavor=cloud_mod.FLAVOR_NAME):
        names = ['mt-%s' % uuid.uuid4().hex[:8] for _ in range(count)]
        for name in names:
            args = ['server', 'create', '--image', image, '--flavor',
                    flavor, '--nic', 'none', name]
            if host:
                args[2:2] = ['--os-compute-api-version', '2.74']
                args += ['--host', host]
            server = openstack.json(*args)
            created.append(server['id'])
        return [wait_active(openstack, server_id)
                for server_id in created[-count:]]

    yield boot
    for server_id in created:
        openstack.run('server', 'delete', '--wait', server_id, check=False)


def wait_active(openstack, server_id, timeout=BOOT_TIMEOUT_S):
    deadline = time.monotonic() + timeout
    while True:
        server = openstack.json('server', 'show', server_id)
        if server['status'] == 'ACTIVE':
            return server
        if server['status'] == 'ERROR' or time.monotonic() > deadline:
            raise AssertionError('server %s is %s, not ACTIVE: %s'
                                 % (server_id, server['status'],
                                    server.get('fault')))
        time.sleep(2)


def host_of(server):
    return server['OS-EXT-SRV-ATTR:host']


@pytest.fixture
def observe(cloud):
    return lambda server_id: observer_mod.ServerObserver(cloud, server_id)
