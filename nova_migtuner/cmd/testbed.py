"""``nova-migtuner testbed check|up|status|down``: the local test bed.

The arguments are parsed by ``nova_migtuner.testbed.__main__`` (see
``cli.PASSTHROUGH``); this module only lists the subcommand in the help.
"""


def add_parser(subparsers):
    return subparsers.add_parser(
        'testbed', add_help=False,
        help='start, inspect or stop the local two-host libvirt/QEMU test '
             'bed (see: nova-migtuner testbed --help)')
