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

"""Incoming live migrations per host, read from nova's cells when the
filter runs.

The counts a compute publishes in its resource stats are up to one
``update_resources_interval`` old: two requests a few seconds apart would
both see a destination as free. ``MigTunerFilter`` therefore asks every
cell's database, once per request, for the live migrations in flight and
the ones that completed within ``destination_settle_s``.
"""

import dataclasses
import datetime
from typing import Dict, Optional

from nova import context as nova_context
from nova import objects

from nova_migtuner import migration_statuses as statuses


@dataclasses.dataclass(frozen=True)
class Incoming:
    """What one destination is receiving."""
    in_flight: int = 0
    last_end: Optional[float] = None      # epoch seconds


class CellsUnavailable(RuntimeError):
    """A cell did not answer: its hosts' counts are unknown."""


def incoming_by_host(migrations):
    """``{dest host: Incoming}`` of live-migration records (pure)."""
    found = {}
    for m in migrations:
        if m.migration_type != statuses.LIVE_MIGRATION or not m.dest_compute:
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


def _cell_migrations(cctxt, since):
    in_flight = objects.MigrationList.get_by_filters(
        cctxt, {'migration_type': statuses.LIVE_MIGRATION,
                'status': sorted(statuses.IN_FLIGHT)})
    ended = []
    if since is not None:
        ended = objects.MigrationList.get_by_filters(
            cctxt, {'migration_type': statuses.LIVE_MIGRATION,
                    'status': statuses.COMPLETED, 'changes-since': since})
    return list(in_flight) + list(ended)


def incoming(context, settle_s, now) -> Dict[str, Incoming]:
    """``{dest host: Incoming}`` from every cell, now.

    :param settle_s: ``destination_settle_s``; completed migrations older
        than that are not read.
    :param now: epoch seconds.
    :raises CellsUnavailable: a cell failed or timed out.
    """
    since = None
    if settle_s:
        since = datetime.datetime.fromtimestamp(now - settle_s,
                                                datetime.timezone.utc)
    results = nova_context.scatter_gather_skip_cell0(
        context, _cell_migrations, since)
    migrations = []
    for cell, result in results.items():
        if nova_context.is_cell_failure_sentinel(result):
            raise CellsUnavailable('cell %s did not answer: %s'
                                   % (cell, result))
        migrations.extend(result)
    return incoming_by_host(migrations)
