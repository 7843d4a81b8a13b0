"""Fixtures of the scheduler tests."""

from oslo_config import fixture as config_fixture
import pytest

import nova_migtuner.conf
from nova_migtuner.scheduler import request

from tests.unit.scheduler import fakes


@pytest.fixture
def conf():
    fixture = config_fixture.Config(nova_migtuner.conf.CONF)
    fixture.setUp()
    yield fixture
    fixture.cleanUp()


@pytest.fixture
def live(monkeypatch):
    holder = {'source': fakes.source()}
    monkeypatch.setattr(request, 'live_migration_source',
                        lambda spec_obj: holder['source'])
    return holder
