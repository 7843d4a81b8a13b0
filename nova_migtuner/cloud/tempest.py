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

"""Run the Tempest plugin against the cloud: tempest.conf, then tempest.

The workspace lives in the cloud's work dir; ``tempest run`` runs in the
tempest venv (Tempest's pins are kept apart from nova's).
"""

import configparser
import os
import subprocess

from nova_migtuner.cloud import cloud as cloud_mod
from nova_migtuner.cloud import configs
from nova_migtuner.cloud import layout as layout_mod

RUN_TIMEOUT_S = 1800


def workspace(cloud):
    return cloud.layout.path('tempest')


def write_config(cloud):
    """Write ``etc/tempest.conf`` of the workspace for this cloud."""
    L = cloud.layout
    conn = cloud.connection()
    image = cloud.ensure_guest_image()
    busy = cloud.ensure_guest_image(cloud_mod.BUSY_IMAGE_NAME,
                                    cloud_mod.BUSY_WORKLOAD)
    flavor = cloud.ensure_flavor()
    conf = configparser.ConfigParser(interpolation=None)
    base = workspace(cloud)
    conf.read_dict({
        'DEFAULT': {'log_file': os.path.join(base, 'tempest.log'),
                    'debug': 'false'},
        'auth': {'admin_username': 'admin',
                 'admin_password': layout_mod.PASSWORD,
                 'admin_project_name': 'admin',
                 'admin_domain_name': 'Default',
                 'use_dynamic_credentials': 'true',
                 'create_isolated_networks': 'false'},
        'identity': {'uri_v3': L.keystone_url, 'auth_version': 'v3',
                     'region': layout_mod.REGION},
        'identity-feature-enabled': {'api_v2': 'false'},
        'compute': {'image_ref': image.id, 'image_ref_alt': image.id,
                    'flavor_ref': flavor.id, 'flavor_ref_alt': flavor.id,
                    'min_compute_nodes': str(len(layout_mod.COMPUTES)),
                    'max_microversion': 'latest',
                    'build_timeout': '300', 'build_interval': '2',
                    'region': layout_mod.REGION},
        'compute-feature-enabled': {
            'live_migration': 'true',
            'block_migration_for_live_migration': 'true',
            'cold_migration': 'false', 'resize': 'false',
            'console_output': 'true', 'vnc_console': 'false',
            'serial_console': 'false', 'spice_console': 'false'},
        'validation': {'run_validation': 'false'},
        'service_available': {'neutron': 'true', 'cinder': 'false',
                              'swift': 'false', 'glance': 'true',
                              'nova': 'true', 'nova_migtuner': 'true'},
        'nova_migtuner': {
            'cli_available': 'true',
            'cli_command': L.bin(L.venv, 'nova-migtuner'),
            'busy_image_ref': busy.id,
            'busy_ready_marker': 'mtw ready',
            'busy_flavor_ram_mb': str(cloud_mod.FLAVOR_RAM_MB),
            # Stock nova's own abort of this guest comes at about 200 s
            # (800 s per GiB); a tuned migration takes seconds.
            'busy_migration_budget': '180',
            'boot_without_network': 'true',
        },
    })
    del conn
    os.makedirs(os.path.join(base, 'etc'), exist_ok=True)
    path = os.path.join(base, 'etc', 'tempest.conf')
    with open(path, 'w') as f:
        f.write('# Written by nova-migtuner cloud tempest (link cap %d MiB/s '
                'per migration on the computes)\n' % configs.LINK_CAP_MIB_S)
        conf.write(f)
    return path


def run(cloud, regex, concurrency=1):
    """``tempest run`` of *regex* in the workspace; return its exit code."""
    L = cloud.layout
    tempest = L.bin(L.tempest_venv, 'tempest')
    if not os.path.exists(tempest):
        raise cloud_mod.CloudError(
            'Tempest is not installed at %s; "tools/run test" installs it'
            % tempest)
    base = workspace(cloud)
    if not os.path.exists(os.path.join(base, '.stestr.conf')):
        # The workspace is registered in a file of the cloud's own, not in
        # ~/.tempest/workspace.yaml, where an earlier cloud's entry of the
        # same name would make init refuse.
        init = subprocess.run(
            [tempest, 'init', '--name', 'nova-migtuner-cloud',
             '--workspace-path', L.path('tempest-workspace.yaml'), base],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            timeout=120)
        if init.returncode:
            raise cloud_mod.CloudError('tempest init %s failed:\n%s'
                                       % (base, init.stdout[-2000:]))
    write_config(cloud)
    env = dict(os.environ)
    env.pop('OS_CLOUD', None)
    try:
        return subprocess.run(
            [tempest, 'run', '--regex', regex, '--concurrency',
             str(concurrency)], cwd=base, env=env,
            timeout=RUN_TIMEOUT_S).returncode
    except subprocess.TimeoutExpired:
        print('tempest run did not finish within %d s; its log: %s'
              % (RUN_TIMEOUT_S, os.path.join(base, 'tempest.log')))
        return 1
