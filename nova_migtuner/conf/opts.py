"""Entry point for oslo-config-generator and oslo_config.sphinxext."""

from nova_migtuner.conf import migtuner
from nova_migtuner.planning import planner


def list_opts():
    """``[migtuner]`` (entry point ``nova_migtuner``)."""
    return [(migtuner.GROUP_NAME, migtuner.ALL_OPTS)]


def list_strategy_opts():
    """Each installed strategy's own group (``nova_migtuner.strategies``)."""
    return planner.list_strategy_opts()
