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

"""Flavor extra specs ``migtuner:*``: valid ones kept, invalid ones refused.

Nova validates extra specs from microversion 2.86 with the validators that
nova-migtuner registers (``nova.api.extra_spec_validators``).
"""

from tempest import config
from tempest.lib import decorators
from tempest.lib import exceptions as lib_exc

from nova_migtuner_tempest_plugin.tests.api import base

CONF = config.CONF

INVALID_SPECS = (
    ('migtuner:strategy', 'no-such-strategy'),
    ('migtuner:max_downtime_ms', 'fast'),
    ('migtuner:max_downtime_ms', '5'),
    ('migtuner:max_downtime_ms', '60001'),
    ('migtuner:permit_post_copy', 'maybe'),
    ('migtuner:permit_auto_converge', 'sometimes'),
)


class MigTunerFlavorExtraSpecsTest(base.MigTunerAdminTest):
    """The API checks migtuner:* extra specs when they are set."""

    min_microversion = '2.86'

    def _flavor(self):
        return self.create_migtuner_flavor()

    @decorators.idempotent_id('b8b10907-b39f-4ebb-b1a8-2ba9ce37b4c6')
    def test_valid_migtuner_extra_specs_are_accepted(self):
        flavor = self._flavor()
        specs = dict(self.migtuner_extra_specs())
        specs.update({'migtuner:permit_post_copy': 'false',
                      'migtuner:permit_auto_converge': 'true'})
        client = self.admin_flavors_client
        client.set_flavor_extra_spec(flavor['id'], **specs)
        stored = client.list_flavor_extra_specs(flavor['id'])['extra_specs']
        self.assertEqual(specs, stored)

    @decorators.idempotent_id('6254c3ef-e3d6-439d-882a-976dfe9dc14c')
    def test_invalid_migtuner_extra_specs_are_refused(self):
        flavor = self._flavor()
        client = self.admin_flavors_client
        for key, value in INVALID_SPECS:
            self.assertRaises(lib_exc.BadRequest,
                              client.set_flavor_extra_spec,
                              flavor['id'], **{key: value})
        stored = client.list_flavor_extra_specs(flavor['id'])['extra_specs']
        self.assertEqual({}, stored)
