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

"""Queries of nova's database the planner needs: Migration and Aggregate.

``seconds_since_instance_migration`` for instance spacing, and the
aggregates of the destination for its link class.
"""

import datetime

from nova import objects

from nova_migtuner.planning import inputs
from nova_migtuner.planning import links


def seconds_since_instance_migration(context, instance_uuid, current_id):
    """Seconds since the instance's last live migration ended, or None.

    :param current_id: the running migration's id (ignored).
    """
    migrations = objects.MigrationList.get_by_filters(
        context, {'instance_uuid': instance_uuid,
                  'migration_type': 'live-migration',
                  'status': list(inputs.FINISHED_STATUSES)})
    now = datetime.datetime.now(datetime.timezone.utc)
    return inputs.seconds_since_last(
        ((m.id, m.updated_at or m.created_at) for m in migrations),
        now, exclude=(current_id,))


def destination_aggregates(context, dest):
    """``links.AggregateView`` of every aggregate host *dest* is in."""
    return [links.AggregateView(tuple(a.hosts or ()), dict(a.metadata or {}))
            for a in objects.AggregateList.get_by_host(context, dest)]
