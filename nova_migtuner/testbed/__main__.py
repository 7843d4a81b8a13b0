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

"""Command line: python -m nova_migtuner.testbed check|up|status|down."""

import argparse
import json
import logging
import sys

from nova_migtuner import signals
from nova_migtuner.testbed import bed as testbed_bed
from nova_migtuner.testbed import exceptions


def build_parser(prog='python -m nova_migtuner.testbed'):
    parser = argparse.ArgumentParser(
        prog=prog,
        description='Two libvirtd "hosts" on 127.0.0.1 for real live '
                    'migrations under QEMU TCG.')
    parser.add_argument('--workdir', default=None,
                        help='work dir (default $%s or %s)'
                        % (testbed_bed.WORKDIR_ENV,
                           testbed_bed.DEFAULT_WORKDIR))
    parser.add_argument('--ports', default=None,
                        help='libvirtd TCP ports of hosts a and b, '
                             '"PORT_A,PORT_B" (default $%s or %s)'
                        % (testbed_bed.PORTS_ENV, '%d,%d'
                           % testbed_bed.DEFAULT_PORTS))
    parser.add_argument('-v', '--verbose', action='store_true')
    sub = parser.add_subparsers(dest='command', required=True)
    sub.add_parser('check', help='list missing prerequisites')
    sub.add_parser('up', help='build artifacts, start both hosts')
    sub.add_parser('status', help='print hosts and guests as JSON')
    down = sub.add_parser('down', help='stop everything, remove state')
    down.add_argument('--purge', action='store_true',
                      help='also remove cached guest artifacts')
    return parser


def make_testbed(args):
    bed = testbed_bed.Testbed.from_environment()
    kwargs = {'workdir': args.workdir or bed.workdir}
    if args.ports:
        try:
            kwargs['ports'] = tuple(int(p) for p in args.ports.split(','))
        except ValueError:
            raise ValueError('--ports %r is invalid: expected PORT_A,PORT_B'
                             % args.ports)
    else:
        kwargs['ports'] = tuple(h.tcp_port for h in bed.hosts.values())
    return testbed_bed.Testbed(**kwargs)


def main(argv=None, prog='python -m nova_migtuner.testbed'):
    args = build_parser(prog).parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format='%(levelname)s %(name)s: %(message)s')
    try:
        bed = make_testbed(args)
        if args.command == 'check':
            missing = bed.missing_prerequisites()
            for item in missing:
                print('missing: %s' % item)
            if missing:
                print(bed.install_hint())
                return 1
            print('all prerequisites present')
        elif args.command == 'up':
            # Interrupted while starting: leave no half-started bed.
            with signals.cleanup_on_signal(bed.down):
                bed.up()
            print(json.dumps(bed.status(), indent=2))
        elif args.command == 'status':
            print(json.dumps(bed.status(), indent=2))
        elif args.command == 'down':
            bed.down(purge=args.purge)
    except (exceptions.TestbedError, ValueError) as exc:
        print('error: %s' % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
