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
