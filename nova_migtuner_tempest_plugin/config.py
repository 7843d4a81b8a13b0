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

"""Options of the nova-migtuner Tempest plugin.

Only oslo.config is imported here, so the options can be read (by the
DevStack plugin's tests, by the documentation) without Tempest installed.
"""

from oslo_config import cfg

service_option = cfg.BoolOpt(
    'nova_migtuner',
    default=False,
    help='Whether nova-migtuner is installed in the cloud (the migtuner '
         'compute driver on the computes, its extra-spec validators in '
         'nova-api). The tests of this plugin skip when it is false.')

nova_migtuner_group = cfg.OptGroup(
    name='nova_migtuner',
    title='nova-migtuner Tempest plugin options')

NovaMigTunerGroup = [
    cfg.BoolOpt('cli_available',
                default=False,
                help='Whether the nova-migtuner operator command is '
                     'installed on the host that runs Tempest.'),
    cfg.StrOpt('cli_command',
               default='nova-migtuner',
               help='The nova-migtuner command: a name looked up on PATH or '
                    'an absolute path (DevStack installs it into its own '
                    'venv, whose bin directory need not be on PATH).'),
    cfg.StrOpt('expected_strategy',
               default='balanced',
               help='Strategy the tests request with the flavor extra spec '
                    'migtuner:strategy; it must be installed on the cloud.'),
    cfg.IntOpt('max_downtime_ms',
               default=500,
               min=10,
               max=60000,
               help='Largest switch-over pause, in ms, the tests accept; '
                    'set as migtuner:max_downtime_ms on the flavor of the '
                    'migrated servers.'),
    cfg.IntOpt('busy_migration_budget',
               default=900,
               min=1,
               help='Seconds within which the live migration of a server '
                    'that keeps dirtying its memory must complete.'),
    cfg.IntOpt('busy_dirty_mib',
               default=64,
               min=1,
               help='MiB of guest memory the busy server rewrites over and '
                    'over while it is migrated.'),
    cfg.IntOpt('busy_flavor_ram_mb',
               default=256,
               min=64,
               help='RAM, in MB, of the flavor of the busy server; it must '
                    'hold the guest OS and busy_dirty_mib.'),
    cfg.StrOpt('busy_image_ref',
               default='',
               help='Image of the busy server: a guest that dirties its '
                    'memory by itself from boot (e.g. the nova-migtuner '
                    'test bed guest with a constant workload). Empty: the '
                    'busy server boots [compute] image_ref with a user-data '
                    'script that rewrites busy_dirty_mib MiB, which needs '
                    'cloud-init or cirros. Related: busy_ready_marker.'),
    cfg.StrOpt('busy_ready_marker',
               default='',
               help='Text the busy server prints on its console once its '
                    'workload runs. Empty: the marker of the user-data '
                    'script. Related: busy_image_ref.'),
    cfg.BoolOpt('boot_without_network',
                default=False,
                help='Boot the migrated servers with no network '
                     '(networks="none", microversion 2.37) instead of '
                     'Tempest\'s network for the project: for clouds whose '
                     'test guests need none, such as the nova-migtuner test '
                     'bed cloud. Needs [validation] run_validation = '
                     'False.'),
    cfg.FloatOpt('max_unreachable_s',
                 default=0.0,
                 min=0.0,
                 help='When above 0 and [validation] run_validation is true, '
                      'the server is pinged during its live migration and '
                      'the test fails if it stays unreachable longer than '
                      'this many seconds (network switch-over included, so '
                      'well above max_downtime_ms). 0 does not ping.'),
]


def list_opts():
    """Options for Tempest's sample config, as get_opt_lists returns them."""
    return [
        (nova_migtuner_group.name, NovaMigTunerGroup),
        ('service_available', [service_option]),
    ]
