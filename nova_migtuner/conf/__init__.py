"""The ``[migtuner]`` option group.

Every option lives in ``nova_migtuner.conf.migtuner``; ``register_opts`` puts
them on a ``ConfigOpts`` (nova's global ``CONF`` inside nova services).
"""

from oslo_config import cfg

from nova_migtuner.conf import migtuner

CONF = cfg.CONF


def register_opts(conf=CONF):
    migtuner.register_opts(conf)


def check_values(conf=CONF):
    """Read every ``[migtuner]`` option now, so a bad value fails at start.

    oslo.config checks a value from a file only when it is first read; a
    service should refuse to start instead of failing its first migration.

    :raises oslo_config.cfg.ConfigFileValueError: naming option and range.
    """
    for opt in migtuner.ALL_OPTS:
        getattr(conf.migtuner, opt.dest)


register_opts(CONF)
