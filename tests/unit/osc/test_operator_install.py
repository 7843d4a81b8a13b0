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

"""The openstack migtuner commands run where neither nova nor libvirt is
installed (an operator's workstation: pip install --no-deps, see the
operations guide)."""

import subprocess
import sys

BLOCK_NOVA_AND_LIBVIRT = '''
import importlib.abc, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('nova', 'libvirt', 'taskflow'):
            raise ImportError('%s is not installed here' % name)
        return None

sys.meta_path.insert(0, Block())
'''


def test_commands_import_without_nova_libvirt_or_taskflow():
    code = BLOCK_NOVA_AND_LIBVIRT + '''
from nova_migtuner.osc.v1 import drain, migrate, plan, report
from nova_migtuner.osc import plugin
from nova_migtuner.planning import planner
assert planner.available_strategies()
from cliff import columns
print('ok')
'''
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == 'ok'
