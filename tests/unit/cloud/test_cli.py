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

"""The cloud's command line, without starting anything."""

import argparse
import subprocess
import sys

import pytest

from nova_migtuner.cloud import cli as cloud_cli


@pytest.mark.parametrize('bad', ['libvirt.x', 'nosection=1', '.key=1',
                                 'libvirt.=1', '=1'])
def test_nova_option_refuses_what_is_not_section_key_value(bad):
    with pytest.raises(argparse.ArgumentTypeError) as exc:
        cloud_cli.nova_option(bad)
    assert repr(bad) in str(exc.value)
    assert 'SECTION.KEY=VALUE' in str(exc.value)


def test_nova_option_parses():
    assert cloud_cli.nova_option('libvirt.live_migration_bandwidth=0') == (
        'libvirt', 'live_migration_bandwidth', '0')


def test_unknown_driver_exits_2_naming_the_choices():
    proc = subprocess.run(
        [sys.executable, '-m', 'nova_migtuner.cloud.cli', 'up', '--driver',
         'xen'], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "'xen'" in proc.stderr and 'migtuner' in proc.stderr
