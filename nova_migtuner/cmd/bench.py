"""``nova-migtuner bench``: the migration benchmark on the local test bed.

The arguments are parsed by ``nova_migtuner.bench.cli`` (see
``cli.PASSTHROUGH``); this module only lists the subcommand in the help.
"""


def add_parser(subparsers):
    return subparsers.add_parser(
        'bench', add_help=False,
        help='migrate idle, moderate, busy and bursty guests on the local '
             'test bed three ways (stock nova, nova best static, '
             'nova_migtuner) and report time, downtime and bytes (see: '
             'nova-migtuner bench --help)')
