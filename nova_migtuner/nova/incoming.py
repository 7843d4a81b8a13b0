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

"""``max_incoming_migrations`` at the destination: admit an incoming live
migration in nova's destination pre-check, under one lock per compute.

The scheduler filter counts the live migrations in flight to a host from
nova's database, but nova's conductor writes the destination into the
migration record only after the scheduler chose it *and* both computes'
pre-checks passed: seconds on a busy compute. Four migrations asked for
at once all passed the filter of a host with a limit of 2 (measured with
``nova-migtuner bench --concurrent 4``: three jobs ran to it at once). The
destination's own pre-check (``check_can_live_migrate_destination``) runs
in the one process that receives them all, so it can count and reserve
atomically: the migrations it admitted (until they end, or for
``ADMISSION_TTL_S``, by when nova's record names the host) together with
those nova's records show in flight to it. A refusal is nova's
``MigrationPreCheckError``: the conductor tries the next host the
scheduler offers, and the server stays where it is if there is none.
"""

import threading
import time

from nova import exception as nova_exception
from oslo_log import log as logging

from nova_migtuner import migration_statuses as statuses
from nova_migtuner.nova import records

LOG = logging.getLogger(__name__)

# How long an admitted migration counts while its record names no
# destination: the conductor writes it right after the pre-checks, so only
# a conductor that died in between leaves an admission this long.
ADMISSION_TTL_S = 300.0


class Refused(Exception):
    """The destination already receives its limit of live migrations."""

    def __init__(self, instance_uuid, in_flight, limit):
        super().__init__(
            'this host already receives %d live migrations (%s); '
            '[migtuner] max_incoming_migrations = %d' % (
                len(in_flight), ', '.join(sorted(in_flight)), limit))
        self.instance_uuid = instance_uuid
        self.in_flight = frozenset(in_flight)
        self.limit = limit


class IncomingLedger:
    """The incoming live migrations one compute admitted (no nova, no I/O).

    :param clock: monotonic seconds.
    """

    def __init__(self, clock=time.monotonic, ttl_s=ADMISSION_TTL_S):
        self._clock = clock
        self._ttl_s = ttl_s
        self._admitted = {}         # instance uuid -> admitted at
        self._lock = threading.Lock()

    def admit(self, instance_uuid, recorded, limit):
        """Admit *instance_uuid*, or raise ``Refused``.

        :param recorded: instance uuids whose live migration to this host
            nova's records show in flight.
        :param limit: ``max_incoming_migrations``; 0 admits every one.
        """
        with self._lock:
            now = self._clock()
            self._admitted = {uuid: at for uuid, at in self._admitted.items()
                              if now - at < self._ttl_s}
            others = (set(self._admitted) | set(recorded)) - {instance_uuid}
            if limit and len(others) >= limit:
                raise Refused(instance_uuid, others, limit)
            self._admitted[instance_uuid] = now

    def release(self, instance_uuid):
        """The admission of *instance_uuid* no longer counts: its
        migration ended here, or nova's record counts it.
        """
        with self._lock:
            self._admitted.pop(instance_uuid, None)

    def admitted(self):
        with self._lock:
            return frozenset(self._admitted)


def awaits_its_record(migration):
    """Whether an admitted migration still counts in the ledger (pure):
    its newest record (*migration*, or None if there is none) is in flight
    and names no destination yet. Once it names one, nova's records count
    it there; once it is final, it no longer runs.
    """
    if migration is None:
        return True
    return (migration.status in statuses.IN_FLIGHT and
            not migration.dest_compute)


def handed_over(ledger, context, instance_uuid):
    """The admissions, other than *instance_uuid*'s, whose records have
    taken over (``awaits_its_record``).
    """
    return {uuid for uuid in ledger.admitted() - {instance_uuid}
            if not awaits_its_record(
                records.latest_live_migration(context, uuid))}


def recorded_in_flight(context, host):
    """Instance uuids of the live migrations nova's records show in flight
    to *host*.
    """
    return {m.instance_uuid
            for m in records.live_migrations_in_flight(context, dest=host)}


def admit(ledger, context, instance, host, limit):
    """Admit the live migration of *instance* to *host* or raise nova's
    ``MigrationPreCheckError`` naming the migrations already in flight.
    Any other failure here admits it (nova's own behaviour) and is logged.
    """
    if not limit:
        return
    try:
        # Read before the in-flight records: a migration handed over is in
        # them, unless it has ended. Released only once both were read.
        handed = handed_over(ledger, context, instance.uuid)
        recorded = recorded_in_flight(context, host)
        for uuid in handed:
            ledger.release(uuid)
    except Exception as e:
        # The records only add what another process admitted; this one's
        # own admissions still count.
        LOG.warning('nova_migtuner could not read the live migrations in '
                    'flight to %(host)s, counting only those this compute '
                    'admitted: %(error)s', {'host': host, 'error': e},
                    instance=instance)
        recorded = set()
    try:
        ledger.admit(instance.uuid, recorded, limit)
    except Refused as e:
        LOG.warning('nova_migtuner refuses the incoming live migration: '
                    '%(reason)s', {'reason': e}, instance=instance)
        raise nova_exception.MigrationPreCheckError(reason=str(e))
    except Exception as e:
        LOG.error('nova_migtuner could not count the incoming live '
                  'migrations; admitting this one as nova would: %(error)s',
                  {'error': e}, instance=instance, exc_info=True)
