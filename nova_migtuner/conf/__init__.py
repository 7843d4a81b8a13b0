"""The ``[migtuner]`` option group.

Every option lives in ``nova_migtuner.conf.migtuner``; ``register_opts`` puts
them on a ``ConfigOpts`` (nova's global ``CONF`` inside nova services).
"""

from oslo_config import cfg

from nova_migtuner.conf import migtuner

CONF = cfg.CONF


def register_opts(conf=CONF):
    migtuner.register_opts(conf)


register_opts(CONF)
