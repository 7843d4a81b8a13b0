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

"""``nova_migtuner.conf``: the start-up check and log lines."""

from oslo_config import cfg
import pytest

from nova_migtuner import conf as conf_pkg
from nova_migtuner.conf import migtuner as mt_opts


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
