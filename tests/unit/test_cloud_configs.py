"""The cloud's config files and command line, without starting anything."""

import argparse
import configparser
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from nova_migtuner.cloud import cli as cloud_cli
from nova_migtuner.cloud import configs
from nova_migtuner.cloud import layout as layout_mod
from nova_migtuner.cloud import services


@pytest.fixture
def layout(tmp_path):
    return layout_mod.Layout(workdir=str(tmp_path), venv='/venv',
                             cloud_venv='/cloud-venv',
                             tempest_venv='/tempest-venv')


def parse(text):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read_string(text)
    return parser


def compute_conf(layout, driver, options=()):
    return parse(configs.render(configs.nova_compute(
        layout, layout_mod.COMPUTES[0], driver, options)))


def test_migtuner_computes_load_the_driver_by_the_readme_line(layout):
    conf = compute_conf(layout, 'migtuner')
    assert conf['DEFAULT']['compute_driver'] == 'migtuner.MigTunerDriver'
    assert conf['libvirt']['live_migration_permit_post_copy'] == 'true'
    assert conf['libvirt']['live_migration_permit_auto_converge'] == 'true'


def test_stock_computes_keep_nova_defaults(layout):
    conf = compute_conf(layout, 'stock')
    assert conf['DEFAULT']['compute_driver'] == 'libvirt.LibvirtDriver'
    assert 'live_migration_permit_post_copy' not in conf['libvirt']
    assert 'live_migration_permit_auto_converge' not in conf['libvirt']
    # The link cap applies to both drivers alike.
    assert conf['libvirt']['live_migration_bandwidth'] == str(
        configs.LINK_CAP_MIB_S)


def test_nova_options_override_and_add(layout):
    conf = compute_conf(layout, 'migtuner', [
        ('libvirt', 'live_migration_permit_post_copy', 'false'),
        ('libvirt', 'live_migration_timeout_action', 'force_complete'),
        ('migtuner', 'max_deferral_s', '0')])
    assert conf['libvirt']['live_migration_permit_post_copy'] == 'false'
    assert conf['libvirt']['live_migration_timeout_action'] == \
        'force_complete'
    assert conf['migtuner']['max_deferral_s'] == '0'


def test_each_compute_has_its_own_host_address_and_state(layout):
    seen = set()
    for compute in layout_mod.COMPUTES:
        conf = parse(configs.render(configs.nova_compute(layout, compute)))
        values = (conf['DEFAULT']['host'], conf['DEFAULT']['my_ip'],
                  conf['DEFAULT']['state_path'],
                  conf['libvirt']['connection_uri'],
                  conf['libvirt']['live_migration_inbound_addr'])
        assert compute.address in values[1]
        seen.add(values)
    assert len({v[0] for v in seen}) == len({v[2] for v in seen}) == 2
    # Same instances path everywhere: each host bind-mounts its own copy.
    assert {parse(configs.render(configs.nova_compute(layout, c)))[
        'DEFAULT']['instances_path'] for c in layout_mod.COMPUTES} == {
        layout_mod.INSTANCES_PATH}


def test_schedulers_get_the_readme_filter_and_weigher(layout):
    text = configs.render(configs.nova_common(layout, 'x' * 64))
    assert 'available_filters = nova.scheduler.filters.all_filters' in text
    assert 'available_filters = %s' % configs.MIGTUNER_FILTER in text
    conf = parse(text)
    assert conf['filter_scheduler']['enabled_filters'].endswith(
        ',MigTunerFilter')
    assert conf['filter_scheduler']['weight_classes'] == (
        'nova.scheduler.weights.all_weighers,' + configs.MIGTUNER_WEIGHER)
    assert conf['notifications']['notification_format'] == 'both'
    assert conf['oslo_messaging_notifications']['driver'] == 'messagingv2'


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


def test_descendants_follow_children_that_start_their_own_group(tmp_path):
    # A child that calls setsid() (as oslo.service workers and daemons do)
    # leaves the process group but not the tree.
    script = tmp_path / 'tree.py'
    script.write_text(textwrap.dedent('''\
        import subprocess, sys, time
        # The child says its PID once it has its own session.
        subprocess.Popen([sys.executable, '-c',
                          'import os, time; os.setsid(); '
                          'print(os.getpid(), flush=True); time.sleep(60)'])
        time.sleep(60)
        '''))
    parent = subprocess.Popen([sys.executable, str(script)],
                              stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        assert os.getpgid(child) != os.getpgid(parent.pid)
        assert set(services.descendants(parent.pid)) >= {parent.pid, child}
        assert services.tree_rss_bytes(parent.pid) > 0
    finally:
        for pid in services.descendants(parent.pid):
            os.kill(pid, signal.SIGKILL)
        parent.wait()


def test_user_clouds_yaml_gets_and_loses_only_our_entry(tmp_path,
                                                        monkeypatch):
    import yaml

    from nova_migtuner.cloud import cloud as cloud_mod

    path = tmp_path / 'openstack' / 'clouds.yaml'
    path.parent.mkdir()
    path.write_text(yaml.safe_dump({'clouds': {'other': {'auth': {}}}}))
    monkeypatch.setattr(cloud_mod, 'USER_CLOUDS_YAML', str(path))
    cloud = cloud_mod.Cloud(layout_mod.Layout(
        workdir=str(tmp_path / 'wd'), venv='/v', cloud_venv='/c',
        tempest_venv='/t'))
    cloud._user_clouds_yaml({'auth': {'username': 'admin'}})
    clouds = yaml.safe_load(path.read_text())['clouds']
    assert set(clouds) == {'other', layout_mod.CLOUD_NAME}
    cloud._user_clouds_yaml(None)
    assert set(yaml.safe_load(path.read_text())['clouds']) == {'other'}


def test_cloud_collector_serves_metrics_on_the_layout_port(tmp_path):
    from nova_migtuner.cloud import cloud as cloud_mod
    from nova_migtuner.cmd import cli

    cloud = cloud_mod.Cloud(layout_mod.Layout(
        workdir=str(tmp_path / 'wd'), venv='/v', cloud_venv='/c',
        tempest_venv='/t'))
    argv = cloud.collector().argv
    assert argv[1] == 'report-collector'
    args = cli.build_parser(only='report-collector').parse_args(argv[1:])
    assert args.metrics_port == 19100 == layout_mod.Layout.\
        collector_metrics_port
    assert args.metrics_address == '127.0.0.1'
