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

"""Instance spacing counts the same migrations in nova and in the CLI."""

import datetime
import types
from unittest import mock

from nova import objects

from nova_migtuner import migration_statuses as statuses
from nova_migtuner.nova import records
from nova_migtuner.osc import client as client_mod

objects.register_all()

# One of each way a live migration ends; the refused one is nova's 'failed'
# (recover_method with migration_status='failed').
ENDED = [('completed', 600), ('failed', 60), ('error', 50),
         ('cancelled', 40)]


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _record(i, status, seconds_ago):
    when = _now() - datetime.timedelta(seconds=seconds_ago)
    return types.SimpleNamespace(id=i, status=status, updated_at=when,
                                 created_at=when)


def _nova_seconds():
    records_ = [_record(i, st, ago) for i, (st, ago) in enumerate(ENDED)]

    def get_by_filters(context, filters):
        return [r for r in records_ if r.status in filters['status']]

    with mock.patch.object(objects.MigrationList, 'get_by_filters',
                           side_effect=get_by_filters):
        return records.seconds_since_instance_migration(None, 'u', None)


def _cli_seconds():
    client = client_mod.MigtunerClient.__new__(client_mod.MigtunerClient)
    now = _now()
    migrations = [types.SimpleNamespace(status=st, updated_at=(
        now - datetime.timedelta(seconds=ago)).isoformat())
        for st, ago in ENDED]
    client.live_migrations = lambda server_id: migrations
    end = client.last_migration_end('s')
    return now.timestamp() - end


def test_nova_and_the_cli_count_only_migrations_that_moved_the_guest():
    assert statuses.SPACING == frozenset(('completed',))
    nova_s = _nova_seconds()
    cli_s = _cli_seconds()
    assert abs(nova_s - 600) < 5
    assert abs(cli_s - nova_s) < 5
