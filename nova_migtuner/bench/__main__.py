import sys

from nova_migtuner.bench import cli

sys.exit(cli.main())
