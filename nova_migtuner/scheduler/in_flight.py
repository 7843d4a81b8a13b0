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

import datetime
from typing import Dict

from nova import context as nova_context

from nova_migtuner.nova import records


class CellsUnavailable(RuntimeError):
    """A cell did not answer: its hosts' counts are unknown."""


def _cell_migrations(cctxt, since):
    ended = []
    if since is not None:
        ended = records.live_migrations_completed_since(cctxt, since)
    return records.live_migrations_in_flight(cctxt) + ended


def incoming(context, settle_s, now) -> Dict[str, records.Incoming]:
    """``{dest host: records.Incoming}`` from every cell, now.

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
    return records.incoming_by_host(migrations)
