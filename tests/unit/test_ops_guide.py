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

"""The operations guide covers what nova has and what the tests show."""

import pathlib
import re

from nova.conf import libvirt as nova_libvirt_conf
from oslo_config import generator

ROOT = pathlib.Path(__file__).resolve().parents[2]
NOVA_OPTIONS_DOC = ROOT / 'doc' / 'source' / 'ops' / 'nova-options.rst'
FUNCTIONAL = ROOT / 'tests' / 'functional' / 'driver'


def test_every_nova_live_migration_option_is_in_the_table():
    text = NOVA_OPTIONS_DOC.read_text()
    names = sorted(opt.name
                   for _, opts in nova_libvirt_conf.list_opts().items()
                   for opt in opts if opt.name.startswith('live_migration'))
    assert len(names) >= 15        # nova 34 has 15
    missing = [n for n in names if '``%s``' % n not in text]
    assert missing == []


def test_every_test_the_table_names_exists():
    text = NOVA_OPTIONS_DOC.read_text()
    named = set(re.findall(r'``(test_\w+)``', text)) - {
        'test_nova_options', 'test_tuned_migration'}
    assert named
    sources = ''.join(p.read_text() for p in FUNCTIONAL.glob('test_*.py'))
    defined = set(re.findall(r'def (test_\w+)\(', sources))
    assert sorted(named - defined) == []


def test_sample_config_is_wrapped_at_79_columns(tmp_path):
    conf_file = ROOT / 'etc' / 'nova_migtuner' / \
        'nova_migtuner-config-generator.conf'
    assert 'wrap_width = 79' in conf_file.read_text()
    out = tmp_path / 'sample.conf'
    generator.main(['--config-file', str(conf_file), '--output-file',
                    str(out)])
    lines = out.read_text().splitlines()
    assert [line for line in lines if len(line) > 79] == []
