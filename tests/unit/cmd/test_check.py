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

"""``nova-migtuner check``: what is wrong in a nova.conf, one line each."""

import os

import pytest

from nova_migtuner.cmd import check
from nova_migtuner.cmd import cli

GOOD = """\
[DEFAULT]
compute_driver = migtuner.MigTunerDriver
transport_url = rabbit://nova:secret@10.0.0.5:5672/

[notifications]
notification_format = both

[oslo_messaging_notifications]
driver = messagingv2

[filter_scheduler]
available_filters = nova.scheduler.filters.all_filters
available_filters = nova_migtuner.scheduler.filters.MigTunerFilter
enabled_filters = ComputeFilter,ImagePropertiesFilter,MigTunerFilter
weight_classes = nova.scheduler.weights.all_weighers,\
nova_migtuner.scheduler.weights.MigTunerWeigher

[migtuner]
link_bandwidth = 10Gb/s
tenant_strategies = balanced,conservative
operator_secret = 3b1f0c9a7d2e4f6a8b0c1d2e3f4a5b6c
"""

BROKEN = """\
[DEFAULT]
compute_driver = nova_migtuner.nova.driver.MigTunerDriver

[notifications]
notification_format = unversioned

[filter_scheduler]
enabled_filters = ComputeFilter,MigTunerFilter
weight_classes = nova_migtuner.scheduler.weights.MigTunerWeigher

[migtuner]
link_bandwidth = 10gb/s
tenant_strategies = balanced,turbo
operator_secret = short
"""


def write(tmp_path, text, mode=0o640):
    path = tmp_path / 'nova.conf'
    path.write_text(text)
    os.chmod(path, mode)
    return str(path)


def run(capsys, path):
    code = cli.main(['check', '--config-file', path])
    return code, capsys.readouterr().out


def test_good_nova_conf(tmp_path, capsys):
    path = write(tmp_path, GOOD)
    code, out = run(capsys, path)
    assert code == 0, out
    lines = out.splitlines()
    assert [line for line in lines if not line.startswith('OK ')] == [
        '%s: 0 error(s), 0 warning(s)' % path]
    for topic, fragment in (
            ('driver', 'compute_driver = migtuner.MigTunerDriver loads '
                       'nova.virt.migtuner.MigTunerDriver (nova 34.'),
            ('notifications', 'notification_format = both'),
            ('notifications', '[oslo_messaging_notifications] driver = '
                              'messagingv2'),
            ('migtuner', 'link_bandwidth = 10Gb/s: 1.164 GiB/s '
                         '(10 Gbit/s)'),
            ('strategies', 'tenants may choose balanced, conservative'),
            ('secrets', 'operator_secret set (32 bytes)'),
            ('filters', 'MigTunerFilter enabled'),
            ('filters', 'MigTunerWeigher in weight_classes')):
        assert any(line.split()[1] == topic and fragment in line
                   for line in lines), (topic, fragment, out)


def test_broken_nova_conf_names_every_problem(tmp_path, capsys):
    path = write(tmp_path, BROKEN, mode=0o644)
    code, out = run(capsys, path)
    assert code == 1
    errors = [line for line in out.splitlines() if line.startswith('ERROR')]
    expected = [
        ('driver', 'write exactly compute_driver = migtuner.MigTunerDriver'),
        ('notifications', 'notification_format = unversioned'),
        ('notifications', 'notifications never leave this host'),
        ('migtuner', "link_bandwidth '10gb/s' is ambiguous"),
        ('strategies', "strategy 'turbo'"),
        ('secrets', 'operator secret is 5 bytes; at least 16'),
        ('filters', 'nova-scheduler will not start; add available_filters '
                    '= nova_migtuner.scheduler.filters.MigTunerFilter'),
    ]
    for topic, fragment in expected:
        assert any(line.split()[1] == topic and fragment in line
                   for line in errors), (topic, fragment, out)
    assert len(errors) == len(expected), out
    warnings = [line for line in out.splitlines()
                if line.startswith('WARNING')]
    assert any('readable by every user (mode 644)' in line
               for line in warnings)
    assert any('keep nova.scheduler.weights.all_weighers' in line
               for line in warnings)
    assert out.splitlines()[-1] == '%s: 7 error(s), 2 warning(s)' % path


def test_controller_nova_conf_warns_only(tmp_path, capsys):
    # No compute driver, no [migtuner]: a controller's file works.
    path = write(tmp_path, GOOD.replace(
        'compute_driver = migtuner.MigTunerDriver\n', ''))
    code, out = run(capsys, path)
    assert code == 0, out
    assert 'WARNING driver        no [DEFAULT] compute_driver' in out


def test_unsupported_nova_says_what_to_do_before_upgrading(tmp_path):
    conf = check.load_config([write(tmp_path, GOOD)])
    (finding,) = check.driver_findings(conf, nova_version='35.0.0')
    assert finding.level == check.ERROR
    assert 'nova 35.0.0 is not supported (supported: 34.x)' in \
        finding.message
    assert 'Before upgrading nova, first install the nova_migtuner ' \
           'release for the new nova' in finding.message


def test_unreadable_file_is_one_line(tmp_path, capsys):
    code = cli.main(['check', '--config-file', str(tmp_path / 'none')])
    assert code == 1
    assert capsys.readouterr().err == 'nova-migtuner check: cannot read ' \
        '%s\n' % (tmp_path / 'none')


@pytest.mark.parametrize('weights,level', [
    ('nova.scheduler.weights.all_weighers', check.WARNING),
    ('nova.scheduler.weights.all_weighers,'
     'nova_migtuner.scheduler.weights.MigTunerWeigher', check.OK),
])
def test_weigher_findings(tmp_path, weights, level):
    conf = check.load_config([write(tmp_path, '[filter_scheduler]\n'
                                              'weight_classes = %s\n'
                                    % weights)])
    weigher = [f for f in check.filter_findings(conf)
               if 'MigTunerWeigher' in f.message]
    assert [f.level for f in weigher] == [level]
