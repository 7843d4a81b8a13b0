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

"""The ``tempest.test_plugins`` entry point of nova-migtuner."""

import os

from tempest.test_discover import plugins

from nova_migtuner_tempest_plugin import config as migtuner_config


class MigTunerTempestPlugin(plugins.TempestPlugin):

    def load_tests(self):
        base_path = os.path.split(os.path.dirname(
            os.path.abspath(__file__)))[0]
        test_dir = os.path.join('nova_migtuner_tempest_plugin', 'tests')
        return os.path.join(base_path, test_dir), base_path

    def register_opts(self, conf):
        conf.register_opt(migtuner_config.service_option,
                          group='service_available')
        conf.register_group(migtuner_config.nova_migtuner_group)
        conf.register_opts(migtuner_config.NovaMigTunerGroup,
                           group=migtuner_config.nova_migtuner_group)

    def get_opt_lists(self):
        return migtuner_config.list_opts()
