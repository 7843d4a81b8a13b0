"""Fixtures of the option tests."""

from oslo_config import cfg
import pytest

from nova_migtuner.conf import migtuner as mt_opts


@pytest.fixture
def conf():
    c = cfg.ConfigOpts()
    mt_opts.register_opts(c)
    c([], project='nova', default_config_files=[])
    return c
