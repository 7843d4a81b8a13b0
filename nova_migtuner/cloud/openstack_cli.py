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

"""The real ``openstack`` binary against the cloud, as an operator runs it."""

import json
import os
import subprocess
import sys
import time

from nova_migtuner.cloud import layout as layout_mod

TIMEOUT_S = 600
BOOT_TIMEOUT_S = 240


class OpenStackError(Exception):
    """An ``openstack`` command failed; the message has its output."""


class OpenStackCLI:
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

    def run(self, *args, check=True, timeout=TIMEOUT_S):
        proc = subprocess.run([self.binary] + list(args), env=self.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise OpenStackError('openstack %s exited %d:\n%s\n%s' % (
                ' '.join(args), proc.returncode, proc.stdout, proc.stderr))
        return proc

    def json(self, *args, **kwargs):
        return json.loads(self.run(*(args + ('-f', 'json')),
                                   **kwargs).stdout)

    def boot(self, name, image, flavor, host=None):
        """Create a server without a network; return it once ACTIVE."""
        args = ['server', 'create', '--image', image, '--flavor', flavor,
                '--nic', 'none', name]
        if host:
            args = ['--os-compute-api-version', '2.74'] + args + [
                '--host', host]
        return self.wait_active(self.json(*args)['id'])

    def wait_active(self, server_id, timeout=BOOT_TIMEOUT_S):
        deadline = time.monotonic() + timeout
        while True:
            server = self.json('server', 'show', server_id)
            if server['status'] == 'ACTIVE':
                return server
            if server['status'] == 'ERROR' or time.monotonic() > deadline:
                raise OpenStackError(
                    'server %s is %s, not ACTIVE: %s'
                    % (server_id, server['status'], server.get('fault')))
            time.sleep(2)


def host_of(server):
    return server['OS-EXT-SRV-ATTR:host']
