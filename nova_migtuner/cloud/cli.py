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

"""``nova-migtuner cloud up|status|down|tempest``."""

import argparse
import json
import logging
import sys

from nova_migtuner.cloud import cloud as cloud_mod
from nova_migtuner.cloud import configs
from nova_migtuner.cloud import layout as layout_mod
from nova_migtuner import signals


def nova_option(text):
    """``SECTION.KEY=VALUE`` -> (section, key, value)."""
    name, sep, value = text.partition('=')
    section, dot, key = name.partition('.')
    if not sep or not dot or not section or not key:
        raise argparse.ArgumentTypeError(
            '%r is invalid: expected SECTION.KEY=VALUE, e.g. '
            'libvirt.live_migration_permit_post_copy=true' % text)
    return section, key, value


def build_parser(prog='nova-migtuner cloud'):
    parser = argparse.ArgumentParser(
        prog=prog,
        description='A real one-machine OpenStack (MariaDB, RabbitMQ, '
                    'keystone, glance, placement, neutron, nova) on the '
                    'test bed\'s two libvirtd hosts.')
    parser.add_argument('--workdir', default=None,
                        help='state, configs and logs (default $%s or %s)'
                        % (layout_mod.WORKDIR_ENV, layout_mod.DEFAULT_WORKDIR))
    parser.add_argument('-v', '--verbose', action='store_true')
    sub = parser.add_subparsers(dest='command', required=True)
    up = sub.add_parser('up', help='start what is not running (idempotent)')
    up.add_argument('--driver', choices=sorted(configs.NOVA_DRIVERS),
                    default='migtuner',
                    help='compute_driver of both computes: migtuner '
                         '(migtuner.MigTunerDriver) or stock '
                         '(libvirt.LibvirtDriver); default %(default)s')
    up.add_argument('--nova-option', action='append', default=[],
                    type=nova_option, metavar='SECTION.KEY=VALUE',
                    help='a nova option for both computes; repeatable. '
                         'Changing driver or options restarts only the '
                         'computes.')
    sub.add_parser('status', help='each service, its PID and whether it '
                                  'answers, as JSON')
    sub.add_parser('down', help='stop everything and remove the state')
    tempest = sub.add_parser('tempest', help='write tempest.conf for this '
                                             'cloud and run the plugin\'s '
                                             'tests')
    tempest.add_argument('--regex', default='nova_migtuner_tempest_plugin',
                         help='tests to run (default %(default)s)')
    return parser


def main(argv=None, prog='nova-migtuner cloud'):
    args = build_parser(prog).parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format='%(asctime)s %(levelname)s %(message)s')
    cloud = cloud_mod.Cloud(layout_mod.Layout.from_environment(args.workdir))
    try:
        if args.command == 'up':
            with signals.cleanup_on_signal(cloud.down):
                started = cloud.up(args.driver, args.nova_option)
            print('started: %s' % (', '.join(started) or 'nothing, '
                                   'everything was running'))
            print('use it as admin with:\n  openstack --os-cloud %s server '
                  'list\n(the %s entry of %s; also alone in %s)'
                  % (layout_mod.CLOUD_NAME, layout_mod.CLOUD_NAME,
                     cloud_mod.USER_CLOUDS_YAML, cloud.layout.clouds_yaml))
        elif args.command == 'status':
            status = cloud.status()
            print(json.dumps(status, indent=2))
            return 0 if all(s['answers'] for s in status['services']) else 1
        elif args.command == 'down':
            cloud.down()
        elif args.command == 'tempest':
            from nova_migtuner.cloud import tempest
            return tempest.run(cloud, args.regex)
    except (cloud_mod.CloudError, ValueError) as exc:
        print('error: %s' % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
