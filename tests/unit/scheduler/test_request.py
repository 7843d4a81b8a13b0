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

"""Whether a scheduling request is a live migration, and its source."""

import gc
from unittest import mock

from oslo_utils.fixture import uuidsentinel as uuids

from nova import objects

from nova_migtuner.scheduler import request

from tests.unit.scheduler.fakes import source


def test_cheap_signal_never_true_for_a_boot():
    boot = objects.RequestSpec(instance_uuid=uuids.instance, ignore_hosts=None)
    assert not request.maybe_live_migration(boot)
    moved = objects.RequestSpec(
        instance_uuid=uuids.instance, ignore_hosts=['src'],
        requested_destination=objects.Destination(
            cell=objects.CellMapping(uuid=uuids.cell, name='cell1')))
    assert request.maybe_live_migration(moved)
    no_cell = objects.RequestSpec(instance_uuid=uuids.instance,
                                  ignore_hosts=['src'])
    assert not request.maybe_live_migration(no_cell)
    with mock.patch.object(request, '_lookup') as lookup:
        assert request.live_migration_source(boot) is None
    lookup.assert_not_called()


def test_lookup_once_per_request_and_errors_pass(monkeypatch):
    moved = objects.RequestSpec(
        instance_uuid=uuids.instance, ignore_hosts=['src'],
        requested_destination=objects.Destination(
            cell=objects.CellMapping(uuid=uuids.cell, name='cell1')))
    answer = source()
    with mock.patch.object(request, '_lookup',
                           return_value=answer) as lookup:
        assert request.live_migration_source(moved) is answer
        assert request.live_migration_source(moved) is answer
    assert lookup.call_count == 1
    other = objects.RequestSpec(**{k: getattr(moved, k) for k in (
        'instance_uuid', 'ignore_hosts', 'requested_destination')})
    with mock.patch.object(request, '_lookup',
                           side_effect=RuntimeError('db down')):
        assert request.live_migration_source(other) is None
    key = id(moved)
    assert key in request._ANSWERS
    # the cache entry leaves with its RequestSpec (the mock holds call args)
    del moved, lookup
    gc.collect()
    assert key not in request._ANSWERS
