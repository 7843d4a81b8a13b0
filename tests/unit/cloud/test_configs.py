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

"""The cloud's config files, without starting anything."""

import configparser

import pytest

from nova_migtuner.cloud import configs
from nova_migtuner.cloud import layout as layout_mod


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
