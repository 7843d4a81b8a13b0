"""Entry point for oslo-config-generator and oslo_config.sphinxext."""

from nova_migtuner.conf import migtuner


def list_opts():
    return [(migtuner.GROUP_NAME, migtuner.ALL_OPTS)]
