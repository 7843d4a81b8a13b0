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

"""Queries of nova's Migration and Aggregate records, and what they say.

``seconds_since_instance_migration`` for instance spacing, the aggregates
of the destination for its link class, and the one reading of "live
migrations incoming to a host" that the destination's admission, the
compute's published stats and the scheduler filter all share.
"""

import dataclasses
import datetime
from typing import Optional

from nova import objects

from nova_migtuner import migration_statuses as statuses
from nova_migtuner.planning import inputs
from nova_migtuner.planning import links


def seconds_since_instance_migration(context, instance_uuid, current_id):
    """Seconds since the instance's last live migration moved it, or None.

    Counts the statuses ``migration_statuses.SPACING``, as the CLI does.

    :param current_id: the running migration's id (ignored).
    """
    migrations = objects.MigrationList.get_by_filters(
        context, {'instance_uuid': instance_uuid,
                  'migration_type': statuses.LIVE_MIGRATION,
                  'status': sorted(statuses.SPACING)})
    now = datetime.datetime.now(datetime.timezone.utc)
    return inputs.seconds_since_last(
        ((m.id, m.updated_at or m.created_at) for m in migrations),
        now, exclude=(current_id,))


def destination_aggregates(context, dest):
    """``links.AggregateView`` of every aggregate host *dest* is in."""
    return [links.AggregateView(tuple(a.hosts or ()), dict(a.metadata or {}))
            for a in objects.AggregateList.get_by_host(context, dest)]


@dataclasses.dataclass(frozen=True)
class Incoming:
    """What one destination is receiving."""
    in_flight: int = 0
    last_end: Optional[float] = None      # epoch seconds


def is_incoming_live_migration(migration):
    return (migration.migration_type == statuses.LIVE_MIGRATION and
            bool(migration.dest_compute))


def incoming_by_host(migrations):
    """``{dest host: Incoming}`` of migration records (pure): live
    migrations in a ``migration_statuses.IN_FLIGHT`` status, and the end
    of the latest completed one.
    """
    found = {}
    for m in migrations:
        if not is_incoming_live_migration(m):
            continue
        now = found.get(m.dest_compute, Incoming())
        if m.status in statuses.IN_FLIGHT:
            now = dataclasses.replace(now, in_flight=now.in_flight + 1)
        elif m.status == statuses.COMPLETED and m.updated_at is not None:
            end = m.updated_at.timestamp()
            if now.last_end is None or end > now.last_end:
                now = dataclasses.replace(now, last_end=end)
        found[m.dest_compute] = now
    return found


def live_migrations_in_flight(context, dest=None):
    """The live-migration records in a ``migration_statuses.IN_FLIGHT``
    status in *context*'s cell, only those to *dest* if given.
    """
    filters = {'migration_type': statuses.LIVE_MIGRATION,
               'status': sorted(statuses.IN_FLIGHT)}
    if dest is not None:
        # nova's query has no destination filter: 'host' is source or
        # destination, and the destination is picked out here.
        filters['host'] = dest
    found = objects.MigrationList.get_by_filters(context, filters)
    return [m for m in found if dest is None or m.dest_compute == dest]


def latest_live_migration(context, instance_uuid):
    """The newest live-migration record of the instance, or None.

    nova's conductor creates it before the pre-checks run, so during a
    destination's pre-check it is the record of the migration checked.
    Deleted records are read too: deleting a server soft-deletes its
    records, which still say whether its migration ended (measured: a
    server deleted after a post-copy lost in its destination's QEMU left
    that destination refusing migrations, its admission awaiting a record
    nova no longer showed).
    """
    if context is not None:
        context = context.elevated(read_deleted='yes')
    found = objects.MigrationList.get_by_filters(
        context, {'migration_type': statuses.LIVE_MIGRATION,
                  'instance_uuid': instance_uuid},
        sort_keys=['created_at', 'id'], sort_dirs=['desc', 'desc'], limit=1)
    return found[0] if found else None


def live_migrations_completed_since(context, since):
    """The live-migration records completed (last updated) since the
    datetime *since* in *context*'s cell.
    """
    return list(objects.MigrationList.get_by_filters(
        context, {'migration_type': statuses.LIVE_MIGRATION,
                  'status': statuses.COMPLETED, 'changes-since': since}))
