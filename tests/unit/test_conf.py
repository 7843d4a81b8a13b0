from oslo_config import cfg
from oslo_config import fixture as config_fixture
import pytest

from nova_migtuner import conf as conf_pkg
from nova_migtuner.conf import migtuner as mt_opts
from nova_migtuner.conf import opts
from nova_migtuner.planning import limits


@pytest.fixture
def conf():
    c = cfg.ConfigOpts()
    mt_opts.register_opts(c)
    c([], project='nova', default_config_files=[])
    return c


def test_list_opts_lists_one_migtuner_group_with_help():
    groups = opts.list_opts()
    assert [g for g, _ in groups] == ['migtuner']
    for opt in groups[0][1]:
        assert len(opt.help.strip()) > 40, opt.name


def test_every_option_has_bounds_or_a_closed_type():
    for opt in mt_opts.ALL_OPTS:
        t = opt.type
        closed = (cfg.BoolOpt, cfg.ListOpt, cfg.StrOpt, cfg.DictOpt)
        bounded = (getattr(t, 'min', None) is not None or
                   getattr(t, 'choices', None) or
                   isinstance(opt, closed) or
                   isinstance(t, mt_opts.LinkBandwidthType))
        assert bounded, opt.name


@pytest.mark.parametrize('name,value', [
    ('max_downtime_ms', 5), ('max_downtime_ms', 70000),
    ('stall_window_s', 0), ('busy_host_cpu_load', 1.5),
    ('max_parallel_connections', 33)])
def test_out_of_range_values_are_refused(conf, name, value):
    with pytest.raises(ValueError) as exc:
        conf.set_override(name, value, group='migtuner')
    assert 'Should be' in str(exc.value)   # oslo names the allowed bound


def test_link_bandwidth_accepts_rates_and_measure(conf):
    t = mt_opts.LinkBandwidthType()
    assert t('10Gbit/s') == '10Gbit/s'
    assert t('Measure') == 'measure'
    with pytest.raises(ValueError) as exc:
        t('fast')
    assert "'fast'" in str(exc.value) and 'measure' in str(exc.value)


def test_config_file_value_is_validated(tmp_path):
    f = tmp_path / 'nova.conf'
    f.write_text('[migtuner]\nmax_downtime_ms = 1\n')
    c = cfg.ConfigOpts()
    mt_opts.register_opts(c)
    c([], project='nova', default_config_files=[str(f)])
    with pytest.raises(cfg.ConfigFileValueError) as exc:
        conf_pkg.check_values(c)
    assert 'max_downtime_ms' in str(exc.value)
    assert 'greater than or equal to 10' in str(exc.value)


def test_post_copy_is_never_more_permissive_than_nova(conf):
    conf.set_override('permit_post_copy', True, group='migtuner')
    assert limits.admin_limits(conf, nova_permit_post_copy=False) \
        .permit_post_copy is False
    assert limits.admin_limits(conf, nova_permit_post_copy=True) \
        .permit_post_copy is True
    conf.set_override('permit_post_copy', False, group='migtuner')
    assert limits.admin_limits(conf, nova_permit_post_copy=True) \
        .permit_post_copy is False


def test_nova_libvirt_options_are_read_when_registered(conf):
    fixture = config_fixture.Config(conf)
    fixture.setUp()
    conf.register_opts([cfg.BoolOpt('live_migration_permit_post_copy',
                                    default=False),
                        cfg.IntOpt('live_migration_bandwidth', default=0)],
                       group='libvirt')
    conf.set_override('max_bandwidth_mib_s', 500, group='migtuner')
    fixture.config(live_migration_bandwidth=200, group='libvirt')
    lim = limits.admin_limits(conf, nova_permit_post_copy=True)
    assert lim.permit_post_copy is False      # nova's registered value wins
    assert lim.max_bandwidth_mib_s == 200     # the lower cap applies
    fixture.cleanUp()


def test_link_bandwidth_in_nova_conf_reads_b_as_bits(tmp_path):
    from nova_migtuner.planning import limits as limits_mod
    f = tmp_path / 'nova.conf'
    f.write_text('[migtuner]\nlink_bandwidth = 10Gb/s\n')
    c = cfg.ConfigOpts()
    mt_opts.register_opts(c)
    c(args=[], default_config_files=[str(f)])
    assert limits_mod.link_bandwidth(c.migtuner.link_bandwidth) == (
        1.25e9, False)
    f.write_text('[migtuner]\nlink_bandwidth = 10gb/s\n')
    c.reload_config_files()
    with pytest.raises(ValueError) as exc:
        c.migtuner.link_bandwidth
    assert "'10gb/s' is ambiguous" in str(exc.value)


def test_start_up_log_lines_give_every_rate_in_bytes_and_bits(conf):
    import nova_migtuner.conf as mt_conf
    conf.set_override('link_bandwidth', '10Gb/s', group='migtuner')
    conf.set_override('max_bandwidth_mib_s', 300, group='migtuner')
    conf.set_override('link_classes', {'rack': '25Gbit/s'},
                      group='migtuner')
    assert mt_conf.rate_settings(conf) == [
        'link_bandwidth = 10Gb/s: 1.164 GiB/s (10 Gbit/s)',
        'max_bandwidth_mib_s = 300: 300 MiB/s (2.517 Gbit/s)',
        'link_classes rack = 25Gbit/s: 2.91 GiB/s (25 Gbit/s)',
    ]
    conf.set_override('link_bandwidth', 'measure', group='migtuner')
    conf.set_override('max_bandwidth_mib_s', 0, group='migtuner')
    assert mt_conf.rate_settings(conf)[:2] == [
        'link_bandwidth = measure (until measured: 119.2 MiB/s '
        '(1 Gbit/s))', 'max_bandwidth_mib_s = 0: no cap']
    # The group's option table is shared by every ConfigOpts.
    for name in ('link_bandwidth', 'max_bandwidth_mib_s', 'link_classes'):
        conf.clear_override(name, group='migtuner')
