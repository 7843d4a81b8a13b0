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

"""The DevStack plugin's checks, run with DevStack's Python.

The checks themselves are ``nova_migtuner.cmd.check`` (``nova-migtuner
check``); this script finds them in the repository it is part of, so that
``nova-version`` also runs before the package is installed.

Each subcommand exits 0 when the check passes and otherwise prints what is
wrong and what to change on stderr, and exits 1:

``nova-version REQUIREMENTS``
    the installed nova is within the range of the ``nova`` line of
    *REQUIREMENTS* (before pip gets a chance to replace DevStack's nova).
``driver NAME``
    ``[DEFAULT] compute_driver = NAME`` loads: nova imports
    ``nova.virt.NAME`` and the class is a ``ComputeDriver``.
``validate CONFIG_FILE``
    ``nova-migtuner check --config-file CONFIG_FILE`` finds no ERROR.
"""

import argparse
import os
import sys

# The checks of this checkout, also before it is installed (nova-version
# runs first). The checkout stays on sys.path only for that import: its
# nova/ directory would make ``nova`` a namespace package where nova is an
# editable install (DevStack's), hiding nova from the driver check.
_CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, _CHECKOUT)
from nova_migtuner.cmd import check  # noqa: E402
sys.path.remove(_CHECKOUT)


def validate(config_file):
    findings = check.check_config([config_file])
    for finding in findings:
        print(finding.line())
    errors = [f for f in findings if f.level == check.ERROR]
    if errors:
        raise check.CheckError('; '.join(f.message for f in errors))
    return '%s: no errors' % config_file


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='check', required=True)
    sub.add_parser('nova-version').add_argument('requirements')
    sub.add_parser('driver').add_argument('name')
    sub.add_parser('validate').add_argument('config_file')
    args = parser.parse_args(argv)
    try:
        if args.check == 'nova-version':
            message = check.check_nova_version(args.requirements)
        elif args.check == 'driver':
            message = check.check_driver(args.name)
        else:
            message = validate(args.config_file)
    except check.CheckError as e:
        print('nova-migtuner: %s' % e, file=sys.stderr)
        return 1
    print('nova-migtuner: %s' % message)
    return 0


if __name__ == '__main__':
    sys.exit(main())
