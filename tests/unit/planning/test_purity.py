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

"""The planning package imports neither nova nor libvirt.

A child interpreter blocks both with a meta-path finder, imports every
module of ``nova_migtuner.planning`` and builds a plan; any attempt to
import them (even one that is caught) fails the test.
"""

import json
import os
import subprocess
import sys

CHILD = r'''
import importlib
import json
import pkgutil
import sys

BLOCKED = ('nova', 'libvirt', 'libvirtmod')
attempts = []


class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in BLOCKED:
            attempts.append(name)
            raise ImportError('%s is blocked in the planning purity check'
                              % name)
        return None


sys.meta_path.insert(0, Block())
import nova_migtuner.planning as planning
modules = []
for info in pkgutil.walk_packages(planning.__path__,
                                  planning.__name__ + '.'):
    importlib.import_module(info.name)
    modules.append(info.name)
from nova_migtuner import units
from nova_migtuner.planning import context, inputs, planner
built = inputs.build_inputs(memory_bytes=4 * units.GiB,
                            link_bandwidth=inputs.given(100 * units.MiB),
                            limits=context.AdminLimits())
plan = planner.build_plan(built, 'balanced')
loaded = sorted(m for m in sys.modules if m.split('.')[0] in BLOCKED)
print(json.dumps({'modules': modules, 'attempts': attempts,
                  'loaded': loaded, 'strategy': plan.strategy,
                  'strategies': sorted(planner.available_strategies())}))
'''


def run_child():
    # The repository's root (tests/unit/planning/../../..): this tree's
    # code, not an installed copy.
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..',
                                        '..'))
    env = dict(os.environ, PYTHONPATH=root)
    done = subprocess.run([sys.executable, '-c', CHILD], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_planning_imports_neither_nova_nor_libvirt():
    result = run_child()
    assert result['attempts'] == []
    assert result['loaded'] == []
    # It did import the package, strategies included, and planned.
    assert 'nova_migtuner.planning.planner' in result['modules']
    assert 'nova_migtuner.planning.strategies.balanced' in result['modules']
    assert result['strategy'] == 'balanced'
    assert {'balanced', 'min_downtime', 'fastest',
            'conservative'} <= set(result['strategies'])
