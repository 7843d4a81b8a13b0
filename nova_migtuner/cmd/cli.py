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

"""The ``nova-migtuner`` command: plan, advise-flavor, report-collector,
check, testbed and bench subcommands."""

import argparse
import importlib
import re
import sys

# Subcommands and the modules implementing them. Only the module of the
# subcommand being run is imported (the report collector pulls in
# oslo.messaging and eventlet, which `plan` does not need); a module that
# cannot be imported (e.g. libvirt-python missing for the test bed) only
# disables its own subcommand, with the reason.
SUBCOMMANDS = {
    'plan': 'nova_migtuner.cmd.plan',
    'advise-flavor': 'nova_migtuner.cmd.advise_flavor',
    'report-collector': 'nova_migtuner.cmd.report_collector',
    'check': 'nova_migtuner.cmd.check',
}
# Subcommands whose modules parse their own arguments (and --help):
# name -> (module with main(argv, prog), one-line help).
PASSTHROUGH = {
    'testbed': ('nova_migtuner.testbed.__main__',
                'start, inspect or stop the local two-host libvirt/QEMU test '
                'bed (see: nova-migtuner testbed --help)'),
    'cloud': ('nova_migtuner.cloud.cli',
              'bring a real one-machine OpenStack up on the test bed, show '
              'its state, take it down, run the Tempest plugin against it '
              '(see: nova-migtuner cloud --help)'),
    'bench': ('nova_migtuner.bench.cli',
              'migrate idle, moderate, busy and bursty guests on the local '
              'test bed three ways (stock nova, nova best static, '
              'nova_migtuner) and report time, downtime and bytes (see: '
              'nova-migtuner bench --help)'),
}


def build_parser(only=None):
    """The argument parser, with every subcommand or only *only*."""
    parser = argparse.ArgumentParser(
        prog='nova-migtuner',
        description='Plan, run and measure tuned live migrations of '
                    'libvirt/KVM guests.')
    subparsers = parser.add_subparsers(dest='command', metavar='COMMAND')
    subparsers.required = True
    for name, module_name in SUBCOMMANDS.items():
        if only is not None and name != only:
            continue
        try:
            module = importlib.import_module(module_name)
        except ImportError as e:
            p = subparsers.add_parser(name, help='unavailable: %s' % e)
            p.set_defaults(func=_unavailable(name, e), parser=p)
            continue
        sub = module.add_parser(subparsers)
        sub.set_defaults(parser=sub)
    if only is None:
        for name, (_, help_text) in PASSTHROUGH.items():
            subparsers.add_parser(name, add_help=False, help=help_text)
    return parser


def _unavailable(name, error):
    def run(args, parser):
        parser.error('%s is unavailable: %s' % (name, error))
    return run


_NEGATIVE_VALUE = re.compile(r'^-\.?\d')


def glue_negative_values(argv):
    """Turn ``--memory -3GiB`` into ``--memory=-3GiB``.

    argparse takes ``-3GiB`` for an option and would report a missing value
    instead of the bad one; glued, the value reaches its type check, whose
    error names it.
    """
    out = []
    for token in argv:
        if (out and out[-1].startswith('--') and '=' not in out[-1] and
                _NEGATIVE_VALUE.match(token)):
            out[-1] = '%s=%s' % (out[-1], token)
        else:
            out.append(token)
    return out


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in PASSTHROUGH:
        module = importlib.import_module(PASSTHROUGH[argv[0]][0])
        return module.main(argv[1:], prog='nova-migtuner %s' % argv[0])
    parser = build_parser(only=argv[0] if argv and argv[0] in SUBCOMMANDS
                          else None)
    args = parser.parse_args(glue_negative_values(argv))
    return args.func(args, args.parser) or 0


if __name__ == '__main__':
    sys.exit(main())
