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

"""The drain's backend turns compute API errors into drain decisions."""

import types
from unittest import mock

from keystoneauth1 import exceptions as ksa_exc
from openstack import exceptions as sdk_exc
import pytest

from nova_migtuner.osc import client as client_mod
from nova_migtuner.osc import drain as drain_mod
from nova_migtuner.osc import progress
from nova_migtuner.osc.v1 import drain as drain_cmd


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def migration(mid, status='running'):
    return types.SimpleNamespace(id=mid, status=status, uuid='m-%s' % mid,
                                 created_at='2026-01-01T00:00:%02d' % mid)


def fake_client(records=(), task_state=None):
    client = mock.Mock(spec=['live_migrations', 'live_migrate',
                             'migration_sample', 'compute',
                             'abort_live_migration'])
    client.live_migrations.return_value = list(records)
    # Half of the memory sent.
    client.migration_sample.return_value = progress.Sample(
        at_s=0.0, memory_total_bytes=2, memory_processed_bytes=1,
        memory_remaining_bytes=1)
    client.compute.get_server.return_value = types.SimpleNamespace(
        task_state=task_state, compute_host='compute1', status='ACTIVE')
    return client


CANDIDATE = drain_mod.DrainCandidate(server_id='s1', name='web',
                                     memory_bytes=2 ** 30)


def backend_for(client, clock=None):
    return drain_cmd.ApiBackend(client, 'compute1', None, clock or Clock())


def refused(status, details):
    return client_mod.MigrateRefused('nova refused to live-migrate s1: %s'
                                     % details, status_code=status,
                                     details=details)


@pytest.mark.parametrize('error', [
    refused(400, 'No valid host was found. There are not enough hosts.'),
    refused(409, "Cannot 'os-migrateLive' instance while it is in "
                 "task_state migrating"),
])
def test_not_now_answers_are_retried_later(error):
    client = fake_client()
    client.live_migrate.side_effect = error
    with pytest.raises(drain_mod.RetryLater) as exc:
        backend_for(client).start(CANDIDATE)
    assert error.details in str(exc.value)


@pytest.mark.parametrize('error', [
    ksa_exc.ConnectFailure('Unable to establish connection'),
    ksa_exc.ConnectTimeout('timed out'),
    refused(503, 'Service Unavailable'),
    refused(504, 'Gateway Timeout'),
])
def test_lost_answers_to_a_start_are_transient(error):
    client = fake_client()
    client.live_migrate.side_effect = error
    with pytest.raises(drain_mod.TransientError):
        backend_for(client).start(CANDIDATE)


def test_other_refusals_fail_the_server():
    client = fake_client()
    client.live_migrate.side_effect = refused(400, 'bad request')
    with pytest.raises(client_mod.MigrateRefused):
        backend_for(client).start(CANDIDATE)


def test_a_failed_read_before_the_start_is_retried_later():
    client = fake_client()
    client.live_migrations.side_effect = ksa_exc.ConnectFailure('down')
    with pytest.raises(drain_mod.RetryLater):
        backend_for(client).start(CANDIDATE)
    client.live_migrate.assert_not_called()


def test_a_failed_poll_is_transient():
    client = fake_client()
    backend = backend_for(client)
    backend.start(CANDIDATE)
    client.live_migrations.side_effect = sdk_exc.HttpException(
        message='Bad Gateway', http_status=502)
    with pytest.raises(drain_mod.TransientError):
        backend.poll(CANDIDATE)


def test_an_unrecorded_start_is_not_started_only_after_the_grace():
    clock = Clock()
    client = fake_client()
    backend = backend_for(client, clock)
    backend.start(CANDIDATE)
    assert backend.poll(CANDIDATE) is None        # not recorded yet
    clock.now += drain_cmd.RECORD_GRACE_S + 1
    client.compute.get_server.return_value.task_state = 'migrating'
    assert backend.poll(CANDIDATE) is None        # nova is at it
    client.compute.get_server.return_value.task_state = None
    with pytest.raises(drain_mod.NotStarted):
        backend.poll(CANDIDATE)


def test_a_recorded_start_is_followed_and_aborted_by_its_id():
    client = fake_client(records=[migration(1, 'completed')])
    backend = backend_for(client)
    backend.start(CANDIDATE)
    client.live_migrations.return_value = [migration(1, 'completed'),
                                           migration(7, 'running')]
    assert backend.poll(CANDIDATE) == 0.5
    backend.abort(CANDIDATE)
    client.abort_live_migration.assert_called_once_with('s1', 7)


def test_a_server_gone_ends_its_watch_as_failed():
    client = fake_client()
    backend = backend_for(client)
    backend.start(CANDIDATE)
    client.live_migrations.side_effect = sdk_exc.NotFoundException(
        message='No server s1')
    result = backend.poll(CANDIDATE)
    assert result.completed is False
    assert 'No server s1' in result.error


@pytest.mark.parametrize('error,transient', [
    (ksa_exc.ConnectFailure(), True),
    (ksa_exc.SSLError(), False),
    (ksa_exc.http.ServiceUnavailable(), True),
    (ksa_exc.http.Forbidden(), False),
    (sdk_exc.HttpException(http_status=500), True),
    (sdk_exc.HttpException(http_status=409), False),
    (refused(429, 'slow down'), True),
    (ValueError('x'), False),
])
def test_is_transient(error, transient):
    assert client_mod.is_transient(error) is transient


def test_a_migration_nova_refused_before_it_ran_is_retried_later():
    # With asynchronous pre-checks, no valid host ends the record in error.
    client = fake_client()
    backend = backend_for(client)
    backend.start(CANDIDATE)
    client.live_migrations.return_value = [migration(3, 'error')]
    with pytest.raises(drain_mod.NotStarted, match='refused it before it '
                                                   'ran: migration 3: error'):
        backend.poll(CANDIDATE)


def test_a_migration_that_failed_while_running_is_a_failure():
    client = fake_client()
    backend = backend_for(client)
    backend.start(CANDIDATE)
    client.live_migrations.return_value = [migration(4, 'running')]
    assert backend.poll(CANDIDATE) == 0.5
    client.live_migrations.return_value = [migration(4, 'error')]
    result = backend.poll(CANDIDATE)
    assert result.completed is False
    assert 'migration 4: error' in result.error
