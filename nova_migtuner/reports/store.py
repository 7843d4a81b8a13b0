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

"""SQLite store of measured migration reports (``.end`` notifications).

One row per ``migtuner.live_migration.end`` notification, keyed by the
notification's message id so a redelivered notification is stored once.
The columns are the payload fields the report table needs; the whole payload
is kept as JSON next to them for anything else, as it was received (a 1.x
flat dict or a 2.x versioned object envelope; ``payload`` reads both).
"""

import dataclasses
import json
import os
import sqlite3
import time
from typing import Optional

from nova_migtuner.planning import notification_schema as notif

ENV_DATABASE = 'MIGTUNER_REPORT_DB'

SCHEMA = """
CREATE TABLE IF NOT EXISTS migration_report (
    message_id TEXT PRIMARY KEY,
    received_at REAL NOT NULL,
    emitted_at REAL,
    instance_uuid TEXT NOT NULL,
    migration_uuid TEXT,
    source_host TEXT,
    destination_host TEXT,
    flavor TEXT,
    strategy TEXT,
    outcome TEXT NOT NULL,
    total_time_s REAL,
    downtime_ms INTEGER,
    downtime_net_ms INTEGER,
    data_bytes INTEGER,
    memory_bytes INTEGER,
    memory_total_bytes INTEGER,
    iterations INTEGER,
    postcopy_requests INTEGER,
    predicted_total_s REAL,
    predicted_bytes INTEGER,
    final_max_downtime_ms INTEGER,
    escalations_taken INTEGER,
    stats_source TEXT,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS migration_report_instance
    ON migration_report (instance_uuid, emitted_at);
CREATE INDEX IF NOT EXISTS migration_report_emitted
    ON migration_report (emitted_at);
"""

# Report column -> .end payload field (nova_migtuner.nova.notifications).
PAYLOAD_COLUMNS = (
    ('instance_uuid', 'instance_uuid'),
    ('migration_uuid', 'migration_uuid'),
    ('source_host', 'source_host'),
    ('destination_host', 'destination_host'),
    ('strategy', 'strategy'),
    ('outcome', 'outcome'),
    ('total_time_s', 'total_time_s'),
    ('downtime_ms', 'downtime_ms'),
    ('downtime_net_ms', 'downtime_net_ms'),
    ('data_bytes', 'data_bytes_transferred'),
    ('memory_bytes', 'memory_bytes_transferred'),
    ('memory_total_bytes', 'memory_total_bytes'),
    ('iterations', 'iterations'),
    ('postcopy_requests', 'postcopy_requests'),
    ('predicted_total_s', 'predicted_total_s'),
    ('predicted_bytes', 'predicted_bytes'),
    ('final_max_downtime_ms', 'final_max_downtime_ms'),
    ('escalations_taken', 'escalations_taken'),
    ('stats_source', 'stats_source'),
)


class ReportStoreError(RuntimeError):
    """The report database cannot be opened or a row cannot be read."""


@dataclasses.dataclass(frozen=True)
class StoredReport:
    """One measured migration, as stored."""
    message_id: str
    received_at: float
    emitted_at: Optional[float]
    instance_uuid: str
    outcome: str
    migration_uuid: Optional[str] = None
    source_host: Optional[str] = None
    destination_host: Optional[str] = None
    flavor: Optional[str] = None
    strategy: Optional[str] = None
    total_time_s: Optional[float] = None
    downtime_ms: Optional[int] = None
    downtime_net_ms: Optional[int] = None
    data_bytes: Optional[int] = None
    memory_bytes: Optional[int] = None
    memory_total_bytes: Optional[int] = None
    iterations: Optional[int] = None
    postcopy_requests: Optional[int] = None
    predicted_total_s: Optional[float] = None
    predicted_bytes: Optional[int] = None
    final_max_downtime_ms: Optional[int] = None
    escalations_taken: Optional[int] = None
    stats_source: Optional[str] = None

    @property
    def completed(self):
        return self.outcome == 'completed'


_COLUMNS = tuple(f.name for f in dataclasses.fields(StoredReport))


def default_path():
    """``$MIGTUNER_REPORT_DB``, else ``~/.local/share/nova-migtuner/...``."""
    if os.environ.get(ENV_DATABASE):
        return os.environ[ENV_DATABASE]
    base = os.environ.get('XDG_DATA_HOME') or os.path.join(
        os.path.expanduser('~'), '.local', 'share')
    return os.path.join(base, 'nova-migtuner', 'reports.sqlite')


def flavor_from_payload(payload):
    """Flavor name if the payload carries one (a later payload version may:
    ``flavor_name``, or nova's nested ``flavor`` object).
    """
    name = payload.get('flavor_name')
    if name:
        return str(name)
    flavor = payload.get('flavor')
    if isinstance(flavor, dict):
        data = flavor.get('nova_object.data', flavor)
        name = data.get('name') if isinstance(data, dict) else None
        return name if isinstance(name, str) else None
    if isinstance(flavor, str):
        return flavor
    return None


# The fields a stored report cannot do without.
REQUIRED_FIELDS = ('instance_uuid', 'outcome')


def end_payload(payload):
    """The flat ``.end`` payload of *payload* (a 1.x dict or a 2.x
    envelope), checked against the schema.

    Older payloads may lack later fields and newer minor versions may add
    some; every field that is there must have its declared type and range
    (a dict, a string or a 2**70 where a number belongs would otherwise
    break the database or the report table).

    :raises ValueError: saying what is wrong.
    """
    flat = notif.flat_payload(notif.END, payload)
    problems = ['payload has no %s' % name for name in REQUIRED_FIELDS
                if not flat.get(name)]
    problems += notif.validate(notif.END, flat, missing_ok=True,
                               extra_ok=True)
    if problems:
        raise ValueError('; '.join(problems))
    return flat


def report_row(message_id, payload, emitted_at=None, received_at=None):
    """Return the ``StoredReport`` of a ``.end`` payload (a 1.x dict or a
    2.x envelope); ValueError if it does not match the schema.
    """
    payload = end_payload(payload)
    values = {column: payload.get(field)
              for column, field in PAYLOAD_COLUMNS}
    return StoredReport(
        message_id=str(message_id),
        received_at=time.time() if received_at is None else received_at,
        emitted_at=emitted_at, flavor=flavor_from_payload(payload),
        **values)


class ReportStore:
    """The SQLite database; one short connection per call (the collector
    writes while operators read).
    """

    def __init__(self, path, create=True):
        self.path = path
        if not create and not os.path.exists(path):
            raise ReportStoreError(
                'no report database at %s: run "nova-migtuner '
                'report-collector --database %s" where the notification bus '
                'is reachable, or point --report-db at its database'
                % (path, path))
        if create:
            directory = os.path.dirname(os.path.abspath(path))
            try:
                os.makedirs(directory, exist_ok=True)
            except OSError as e:
                raise ReportStoreError(
                    'cannot create the directory of report database %s: '
                    '%s' % (path, e.strerror or e))
        try:
            with self._connect() as db:
                db.executescript(SCHEMA)
        except sqlite3.Error as e:
            raise ReportStoreError('cannot open report database %s: %s'
                                   % (path, e))

    def _connect(self):
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        return db

    def add(self, report, payload):
        """Store *report*; False if its message id was already stored.

        :raises ReportStoreError: the database cannot be written.
        """
        try:
            db = self._connect()
        except sqlite3.Error as e:
            raise ReportStoreError('cannot write to report database %s: %s'
                                   % (self.path, e))
        try:
            with db:
                values = dataclasses.asdict(report)
                values['payload'] = json.dumps(payload, sort_keys=True,
                                               default=str)
                names = list(values)
                db.execute('INSERT INTO migration_report (%s) VALUES (%s)'
                           % (', '.join(names), ', '.join('?' * len(names))),
                           [values[n] for n in names])
            return True
        except sqlite3.IntegrityError:
            return False
        except sqlite3.Error as e:
            raise ReportStoreError('cannot write to report database %s: %s'
                                   % (self.path, e))
        finally:
            db.close()

    def set_flavor(self, instance_uuid, flavor):
        db = self._connect()
        try:
            with db:
                db.execute('UPDATE migration_report SET flavor = ? WHERE '
                           'instance_uuid = ? AND flavor IS NULL',
                           (flavor, instance_uuid))
        finally:
            db.close()

    def reports(self, since=None, instance_uuid=None, migration_uuid=None):
        """Stored reports, oldest first; *since* is epoch seconds."""
        where, args = [], []
        if since is not None:
            where.append('COALESCE(emitted_at, received_at) >= ?')
            args.append(since)
        if instance_uuid is not None:
            where.append('instance_uuid = ?')
            args.append(instance_uuid)
        if migration_uuid is not None:
            where.append('migration_uuid = ?')
            args.append(migration_uuid)
        sql = 'SELECT %s FROM migration_report' % ', '.join(_COLUMNS)
        if where:
            sql += ' WHERE ' + ' AND '.join(where)
        sql += ' ORDER BY COALESCE(emitted_at, received_at), message_id'
        db = self._connect()
        try:
            return tuple(StoredReport(**dict(row))
                         for row in db.execute(sql, args))
        except sqlite3.Error as e:
            raise ReportStoreError('cannot read %s: %s' % (self.path, e))
        finally:
            db.close()

    def payload(self, message_id):
        """The stored payload of *message_id* in the flat (1.x) form."""
        db = self._connect()
        try:
            row = db.execute('SELECT payload FROM migration_report WHERE '
                             'message_id = ?', (message_id,)).fetchone()
            return (notif.flat_payload(notif.END, json.loads(row['payload']))
                    if row else None)
        finally:
            db.close()

    def prune(self, max_age_s=None, max_rows=None, now=None):
        """Delete reports older than *max_age_s* and all but the newest
        *max_rows*; None or 0 keeps them. Returns how many were deleted.

        :raises ReportStoreError: the database cannot be written.
        """
        now = time.time() if now is None else now
        deleted = 0
        try:
            db = self._connect()
        except sqlite3.Error as e:
            raise ReportStoreError('cannot prune report database %s: %s'
                                   % (self.path, e))
        try:
            with db:
                if max_age_s:
                    deleted += db.execute(
                        'DELETE FROM migration_report WHERE '
                        'COALESCE(emitted_at, received_at) < ?',
                        (now - max_age_s,)).rowcount
                if max_rows:
                    deleted += db.execute(
                        'DELETE FROM migration_report WHERE message_id NOT '
                        'IN (SELECT message_id FROM migration_report ORDER '
                        'BY COALESCE(emitted_at, received_at) DESC, '
                        'message_id DESC LIMIT ?)', (int(max_rows),)
                    ).rowcount
            return deleted
        except sqlite3.Error as e:
            raise ReportStoreError('cannot prune report database %s: %s'
                                   % (self.path, e))
        finally:
            db.close()
