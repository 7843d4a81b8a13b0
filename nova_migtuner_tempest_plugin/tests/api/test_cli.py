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

"""The operator command, where it is installed next to Tempest."""

import shutil
import subprocess

from tempest import config
from tempest.lib import decorators
import tempest.test

from nova_migtuner_tempest_plugin.tests.api import base

CONF = config.CONF

SUBCOMMANDS = ('plan', 'testbed', 'bench')


class MigTunerCLITest(tempest.test.BaseTestCase):
    """nova-migtuner plan|testbed|bench answer --help."""

    credentials = []

    @classmethod
    def skip_checks(cls):
        super(MigTunerCLITest, cls).skip_checks()
        base.skip_unless_migtuner(cls)
        if not CONF.nova_migtuner.cli_available:
            raise cls.skipException(
                'the nova-migtuner command is not installed here '
                '([nova_migtuner] cli_available = False)')

    def _run(self, *args):
        command = CONF.nova_migtuner.cli_command
        path = shutil.which(command)
        if path is None:
            self.fail('[nova_migtuner] cli_command %r is not an executable '
                      'command' % command)
        proc = subprocess.run([path] + list(args), capture_output=True,
                              text=True, timeout=60)
        self.assertEqual(0, proc.returncode,
                         '%s %s failed: %s' % (command, ' '.join(args),
                                               proc.stderr))
        return proc.stdout

    @decorators.idempotent_id('8bbcf40e-7a22-4ea8-842e-039b843a657f')
    def test_help_lists_subcommands(self):
        output = self._run('--help')
        for name in SUBCOMMANDS:
            self.assertIn(name, output)

    @decorators.idempotent_id('848f049d-f4ac-4b76-b67a-4cd0b5b7b4a7')
    def test_subcommands_have_help(self):
        for name in SUBCOMMANDS:
            self._run(name, '--help')
