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

"""The DevStack plugin (devstack/settings and plugin.sh), without a cloud.

Each DevStack step runs in its own bash (tests/devstack/run_phase.sh) on a
throwaway node directory, with DevStack's functions from
devstack_stubs.sh and DevStack's own file edits from fake_devstack.sh. The
resulting nova.conf / nova-cpu.conf are read back with oslo.config and
nova's and nova_migtuner's options, the way nova-compute and
nova-scheduler read them.
"""

import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys

from oslo_config import cfg
import pytest

import nova.conf  # noqa: F401  (registers nova's options on cfg.CONF)
import nova_migtuner.conf  # noqa: F401  (registers [migtuner] on cfg.CONF)
from nova_migtuner.conf import migtuner as migtuner_conf
from nova_migtuner_tempest_plugin import config as tempest_plugin_conf

ROOT = pathlib.Path(__file__).resolve().parents[2]
HERE = pathlib.Path(__file__).resolve().parent
RUN = HERE / 'run_phase.sh'

DEVSTACK_FILTERS = ('ComputeFilter,ComputeCapabilitiesFilter,'
                    'ImagePropertiesFilter,ServerGroupAntiAffinityFilter,'
                    'ServerGroupAffinityFilter,SameHostFilter,'
                    'DifferentHostFilter')
ALL_IN_ONE = 'key,n-api,n-sch,n-cond,n-cpu,placement-api,g-api,tempest'
COMPUTE_SUBNODE = 'n-cpu,placement-client,ovn-controller'
CONTROLLER_ONLY = 'key,n-api,n-sch,n-cond,placement-api,g-api,tempest'

MIGTUNER_FILTER = 'nova_migtuner.scheduler.filters.MigTunerFilter'
MIGTUNER_WEIGHER = 'nova_migtuner.scheduler.weights.MigTunerWeigher'
DRIVER = 'migtuner.MigTunerDriver'
# DevStack defaults that differ from the option defaults on purpose (see
# devstack/settings).
DEVSTACK_DEFAULTS = {'instance_spacing_s': 0, 'destination_settle_s': 0,
                     'max_deferral_s': 0}


def _installed_shim_is_this_trees():
    """Whether the test venv's nova has this tree's driver shim.

    The install phase links the shim into nova's package only where none
    is; in the test venv (a regular install) it must find this tree's own,
    or it would stop (test_devstack_install.py covers the linking, in a
    venv of its own).
    """
    spec = importlib.util.find_spec('nova.virt.migtuner')
    return spec is not None and pathlib.Path(spec.origin).read_bytes() == (
        ROOT / 'nova/virt/migtuner/__init__.py').read_bytes()


SHIM_INSTALLED = _installed_shim_is_this_trees()


class Node(object):
    """A throwaway DevStack node: its files, environment and steps."""

    def __init__(self, tmp_path, services=ALL_IN_ONE, **env):
        self.root = tmp_path
        for d in ('dest', 'data', 'etc/nova', 'etc/tempest', 'tempest'):
            (tmp_path / d).mkdir(parents=True, exist_ok=True)
        self.nova_conf = tmp_path / 'etc/nova/nova.conf'
        self.cpu_conf = tmp_path / 'etc/nova/nova-cpu.conf'
        self.tempest_conf = tmp_path / 'etc/tempest/tempest.conf'
        self.state_dir = tmp_path / 'data/nova-migtuner'
        self.log = tmp_path / 'stub.log'
        self.env = {
            'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
            'HOME': str(tmp_path),
            'DEST': str(tmp_path / 'dest'),
            'DATA_DIR': str(tmp_path / 'data'),
            'NOVA_CONF': str(self.nova_conf),
            'NOVA_CPU_CONF': str(self.cpu_conf),
            'TEMPEST_CONFIG': str(self.tempest_conf),
            'TEMPEST_DIR': str(tmp_path / 'tempest'),
            'ENABLED_SERVICES': services,
            'NOVA_FILTERS': DEVSTACK_FILTERS,
            'VIRT_DRIVER': 'libvirt',
            'PYTHON': sys.executable,
            'NOVA_MIGTUNER_DIR': str(ROOT),
            'STUB_LOG': str(self.log),
        }
        self.env.update(env)

    def run(self, *args, check=True, timeout=120, **env):
        env = dict(self.env, **env)
        if (args == ('stack', 'install') and not SHIM_INSTALLED and
                env.get('STUB_REAL_PIP') != 'True'):
            pytest.skip('the test venv has no nova/virt/migtuner shim of '
                        'this tree (pip install --no-deps . into it)')
        proc = subprocess.run(
            ['bash', str(RUN)] + list(args), env=env,
            capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            pytest.fail('run_phase.sh %s failed (%d):\n%s\n%s'
                        % (' '.join(args), proc.returncode, proc.stdout,
                           proc.stderr))
        return proc

    def calls(self):
        if not self.log.exists():
            return []
        return [line for line in self.log.read_text().splitlines()
                if not line.startswith('define_plugin')]

    def stack_until_post_config(self):
        """create_nova_conf, then the plugin's install and post-config."""
        self.run('fake', 'create_nova_conf')
        self.run('stack', 'install')
        self.run('stack', 'post-config')

    def stack(self):
        """The plugin's part of a whole stack.sh run, in DevStack's order."""
        self.stack_until_post_config()
        self.run('fake', 'start_nova_compute')
        self.run('stack', 'extra')
        self.run('fake', 'configure_tempest')
        self.run('stack', 'test-config')


def load_nova_conf(path):
    """Read a nova config file the way nova services do."""
    conf = cfg.CONF
    conf.clear()
    conf([], project='nova', default_config_files=[str(path)],
         default_config_dirs=[])
    return conf


def load_tempest_conf(path):
    conf = cfg.ConfigOpts()
    conf.register_opt(tempest_plugin_conf.service_option,
                      group='service_available')
    conf.register_group(tempest_plugin_conf.nova_migtuner_group)
    conf.register_opts(tempest_plugin_conf.NovaMigTunerGroup,
                       group=tempest_plugin_conf.nova_migtuner_group)
    conf.register_opt(cfg.ListOpt('scheduler_enabled_filters'),
                      group='compute-feature-enabled')
    conf([], project='tempest', default_config_files=[str(path)],
         default_config_dirs=[])
    return conf


def ini_lines(path):
    """The option lines of an INI file per section, order kept."""
    section, lines = None, []
    for raw in pathlib.Path(path).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith('#'):
            continue
        if line.startswith('['):
            section = line
            continue
        key, _, value = line.partition('=')
        lines.append((section, key.strip(), value.strip()))
    return sorted(lines)


def option_default(name):
    return {o.name: o.default for o in migtuner_conf.ALL_OPTS}[name]


# -- the whole run ------------------------------------------------------------


def test_all_in_one_stack_configures_nova_as_decided(tmp_path):
    node = Node(tmp_path)
    node.stack()

    conf = load_nova_conf(node.nova_conf)
    assert conf.compute_driver == DRIVER
    for opt in migtuner_conf.ALL_OPTS:
        expected = DEVSTACK_DEFAULTS.get(opt.name, opt.default)
        assert getattr(conf.migtuner, opt.dest) == expected, opt.name
    assert conf.notifications.notification_format == 'both'
    assert conf.notifications.notify_on_state_change == 'vm_and_task_state'
    assert conf.filter_scheduler.available_filters == [
        'nova.scheduler.filters.all_filters', MIGTUNER_FILTER]
    assert conf.filter_scheduler.enabled_filters == (
        DEVSTACK_FILTERS.split(',') + ['MigTunerFilter'])
    assert conf.filter_scheduler.weight_classes == [
        'nova.scheduler.weights.all_weighers', MIGTUNER_WEIGHER]
    # DevStack's own settings are kept.
    assert conf.my_ip == '192.0.2.10'
    assert conf.libvirt.virt_type == 'qemu'

    calls = node.calls()
    assert 'setup_develop %s' % ROOT in calls
    assert any(c.startswith('tox -evenv-tempest -- pip install --no-deps %s'
                            % ROOT) for c in calls), calls
    sample = node.state_dir / 'nova_migtuner.conf.sample'
    assert '[migtuner]' in sample.read_text()
    assert '#max_downtime_ms = 500' in sample.read_text()


def test_nova_compute_reads_the_settings_from_its_copy(tmp_path):
    """nova-cpu.conf is made from nova.conf when nova-compute starts."""
    node = Node(tmp_path, MIGTUNER_MAX_DOWNTIME_MS='300')
    node.stack_until_post_config()
    # A nova-cpu.conf left from an earlier run is replaced, not merged.
    node.cpu_conf.write_text('[DEFAULT]\ncompute_driver = fake.FakeDriver\n')
    node.run('fake', 'start_nova_compute')
    conf = load_nova_conf(node.cpu_conf)
    assert conf.compute_driver == DRIVER
    assert conf.migtuner.max_downtime_ms == 300
    assert conf.notifications.notification_format == 'both'


def test_local_conf_variables_override_the_defaults(tmp_path):
    node = Node(tmp_path,
                MIGTUNER_DEFAULT_STRATEGY='conservative',
                MIGTUNER_TENANT_STRATEGIES='conservative',
                MIGTUNER_MAX_DOWNTIME_MS='250',
                MIGTUNER_LINK_BANDWIDTH='10Gbit/s',
                MIGTUNER_PERMIT_POST_COPY='False',
                MIGTUNER_MONITOR_INTERVAL_S='0.25',
                MIGTUNER_INSTANCE_SPACING_S='120',
                MIGTUNER_NOTIFICATION_FORMAT='versioned',
                MIGTUNER_TEMPEST_BUSY_MIGRATION_BUDGET='300')
    node.stack()
    conf = load_nova_conf(node.nova_conf)
    assert conf.migtuner.default_strategy == 'conservative'
    assert conf.migtuner.tenant_strategies == ['conservative']
    assert conf.migtuner.max_downtime_ms == 250
    assert conf.migtuner.link_bandwidth == '10Gbit/s'
    assert conf.migtuner.permit_post_copy is False
    assert conf.migtuner.monitor_interval_s == 0.25
    assert conf.migtuner.instance_spacing_s == 120
    assert conf.notifications.notification_format == 'versioned'

    tempest = load_tempest_conf(node.tempest_conf)
    assert tempest.nova_migtuner.expected_strategy == 'conservative'
    assert tempest.nova_migtuner.max_downtime_ms == 250
    assert tempest.nova_migtuner.busy_migration_budget == 300


def test_tempest_options(tmp_path):
    node = Node(tmp_path)
    node.stack()
    conf = load_tempest_conf(node.tempest_conf)
    assert conf.service_available.nova_migtuner is True
    assert conf.nova_migtuner.expected_strategy == 'balanced'
    assert conf.nova_migtuner.max_downtime_ms == 500
    assert conf.nova_migtuner.busy_migration_budget == 900
    assert conf.nova_migtuner.busy_dirty_mib == 64
    assert conf.nova_migtuner.max_unreachable_s == 0.0
    cli = pathlib.Path(conf.nova_migtuner.cli_command)
    assert conf.nova_migtuner.cli_available is True
    assert cli.name == 'nova-migtuner' and os.access(cli, os.X_OK)
    assert conf['compute-feature-enabled'].scheduler_enabled_filters == (
        DEVSTACK_FILTERS.split(',') + ['MigTunerFilter'])


def test_tempest_filters_all_left_alone(tmp_path):
    node = Node(tmp_path, FAKE_TEMPEST_FILTERS='all')
    node.stack()
    conf = load_tempest_conf(node.tempest_conf)
    assert conf['compute-feature-enabled'].scheduler_enabled_filters == [
        'all']


# -- where each part goes -----------------------------------------------------


def test_compute_subnode_gets_driver_and_options_not_scheduler(tmp_path):
    node = Node(tmp_path, services=COMPUTE_SUBNODE)
    node.stack_until_post_config()
    conf = load_nova_conf(node.nova_conf)
    assert conf.compute_driver == DRIVER
    assert conf.migtuner.max_downtime_ms == 500
    assert conf.notifications.notification_format == 'both'
    text = node.nova_conf.read_text()
    assert 'filter_scheduler' not in text
    assert 'setup_develop %s' % ROOT in node.calls()


def test_controller_without_compute_keeps_compute_driver(tmp_path):
    node = Node(tmp_path, services=CONTROLLER_ONLY)
    node.stack_until_post_config()
    assert 'compute_driver' not in node.nova_conf.read_text()
    conf = load_nova_conf(node.nova_conf)
    assert 'MigTunerFilter' in conf.filter_scheduler.enabled_filters
    assert MIGTUNER_FILTER in conf.filter_scheduler.available_filters


def test_scheduler_part_can_be_disabled(tmp_path):
    node = Node(tmp_path, MIGTUNER_ENABLE_SCHEDULER='False')
    node.stack()
    conf = load_nova_conf(node.nova_conf)
    assert conf.filter_scheduler.enabled_filters == DEVSTACK_FILTERS.split(
        ',')
    assert conf.filter_scheduler.available_filters == [
        'nova.scheduler.filters.all_filters']
    assert conf.filter_scheduler.weight_classes == [
        'nova.scheduler.weights.all_weighers']
    tempest = load_tempest_conf(node.tempest_conf)
    assert 'MigTunerFilter' not in (
        tempest['compute-feature-enabled'].scheduler_enabled_filters)


def test_other_virt_driver_is_left_alone(tmp_path):
    node = Node(tmp_path, VIRT_DRIVER='ironic')
    node.run('fake', 'create_nova_conf')
    node.run('stack', 'install')
    proc = node.run('stack', 'post-config')
    assert 'tunes libvirt only' in proc.stderr
    assert load_nova_conf(node.nova_conf).compute_driver == (
        'libvirt.LibvirtDriver')


def test_scheduler_settings_already_there_are_extended(tmp_path):
    """Appended to what nova.conf has, even when NOVA_FILTERS is unset."""
    node = Node(tmp_path, NOVA_FILTERS='')
    node.nova_conf.write_text(
        '[filter_scheduler]\n'
        'enabled_filters = ComputeFilter,NUMATopologyFilter\n'
        'available_filters = nova.scheduler.filters.all_filters\n'
        'available_filters = custom.filters.RackFilter\n'
        'weight_classes = nova.scheduler.weights.ram.RAMWeigher\n'
        '[notifications]\nnotification_format = versioned\n')
    node.run('stack', 'post-config')
    conf = load_nova_conf(node.nova_conf)
    assert conf.filter_scheduler.enabled_filters == [
        'ComputeFilter', 'NUMATopologyFilter', 'MigTunerFilter']
    assert conf.filter_scheduler.available_filters == [
        'nova.scheduler.filters.all_filters', 'custom.filters.RackFilter',
        MIGTUNER_FILTER]
    assert conf.filter_scheduler.weight_classes == [
        'nova.scheduler.weights.ram.RAMWeigher', MIGTUNER_WEIGHER]


def test_post_config_twice_adds_nothing_twice(tmp_path):
    node = Node(tmp_path)
    node.run('fake', 'create_nova_conf')
    original = ini_lines(node.nova_conf)
    node.run('stack', 'post-config')
    once = ini_lines(node.nova_conf)
    node.run('stack', 'post-config')
    assert ini_lines(node.nova_conf) == once
    # DevStack's own lines are kept.
    assert ('[DEFAULT]', 'my_ip', '192.0.2.10') in original
    assert ('[DEFAULT]', 'my_ip', '192.0.2.10') in once


# -- checks that stop a broken stack early ------------------------------------


@pytest.mark.parametrize('variable,value,message', [
    ('MIGTUNER_MAX_DOWNTIME_MS', '5', 'max_downtime_ms'),
    ('MIGTUNER_LINK_BANDWIDTH', 'fast', 'link_bandwidth'),
    ('MIGTUNER_BUSY_HOST_CPU_LOAD', '1.5', 'busy_host_cpu_load'),
    ('MIGTUNER_DEFAULT_STRATEGY', 'no_such', "'no_such' in"),
    ('MIGTUNER_TENANT_STRATEGIES', 'balanced,nope', "'nope' in"),
    ('MIGTUNER_NOTIFICATION_FORMAT', 'unversioned', 'notification_format'),
])
def test_post_config_refuses_invalid_settings(tmp_path, variable, value,
                                              message):
    node = Node(tmp_path, **{variable: value})
    node.run('fake', 'create_nova_conf')
    proc = node.run('stack', 'post-config', check=False)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr
    assert 'invalid nova-migtuner settings' in proc.stderr


def test_install_refuses_an_unsupported_nova(tmp_path):
    fake_repo = tmp_path / 'repo'
    shutil.copytree(ROOT / 'devstack', fake_repo / 'devstack')
    shutil.copytree(ROOT / 'nova', fake_repo / 'nova')
    (fake_repo / 'requirements.txt').write_text('pbr>=6\nnova>=99.0.0\n')
    node = Node(tmp_path, NOVA_MIGTUNER_DIR=str(fake_repo))
    proc = node.run('stack', 'install', check=False)
    assert proc.returncode != 0
    assert 'supports nova>=99.0.0' in proc.stderr
    assert not any(c.startswith('setup_develop') for c in node.calls())

    node.run('stack', 'install', NOVA_MIGTUNER_CHECK_NOVA_VERSION='False')
    assert 'setup_develop %s' % fake_repo in node.calls()


@pytest.mark.parametrize('driver,loads', [
    ('libvirt.LibvirtDriver', True),
    ('fake.FakeDriver', True),
    ('nosuch.Driver', False),
    ('libvirt.NoSuchDriver', False),
])
def test_install_checks_that_nova_can_load_the_driver(tmp_path, driver,
                                                      loads):
    node = Node(tmp_path, MIGTUNER_COMPUTE_DRIVER=driver)
    proc = node.run('stack', 'install', check=False)
    assert (proc.returncode == 0) is loads, proc.stderr
    if not loads:
        assert 'cannot load compute_driver = %s' % driver in proc.stderr


def test_install_checks_the_default_driver(tmp_path):
    """The decided line, compute_driver = migtuner.MigTunerDriver."""
    node = Node(tmp_path)
    proc = subprocess.run(['bash', str(RUN), 'stack', 'install'],
                          env=node.env, capture_output=True, text=True,
                          timeout=120)
    if not SHIM_INSTALLED:
        pytest.skip('the test venv has no nova/virt/migtuner shim of this '
                    'tree (test_devstack_install.py links it)')
    assert proc.returncode == 0, proc.stderr
    assert 'loads nova.virt.migtuner.MigTunerDriver' in proc.stdout


def test_extra_warns_when_nova_compute_runs_another_driver(tmp_path):
    node = Node(tmp_path, FAKE_CPU_POST_CONFIG=(
        'DEFAULT compute_driver libvirt.LibvirtDriver'))
    node.stack_until_post_config()
    node.run('fake', 'start_nova_compute')
    proc = node.run('stack', 'extra')
    assert 'nova-compute runs compute_driver = libvirt.LibvirtDriver' in (
        proc.stderr)

    quiet = Node(tmp_path / 'other')
    quiet.stack_until_post_config()
    quiet.run('fake', 'start_nova_compute')
    assert 'WARNING' not in quiet.run('stack', 'extra').stderr


# -- unstack and clean --------------------------------------------------------


def test_a_stack_after_unstack_starts_from_devstack_s_own_files(tmp_path):
    """unstack undoes nothing: DevStack writes the files anew each stack."""
    node = Node(tmp_path)
    node.stack()
    first = [ini_lines(f) for f in (node.nova_conf, node.cpu_conf,
                                    node.tempest_conf)]
    node.run('unstack')
    # unstack leaves the package and the files alone; clean removes it.
    assert [ini_lines(f) for f in (node.nova_conf, node.cpu_conf,
                                   node.tempest_conf)] == first
    assert not any(c.startswith('pip_uninstall') for c in node.calls())

    # The next stack.sh: the same files, nothing added twice, and the
    # settings changed in local.conf since then win.
    node.env['MIGTUNER_MAX_DOWNTIME_MS'] = '300'
    node.stack()
    second = [ini_lines(f) for f in (node.nova_conf, node.cpu_conf,
                                     node.tempest_conf)]
    changed = {(section, 'max_downtime_ms', value)
               for section in ('[migtuner]', '[nova_migtuner]')
               for value in ('300', '500')}
    for before, after in zip(first, second):
        assert set(before) - changed == set(after) - changed
        assert len(before) == len(after)
    assert load_nova_conf(node.cpu_conf).migtuner.max_downtime_ms == 300


def test_unstack_without_stack_is_harmless(tmp_path):
    node = Node(tmp_path)
    node.run('fake', 'create_nova_conf')
    before = ini_lines(node.nova_conf)
    node.run('unstack')
    node.run('clean')
    assert ini_lines(node.nova_conf) == before


def test_clean_uninstalls_and_removes_what_the_plugin_created(tmp_path):
    node = Node(tmp_path)
    node.stack()
    assert node.state_dir.is_dir()
    node.run('unstack')
    node.run('clean')
    assert 'pip_uninstall nova-migtuner' in node.calls()
    assert not node.state_dir.exists()


# -- the plugin's files -------------------------------------------------------


def _settings_variables():
    """MIGTUNER_OPTIONS and the defaults, as devstack/settings sets them."""
    script = (
        'source %s; source %s; echo $MIGTUNER_OPTIONS; '
        'for o in $MIGTUNER_OPTIONS; do v="MIGTUNER_${o^^}"; '
        'echo "$o=${!v}"; done'
        % (HERE / 'devstack_stubs.sh', ROOT / 'devstack/settings'))
    proc = subprocess.run(
        ['bash', '-c', script], capture_output=True, text=True, check=True,
        env={'PATH': os.environ.get('PATH', ''), 'DEST': '/opt/stack',
             'DATA_DIR': '/opt/stack/data'})
    lines = proc.stdout.split('\n')
    names = lines[0].split()
    defaults = dict(line.split('=', 1) for line in lines[1:] if line)
    return names, defaults


def test_settings_cover_every_migtuner_option():
    names, defaults = _settings_variables()
    assert sorted(names) == sorted(o.name for o in migtuner_conf.ALL_OPTS)
    for opt in migtuner_conf.ALL_OPTS:
        text = defaults[opt.name]
        # An empty variable is not written: the option keeps its default.
        value = opt.type(text) if text else opt.default
        expected = DEVSTACK_DEFAULTS.get(opt.name, opt.default)
        assert value == expected, opt.name


def test_shellcheck():
    shellcheck = shutil.which('shellcheck')
    if shellcheck is None:
        pytest.skip('shellcheck is not installed '
                    '(apt-get install -y shellcheck)')
    files = [ROOT / 'devstack/plugin.sh', ROOT / 'devstack/lib/migtuner',
             ROOT / 'devstack/settings',
             HERE / 'devstack_stubs.sh', HERE / 'fake_devstack.sh', RUN]
    proc = subprocess.run([shellcheck, '-x'] + [str(f) for f in files],
                          capture_output=True, text=True, cwd=str(ROOT))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_post_config_sets_a_notifier_driver_only_where_none_is(tmp_path):
    node = Node(tmp_path)
    node.nova_conf.write_text('[DEFAULT]\ndebug = True\n')
    node.run('stack', 'post-config')
    assert '[oslo_messaging_notifications]\ndriver = messagingv2' in \
        node.nova_conf.read_text()

    other = Node(tmp_path / 'other')
    other.nova_conf.write_text(
        '[oslo_messaging_notifications]\ndriver = log\n')
    proc = other.run('stack', 'post-config', check=False)
    text = other.nova_conf.read_text()
    assert 'driver = log' in text and 'messagingv2' not in text
    # ... and the check says what that means.
    assert 'notifications never leave this host' in proc.stderr
