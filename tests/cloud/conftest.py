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

"""The cloud of ``nova-migtuner cloud``, shared by the tests here.

``tools/run test`` brings the cloud up before these tests and down after
the Tempest run; run alone, the fixture brings it up (with the migtuner
driver) and takes it down again if it started it.
``MIGTUNER_CLOUD_TEST_DRIVER=stock`` runs them against nova's own
``libvirt.LibvirtDriver`` instead (to see which of them only migtuner
passes).
"""

import os
import time
import uuid

import pytest

from nova_migtuner.cloud import cloud as cloud_mod
from nova_migtuner.cloud import observer as observer_mod
from nova_migtuner.cloud import openstack_cli

WORKLOAD_TIMEOUT_S = 120


@pytest.fixture(scope='session')
def cloud():
    cloud = cloud_mod.Cloud()
    was_up = all(s.is_running() for s in cloud.services())
    cloud.up(driver=os.environ.get('MIGTUNER_CLOUD_TEST_DRIVER', 'migtuner'))
    yield cloud
    if not was_up:
        cloud.down()


@pytest.fixture(scope='session')
def openstack(cloud):
    return openstack_cli.OpenStackCLI(cloud)


@pytest.fixture
def servers(cloud, openstack):
    """Boot servers with ``servers(n, image=...)``; deleted afterwards."""
    created = []

    def boot(count=1, image=cloud_mod.IMAGE_NAME, host=None,
             flavor=cloud_mod.FLAVOR_NAME):
        booted = []
        for _ in range(count):
            server = openstack.boot('mt-%s' % uuid.uuid4().hex[:8], image,
                                    flavor, host=host)
            created.append(server['id'])
            booted.append(server)
        return booted

    yield boot
    for server_id in created:
        openstack.run('server', 'delete', '--wait', server_id, check=False)


def wait_active(openstack, server_id):
    return openstack.wait_active(server_id)


host_of = openstack_cli.host_of


@pytest.fixture
def observe(cloud):
    return lambda server_id: observer_mod.ServerObserver(cloud, server_id)


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError('timed out after %.0f s waiting for %s'
                         % (timeout, what))


def wait_for_workload(observer, bed_host):
    wait_for(lambda: 'mtw ready' in observer.console_text(bed_host),
             WORKLOAD_TIMEOUT_S,
             'the guest workload on %s (%s)' % (
                 bed_host, observer.console_log(bed_host)))
