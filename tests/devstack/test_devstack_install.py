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
"""The plugin's install and clean phases with a real pip and a real nova.

Each test makes a throwaway venv and installs nova into it as a node has
it: editable from nova's source (DevStack's ``setup_develop $NOVA_DIR``)
or from nova's wheel (a packaged nova). Then ``stack install`` runs with
pip of that venv (``PIP_VIRTUAL_ENV``), and the venv's Python imports
``nova.virt.migtuner`` and loads ``compute_driver = migtuner.MigTunerDriver``.

nova comes from the package index or pip's cache, the same version as the
test venv's. nova's own requirements are not what is tested and take many
minutes to install: the throwaway venv sees the test venv's packages, less
nova and nova-migtuner, through a path file. Without nova from the index
or the cache the tests skip and say why.
"""

import importlib.metadata
import os
import pathlib
import subprocess
import sys
import sysconfig
import tarfile

import pytest

from tests.devstack import test_devstack_plugin as plugin

NOVA_VERSION = importlib.metadata.version('nova')
# A real pip build of nova or nova-migtuner takes one to three minutes on
# a busy two-core machine.
PIP_TIMEOUT_S = 900
SHIM = plugin.ROOT / 'nova' / 'virt' / 'migtuner'
NOT_SHARED = ('nova', 'nova_migtuner', 'nova_migtuner_tempest_plugin',
              '__pycache__')


def _pip(*args, python=sys.executable, timeout=PIP_TIMEOUT_S):
    return subprocess.run(
        [str(python), '-m', 'pip', '--disable-pip-version-check'] +
        [str(a) for a in args],
        capture_output=True, text=True, timeout=timeout)


def _skip_unless_downloaded(proc, what):
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        pytest.skip('%s is neither in pip\'s cache nor on the package '
                    'index: %s' % (what, lines[-1] if lines else '?'))


@pytest.fixture(scope='module')
def nova_dists(tmp_path_factory):
    """nova's wheel and unpacked source, NOVA_VERSION."""
    where = tmp_path_factory.mktemp('nova-dists')
    spec = 'nova==%s' % NOVA_VERSION
    _skip_unless_downloaded(
        _pip('download', '--no-deps', '--only-binary', ':all:', '-d',
             where / 'wheel', spec), spec + ' (wheel)')
    _skip_unless_downloaded(
        _pip('download', '--no-deps', '--no-binary', ':all:', '-d',
             where / 'sdist', spec), spec + ' (source)')
    wheel, = (where / 'wheel').glob('nova-*.whl')
    sdist, = (where / 'sdist').glob('nova-*.tar.gz')
    with tarfile.open(sdist) as tar:
        tar.extractall(where / 'src', filter='data')
    source, = (where / 'src').iterdir()
    return {'wheel': wheel, 'source': source}


@pytest.fixture(scope='module')
def nova_requirements(tmp_path_factory):
    """The test venv's packages less nova and nova-migtuner."""
    farm = tmp_path_factory.mktemp('nova-requirements')
    site = pathlib.Path(sysconfig.get_paths()['purelib'])
    for entry in site.iterdir():
        name = entry.name
        if (name in NOT_SHARED or name.startswith('__editable__') or
                name.startswith(('nova-', 'nova_migtuner-'))):
            continue
        (farm / name).symlink_to(entry)
    return farm


def _venv_with_nova(path, how, nova_dists, nova_requirements):
    subprocess.run([sys.executable, '-m', 'venv', str(path)], check=True,
                   timeout=300)
    python = path / 'bin' / 'python3'
    site = subprocess.run(
        [str(python), '-c', 'import sysconfig; '
         'print(sysconfig.get_paths()["purelib"])'],
        capture_output=True, text=True, check=True).stdout.strip()
    # Sorts after the venv's own path files: nova's editable import hook is
    # installed first.
    (pathlib.Path(site) / 'zz-nova-requirements.pth').write_text(
        '%s\n' % nova_requirements)
    if how == 'editable':
        args = ['-e', nova_dists['source']]
    else:
        args = [nova_dists['wheel']]
    proc = _pip('install', '--no-deps', '--no-compile', *args, python=python)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return python


def _import(python, code):
    # Not from the checkout: its nova_migtuner would be found first.
    return subprocess.run([str(python), '-c', code], capture_output=True,
                          text=True, timeout=300, cwd=str(python.parent))


@pytest.mark.parametrize('nova_install', ['editable', 'wheel'])
def test_install_places_the_shim_nova_loads(tmp_path, nova_install,
                                            nova_dists, nova_requirements):
    venv = tmp_path / 'venv'
    python = _venv_with_nova(venv, nova_install, nova_dists,
                             nova_requirements)
    where = _import(python, 'import os, nova.virt; '
                    'print(os.path.dirname(nova.virt.__file__))')
    assert where.returncode == 0, where.stderr
    virt_dir = pathlib.Path(where.stdout.strip())
    if nova_install == 'editable':
        assert virt_dir == nova_dists['source'] / 'nova' / 'virt'
    else:
        assert virt_dir.is_relative_to(venv)

    node = plugin.Node(tmp_path / 'node', services='n-cpu',
                       PIP_VIRTUAL_ENV=str(venv), STUB_REAL_PIP='True',
                       PIP_CACHE_DIR=os.environ.get(
                           'PIP_CACHE_DIR',
                           os.path.expanduser('~/.cache/pip')))
    proc = node.run('stack', 'install', timeout=PIP_TIMEOUT_S)
    assert ('loads nova.virt.migtuner.MigTunerDriver') in proc.stdout
    assert (virt_dir / 'migtuner').resolve() == SHIM

    loaded = _import(python, 'import nova.virt.migtuner as m, nova_migtuner;'
                     ' from nova.virt import driver; '
                     'print(m.MigTunerDriver.__module__, '
                     'issubclass(m.MigTunerDriver, driver.ComputeDriver), '
                     'nova_migtuner.__file__)')
    assert loaded.returncode == 0, loaded.stderr
    module, is_driver, package = loaded.stdout.split()
    assert (module, is_driver) == ('nova_migtuner.nova.driver', 'True')
    # Editable: the code nova runs is the checkout's.
    assert pathlib.Path(package).parent == plugin.ROOT / 'nova_migtuner'

    # extra: the sample config, from the installed entry points.
    node.run('stack', 'extra', timeout=300)
    assert '[migtuner]' in (
        node.state_dir / 'nova_migtuner.conf.sample').read_text()

    node.run('clean', timeout=300)
    assert not os.path.lexists(virt_dir / 'migtuner')
    gone = _import(python, 'import nova.virt.libvirt, importlib.util; '
                   'print(importlib.util.find_spec("nova.virt.migtuner"), '
                   'importlib.util.find_spec("nova_migtuner"))')
    assert gone.returncode == 0, gone.stderr
    assert gone.stdout.split() == ['None', 'None']
