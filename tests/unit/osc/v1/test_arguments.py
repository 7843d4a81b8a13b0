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

"""The openstack migtuner commands refuse bad arguments by name."""

from unittest import mock

import pytest

from nova_migtuner.osc.v1 import drain as drain_cmd
from nova_migtuner.osc.v1 import migrate as migrate_cmd


def parser_of(command_class):
    return command_class(mock.Mock(), None).get_parser('openstack migtuner')


@pytest.mark.parametrize('command_class,argv', [
    (drain_cmd.DrainHost, ['compute1']),
    (migrate_cmd.MigrateServer, ['web', '--wait']),
])
@pytest.mark.parametrize('interval', ['0', '0s', '0ms', '-1s', 'inf',
                                      '1' * 400])
def test_poll_interval_must_be_above_zero(capsys, command_class, argv,
                                          interval):
    with pytest.raises(SystemExit) as exc:
        parser_of(command_class).parse_args(
            argv + ['--poll-interval=%s' % interval])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert 'argument --poll-interval' in err
    assert repr(interval) in err


def test_a_positive_poll_interval_is_taken():
    args = parser_of(drain_cmd.DrainHost).parse_args(
        ['compute1', '--poll-interval', '500ms'])
    assert args.poll_interval == 0.5
