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

"""Helpers shared by the openstack migtuner commands."""

import types

from nova_migtuner.osc.v1 import common


def settings(*config_files):
    return common.load_settings(
        types.SimpleNamespace(config_file=list(config_files)))


def test_cli_plans_auto_converge_only_where_nova_permits_it(tmp_path):
    # nova's default forbids it, as on the compute.
    assert settings().limits.permit_auto_converge is False
    conf = tmp_path / 'nova.conf'
    conf.write_text('[libvirt]\nlive_migration_permit_auto_converge = true\n')
    assert settings(str(conf)).limits.permit_auto_converge is True
    conf.write_text('[libvirt]\nlive_migration_permit_auto_converge = true\n'
                    '[migtuner]\npermit_auto_converge = false\n')
    assert settings(str(conf)).limits.permit_auto_converge is False


def test_columns_are_text_in_a_table_and_data_in_json():
    lines = common.LinesColumn(['a', 'b'])
    assert (lines.human_readable(), lines.machine_readable()) == (
        'a\nb', ['a', 'b'])
    flags = common.ListColumn(('VIR_MIGRATE_LIVE', 'VIR_MIGRATE_POSTCOPY'))
    assert flags.human_readable() == 'VIR_MIGRATE_LIVE, VIR_MIGRATE_POSTCOPY'
    assert flags.machine_readable() == ['VIR_MIGRATE_LIVE',
                                        'VIR_MIGRATE_POSTCOPY']
    absent = common.optional(None, 'does not converge')
    assert (absent.human_readable(), absent.machine_readable()) == (
        'does not converge', None)
    present = common.optional(26.1)
    assert (present.human_readable(), present.machine_readable()) == (
        '26.1', 26.1)
    assert common.megabytes(443 * 10 ** 6) == 443.0
    assert common.megabytes(None) is None
