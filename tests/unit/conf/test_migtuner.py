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

"""The ``[migtuner]`` options: bounds, types and values from files."""

from oslo_config import cfg
import pytest

from nova_migtuner.conf import migtuner as mt_opts


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
