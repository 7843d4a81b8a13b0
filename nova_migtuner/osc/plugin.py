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

"""The ``openstack.cli.extension`` entry point of the migtuner commands.

The commands talk to nova's compute API only (nova_migtuner adds no API
service), through the openstacksdk connection osc already has.
"""

from osc_lib import utils

from nova_migtuner.osc import client

DEFAULT_API_VERSION = '1'
API_VERSION_OPTION = 'os_migtuner_api_version'
API_NAME = 'migtuner'
API_VERSIONS = {'1': 'nova_migtuner.osc.client.MigtunerClient'}


def make_client(instance):
    """Return the migtuner client of an osc ``ClientManager``."""
    return client.MigtunerClient(instance.sdk_connection)


def build_option_parser(parser):
    """Add the global ``--os-migtuner-api-version`` option."""
    parser.add_argument(
        '--os-migtuner-api-version',
        metavar='<migtuner-api-version>',
        default=utils.env('OS_MIGTUNER_API_VERSION',
                          default=DEFAULT_API_VERSION),
        help='migtuner command set version, default=%s '
             '(Env: OS_MIGTUNER_API_VERSION)' % DEFAULT_API_VERSION)
    return parser
