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

"""Admin limits: [migtuner] narrowed by nova's own [libvirt] options."""

from nova.conf import libvirt as nova_libvirt_conf
from oslo_config import cfg
from oslo_config import fixture as config_fixture
import pytest

from nova_migtuner.conf import migtuner as mt_opts
from nova_migtuner.planning import limits as limits_mod


@pytest.fixture
def conf():
    """[migtuner] and nova's real [libvirt] options, as on a compute."""
    c = cfg.ConfigOpts()
    mt_opts.register_opts(c)
    nova_libvirt_conf.register_opts(c)
    c([], project='nova', default_config_files=[])
    yield c
    # The option groups are module-level objects whose option table every
    # ConfigOpts shares: overrides would outlive the test.
    for group in ('migtuner', 'libvirt'):
        for name in c[group]:
            c.clear_override(name, group)


@pytest.mark.parametrize('ours,nova,expected', [
    (True, False, False),    # nova's default forbids vCPU throttling
    (True, True, True),
    (False, True, False),
    (False, False, False),
])
def test_auto_converge_needs_both_permissions(conf, ours, nova, expected):
    conf.set_override('permit_auto_converge', ours, group='migtuner')
    conf.set_override('live_migration_permit_auto_converge', nova,
                      group='libvirt')
    assert limits_mod.admin_limits(conf).permit_auto_converge is expected


def test_auto_converge_off_with_nova_s_defaults(conf):
    assert conf.libvirt.live_migration_permit_auto_converge is False
    assert conf.migtuner.permit_auto_converge is True
    assert limits_mod.admin_limits(conf).permit_auto_converge is False


@pytest.mark.parametrize('ours,nova,expected', [
    (True, False, False), (True, True, True), (False, True, False)])
def test_post_copy_needs_both_permissions(conf, ours, nova, expected):
    conf.set_override('permit_post_copy', ours, group='migtuner')
    conf.set_override('live_migration_permit_post_copy', nova,
                      group='libvirt')
    assert limits_mod.admin_limits(conf).permit_post_copy is expected


def test_without_nova_options_the_caller_passes_nova_s_values():
    c = cfg.ConfigOpts()
    mt_opts.register_opts(c)
    c([], project='nova', default_config_files=[])
    assert limits_mod.admin_limits(c).permit_auto_converge is True
    assert limits_mod.admin_limits(
        c, nova_permit_auto_converge=False).permit_auto_converge is False


@pytest.mark.parametrize('ours,nova,expected', [
    (0, 0, 0), (300, 0, 300), (0, 100, 100), (300, 100, 100),
    (50, 100, 50)])
def test_bandwidth_is_the_lower_cap(conf, ours, nova, expected):
    conf.set_override('max_bandwidth_mib_s', ours, group='migtuner')
    conf.set_override('live_migration_bandwidth', nova, group='libvirt')
    assert limits_mod.admin_limits(conf).max_bandwidth_mib_s == expected


def test_link_bandwidth():
    assert limits_mod.link_bandwidth('1Gbit/s') == (125e6, False)
    assert limits_mod.link_bandwidth('measure', 300e6) == (300e6, True)
    assert limits_mod.link_bandwidth('measure', None) == (125e6, False)


@pytest.fixture
def migtuner_conf():
    """[migtuner] only: nova's [libvirt] options are not registered."""
    c = cfg.ConfigOpts()
    mt_opts.register_opts(c)
    c([], project='nova', default_config_files=[])
    yield c
    for name in c.migtuner:         # shared option table, as above
        c.clear_override(name, 'migtuner')


def test_post_copy_is_never_more_permissive_than_nova(migtuner_conf):
    conf = migtuner_conf
    conf.set_override('permit_post_copy', True, group='migtuner')
    assert limits_mod.admin_limits(conf, nova_permit_post_copy=False) \
        .permit_post_copy is False
    assert limits_mod.admin_limits(conf, nova_permit_post_copy=True) \
        .permit_post_copy is True
    conf.set_override('permit_post_copy', False, group='migtuner')
    assert limits_mod.admin_limits(conf, nova_permit_post_copy=True) \
        .permit_post_copy is False


def test_nova_libvirt_options_are_read_when_registered(migtuner_conf):
    conf = migtuner_conf
    fixture = config_fixture.Config(conf)
    fixture.setUp()
    conf.register_opts([cfg.BoolOpt('live_migration_permit_post_copy',
                                    default=False),
                        cfg.IntOpt('live_migration_bandwidth', default=0)],
                       group='libvirt')
    conf.set_override('max_bandwidth_mib_s', 500, group='migtuner')
    fixture.config(live_migration_bandwidth=200, group='libvirt')
    lim = limits_mod.admin_limits(conf, nova_permit_post_copy=True)
    assert lim.permit_post_copy is False      # nova's registered value wins
    assert lim.max_bandwidth_mib_s == 200     # the lower cap applies
    fixture.cleanUp()
