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

"""The migtuner commands check their own input before contacting keystone.

Runs the real ``openstack`` command (the installed plugin) against an
identity URL where nothing listens: a local error must come without any
attempt to connect, and input that passes the local checks must go on to
authenticate.
"""

import os
import shutil
import subprocess
import sys

import pytest

OPENSTACK = os.path.join(os.path.dirname(sys.executable), 'openstack')
UNREACHABLE_KEYSTONE = 'http://127.0.0.1:1/v3'
CONNECTING = 'Unable to establish connection'

pytestmark = pytest.mark.skipif(
    not os.path.exists(OPENSTACK) and not shutil.which('openstack'),
    reason='python-openstackclient is not installed')


def openstack(*argv, tmp_path):
    env = dict(os.environ, OS_AUTH_URL=UNREACHABLE_KEYSTONE,
               OS_USERNAME='admin', OS_PASSWORD='secret',
               OS_PROJECT_NAME='admin', OS_USER_DOMAIN_NAME='Default',
               OS_PROJECT_DOMAIN_NAME='Default', OS_AUTH_TYPE='password',
               HOME=str(tmp_path))
    for name in ('OS_CLOUD', 'MIGTUNER_CONFIG_FILE',
                 'MIGTUNER_OPERATOR_SECRET', 'MIGTUNER_OPERATOR_SECRET_FILE'):
        env.pop(name, None)
    return subprocess.run(
        [OPENSTACK if os.path.exists(OPENSTACK) else 'openstack'] +
        list(argv), env=env, capture_output=True, text=True, timeout=120,
        cwd=str(tmp_path))


@pytest.mark.parametrize('argv,message', [
    (['migtuner', 'plan', 'web', '--strategy', 'yolo'],
     "unknown strategy 'yolo'"),
    (['migtuner', 'migrate', 'web', '--strategy', 'yolo'],
     "unknown strategy 'yolo'"),
    (['migtuner', 'migrate', 'web', '--strategy', 'fastest'],
     'no operator secret configured'),
    (['migtuner', 'drain', 'compute1', '--config-file', 'missing.conf'],
     'cannot read configuration missing.conf'),
    (['migtuner', 'report', '--since', 'yesterday'],
     "'yesterday' cannot be read"),
])
def test_local_errors_come_before_keystone(tmp_path, argv, message):
    proc = openstack(*argv, tmp_path=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert message in proc.stderr
    assert CONNECTING not in proc.stderr
    assert '127.0.0.1:1' not in proc.stderr


def test_valid_input_then_authenticates(tmp_path):
    proc = openstack('migtuner', 'plan', 'web', '--strategy', 'fastest',
                     tmp_path=tmp_path)
    assert proc.returncode == 1
    assert CONNECTING in proc.stderr


def test_report_reads_the_local_database_without_credentials(tmp_path):
    from nova_migtuner.reports import store as store_mod
    db = tmp_path / 'reports.sqlite'
    store_mod.ReportStore(str(db))
    proc = openstack('migtuner', 'report', '--report-db', str(db),
                     '-f', 'json', tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == '[]'
