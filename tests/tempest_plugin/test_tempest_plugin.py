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

"""The Tempest plugin: installable next to Tempest, discovered, skips cleanly.

Tempest pins its own dependencies, so it lives in a venv of its own
(tools/run makes ``.venv-tempest``)::

    python3 -m venv .venv-tempest
    .venv-tempest/bin/pip install tempest
    .venv-tempest/bin/pip install --no-deps .

The tests that need Tempest use the venv named by ``MIGTUNER_TEMPEST_VENV``
(default ``.venv-tempest`` in the repository), or the running Python when
it has Tempest, and skip with the reason otherwise. The import rules are
checked without Tempest.
"""

import ast
import filecmp
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

from nova_migtuner_tempest_plugin import config as plugin_config

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = ROOT / 'nova_migtuner_tempest_plugin'
ENTRY_POINT = ('nova_migtuner_tests',
               'nova_migtuner_tempest_plugin.plugin:MigTunerTempestPlugin')
# Tempest's stable interfaces, and the few others this plugin may use.
ALLOWED_TEMPEST_MODULES = (
    'tempest.lib', 'tempest.config', 'tempest.test',
    'tempest.test_discover.plugins', 'tempest.api.compute.base',
)
NOT_AVAILABLE = ('nova-migtuner is not available in this cloud '
                 '([service_available] nova_migtuner = False)')


def _imports(path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            for alias in node.names:
                yield '%s.%s' % (node.module, alias.name)


def _allowed_tempest(name):
    return any(name == m or name.startswith(m + '.')
               for m in ALLOWED_TEMPEST_MODULES)


def test_plugin_imports_neither_nova_nor_nova_migtuner():
    sources = sorted(PACKAGE.rglob('*.py'))
    assert len(sources) >= 5
    for path in sources:
        for name in _imports(path):
            top = name.split('.')[0]
            assert top not in ('nova', 'nova_migtuner'), (path, name)
            if top == 'tempest':
                assert _allowed_tempest(name), (path, name)


def test_config_module_needs_only_oslo_config():
    tops = {n.split('.')[0] for n in _imports(PACKAGE / 'config.py')}
    assert tops == {'oslo_config'}


def test_plugin_options():
    groups = dict(plugin_config.list_opts())
    assert [o.name for o in groups['service_available']] == ['nova_migtuner']
    assert groups['service_available'][0].default is False
    names = {o.name: o.default for o in groups['nova_migtuner']}
    assert names == {
        'cli_available': False, 'cli_command': 'nova-migtuner',
        'expected_strategy': 'balanced', 'max_downtime_ms': 500,
        'busy_migration_budget': 900, 'busy_dirty_mib': 64,
        'busy_flavor_ram_mb': 256, 'max_unreachable_s': 0.0,
        'busy_image_ref': '', 'busy_ready_marker': '',
        'boot_without_network': False,
    }


def _test_ids():
    """Tests of the plugin, from the source: module.Class.test_name."""
    ids = []
    for path in sorted((PACKAGE / 'tests').rglob('test_*.py')):
        module = '.'.join(path.relative_to(ROOT).with_suffix('').parts)
        tree = ast.parse(path.read_text())
        for cls in tree.body:
            if not isinstance(cls, ast.ClassDef):
                continue
            for fn in cls.body:
                if (isinstance(fn, ast.FunctionDef) and
                        fn.name.startswith('test_')):
                    ids.append('%s.%s.%s' % (module, cls.name, fn.name))
    return sorted(ids)


# -- with Tempest -------------------------------------------------------------


def _tempest_bin_dir():
    venv = os.environ.get('MIGTUNER_TEMPEST_VENV',
                          str(ROOT / '.venv-tempest'))
    candidates = [pathlib.Path(venv) / 'bin',
                  pathlib.Path(sys.executable).parent]
    for bin_dir in candidates:
        python = bin_dir / 'python'
        if not python.exists():
            continue
        ok = subprocess.run([str(python), '-c', 'import tempest'],
                            capture_output=True).returncode == 0
        if ok and (bin_dir / 'tempest').exists():
            return bin_dir
    return None


@pytest.fixture(scope='module')
def tempest_bin():
    bin_dir = _tempest_bin_dir()
    if bin_dir is None:
        pytest.skip('tempest is not importable: make a venv with '
                    '"pip install tempest" and "pip install --no-deps ." '
                    'and name it in MIGTUNER_TEMPEST_VENV (default '
                    '.venv-tempest)')
    return bin_dir


def _run(args, **kwargs):
    kwargs.setdefault('timeout', 300)
    return subprocess.run([str(a) for a in args], capture_output=True,
                          text=True, **kwargs)


def test_installed_plugin_is_this_checkout(tempest_bin):
    proc = _run([tempest_bin / 'python', '-c',
                 'import nova_migtuner_tempest_plugin as p\n'
                 'print(p.__file__)'])
    assert proc.returncode == 0, (
        'the Tempest venv lacks the plugin: pip install --no-deps %s\n%s'
        % (ROOT, proc.stderr))
    installed = pathlib.Path(proc.stdout.strip()).parent
    stale = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob('*.py')
             if not filecmp.cmp(p, installed / p.relative_to(PACKAGE),
                                shallow=False)]
    assert not stale, ('the Tempest venv has another version of %s; '
                       'reinstall it with pip install --no-deps %s'
                       % (stale, ROOT))


def test_tempest_lists_the_plugin(tempest_bin):
    proc = _run([tempest_bin / 'tempest', 'list-plugins'])
    assert proc.returncode == 0, proc.stderr
    rows = [[cell.strip() for cell in line.strip('|').split('|')]
            for line in proc.stdout.splitlines() if line.startswith('|')]
    assert list(ENTRY_POINT) in rows, proc.stdout


@pytest.fixture(scope='module')
def workspace(tempest_bin, tmp_path_factory):
    """A Tempest workspace; yields (path, the tempest.conf it starts with)."""
    top = tmp_path_factory.mktemp('tempest')
    # tempest init records workspaces in ~/.tempest: keep that here too.
    env = dict(os.environ, HOME=str(top))
    path = top / 'workspace'
    proc = _run([tempest_bin / 'tempest', 'init', path], cwd=str(top),
                env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return path, (path / 'etc' / 'tempest.conf').read_text(), env


def _tempest_run(tempest_bin, workspace, *args, config=''):
    path, base, env = workspace
    (path / 'etc' / 'tempest.conf').write_text(
        base + textwrap.dedent(config))
    return _run([tempest_bin / 'tempest', 'run'] + list(args),
                cwd=str(path), env=env)


def test_tests_are_discovered(tempest_bin, workspace):
    proc = _tempest_run(tempest_bin, workspace, '--list-tests',
                        '--regex', 'migtuner')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    listed = sorted(line.split('[')[0] for line in proc.stdout.splitlines()
                    if line.startswith('nova_migtuner_tempest_plugin.'))
    assert listed == _test_ids()
    assert len(listed) == 6
    # Every test carries an idempotent id (Tempest's check-uuid rule).
    for line in proc.stdout.splitlines():
        if line.startswith('nova_migtuner_tempest_plugin.'):
            assert '[id-' in line, line


def _totals(output):
    totals = {}
    for line in output.splitlines():
        line = line.strip()
        for key in ('Passed', 'Skipped', 'Failed'):
            if line.startswith('- %s:' % key):
                totals[key] = int(line.split(':')[1])
    return totals


def _all_skipped(proc):
    # stestr exits 1 when no test passed, even when none failed.
    return (proc.returncode == 1 and
            'No tests were successful during the run' in proc.stderr)


def test_everything_skips_without_a_cloud(tempest_bin, workspace):
    proc = _tempest_run(tempest_bin, workspace, '--regex', 'migtuner')
    assert _all_skipped(proc), proc.stdout + proc.stderr
    assert _totals(proc.stdout) == {'Passed': 0, 'Skipped': 4, 'Failed': 0}
    assert proc.stdout.count(NOT_AVAILABLE) == 4, proc.stdout


FAKE_CLI = '''#!/bin/sh
case "$1" in
  --help) echo "usage: nova-migtuner {plan,testbed,bench} ..." ;;
  plan|testbed|bench) echo "usage: nova-migtuner $1 [-h]" ;;
  *) exit 2 ;;
esac
'''


@pytest.mark.parametrize('cli,passes', [
    (FAKE_CLI, True),
    ('#!/bin/sh\necho "usage: nova-migtuner {plan} ..."\n', False),
])
def test_single_node_cloud_skips_migrations_and_runs_cli(
        tempest_bin, workspace, tmp_path, cli, passes):
    script = tmp_path / 'nova-migtuner'
    script.write_text(cli)
    script.chmod(0o755)
    proc = _tempest_run(tempest_bin, workspace, '--regex', 'migtuner',
                        config='''
        [service_available]
        nova_migtuner = True

        [nova_migtuner]
        cli_available = True
        cli_command = %s
        ''' % script)
    out = proc.stdout
    assert (proc.returncode == 0) is passes, out + proc.stderr
    assert 'less than 2 compute nodes ([compute] min_compute_nodes = 1)' \
        in out
    assert out.count('less than 2 compute nodes') == 2, out
    assert 'The microversion range[2.86 - latest]' in out
    if passes:
        assert _totals(out) == {'Passed': 2, 'Skipped': 3, 'Failed': 0}
    else:
        assert _totals(out)['Failed'] >= 1


def test_live_migration_disabled_is_the_reason_given(tempest_bin, workspace):
    proc = _tempest_run(tempest_bin, workspace,
                        '--regex', r'migtuner.*\.MigTunerLiveMigrationTest',
                        config='''
        [service_available]
        nova_migtuner = True

        [compute]
        min_compute_nodes = 2

        [compute-feature-enabled]
        live_migration = False
        ''')
    assert _all_skipped(proc), proc.stdout + proc.stderr
    assert 'live migration is not available ([compute-feature-enabled] ' \
        'live_migration = False)' in proc.stdout
    assert _totals(proc.stdout) == {'Passed': 0, 'Skipped': 1, 'Failed': 0}


def test_every_option_is_documented():
    doc = (ROOT / 'doc/source/install/tempest.rst').read_text()
    for group, opts in plugin_config.list_opts():
        for opt in opts:
            assert '%s = ' % opt.name in doc, (group, opt.name)
