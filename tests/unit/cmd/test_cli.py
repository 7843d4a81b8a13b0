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

"""``nova-migtuner``: one command, its subcommands and their help."""

import pytest

from nova_migtuner.cmd import cli


@pytest.mark.parametrize('name', ['testbed', 'bench'])
def test_passthrough_subcommands_own_their_help(capsys, name):
    with pytest.raises(SystemExit) as exc:
        cli.main([name, '--help'])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith('usage: nova-migtuner %s' % name)


def test_main_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit):
        cli.main(['--help'])
    out = capsys.readouterr().out
    for name in list(cli.SUBCOMMANDS) + list(cli.PASSTHROUGH):
        assert name in out
    assert 'unavailable' not in out
