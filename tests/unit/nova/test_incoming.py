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

"""The destination's admission of incoming live migrations."""

import threading
from unittest import mock

from nova import exception as nova_exception
import pytest

from nova_migtuner.nova import incoming
from nova_migtuner.nova import records


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


def test_the_limit_counts_admitted_and_recorded_migrations_once():
    ledger = incoming.IncomingLedger(clock=Clock())
    ledger.admit('i1', set(), 2)
    # i1's record now names this host: counted once, not twice.
    ledger.admit('i2', {'i1'}, 2)
    with pytest.raises(incoming.Refused) as e:
        ledger.admit('i3', {'i1'}, 2)
    assert e.value.in_flight == {'i1', 'i2'}
    assert 'already receives 2 live migrations (i1, i2)' in str(e.value)
    assert 'max_incoming_migrations = 2' in str(e.value)
    # A migration started elsewhere (another process's record) counts too.
    ledger.release('i2')
    with pytest.raises(incoming.Refused):
        ledger.admit('i3', {'i1', 'x9'}, 2)
    ledger.admit('i3', {'i1'}, 2)
    # The same instance asked again (a retried pre-check) is not its own
    # rival; 0 is no limit.
    ledger.admit('i3', {'i1', 'i3'}, 2)
    ledger.admit('i4', {'i1', 'i3'}, 0)


def test_an_admission_expires_once_nova_s_record_has_long_taken_over():
    clock = Clock()
    ledger = incoming.IncomingLedger(clock=clock, ttl_s=300)
    ledger.admit('i1', set(), 1)
    clock.now = 299.0
    with pytest.raises(incoming.Refused):
        ledger.admit('i2', set(), 1)
    clock.now = 300.0
    ledger.admit('i2', set(), 1)
    assert ledger.admitted() == {'i2'}


def test_a_released_admission_no_longer_counts():
    ledger = incoming.IncomingLedger(clock=Clock())
    ledger.admit('i1', set(), 1)
    ledger.release('i1')
    ledger.release('i1')                    # already released: no error
    assert ledger.admitted() == frozenset()
    ledger.admit('i2', set(), 1)
    assert ledger.admitted() == {'i2'}


def test_concurrent_pre_checks_admit_no_more_than_the_limit():
    ledger = incoming.IncomingLedger()
    go = threading.Barrier(8)
    admitted, refused = [], []

    def check(uuid):
        go.wait()
        try:
            ledger.admit(uuid, set(), 2)
            admitted.append(uuid)
        except incoming.Refused:
            refused.append(uuid)
    threads = [threading.Thread(target=check, args=('i%d' % n,))
               for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert len(admitted) == 2 and len(refused) == 6


def instance(uuid='i3'):
    return mock.Mock(uuid=uuid)


def test_a_refusal_is_nova_s_pre_check_error(monkeypatch):
    monkeypatch.setattr(incoming, 'recorded_in_flight',
                        lambda context, host: {'i1', 'i2'})
    with pytest.raises(nova_exception.MigrationPreCheckError,
                       match='already receives 2 live migrations'):
        incoming.admit(incoming.IncomingLedger(), None, instance(), 'b', 2)


def test_records_that_cannot_be_read_leave_this_compute_s_own_count(
        monkeypatch):
    def unreadable(context, host):
        raise RuntimeError('database gone')
    monkeypatch.setattr(incoming, 'recorded_in_flight', unreadable)
    ledger = incoming.IncomingLedger()
    incoming.admit(ledger, None, instance('i1'), 'b', 1)
    with pytest.raises(nova_exception.MigrationPreCheckError):
        incoming.admit(ledger, None, instance('i2'), 'b', 1)


def test_a_bug_in_the_count_admits_the_migration_as_nova_would(
        monkeypatch):
    monkeypatch.setattr(incoming, 'recorded_in_flight',
                        lambda context, host: set())
    ledger = mock.Mock()
    ledger.admit.side_effect = ZeroDivisionError('bug')
    incoming.admit(ledger, None, instance(), 'b', 2)


def test_the_records_read_are_live_migrations_in_flight_to_the_host(
        monkeypatch):
    seen = {}

    def get_by_filters(context, filters):
        seen.update(filters)
        # nova's 'host' filter matches the source too.
        return [mock.Mock(instance_uuid='i1', dest_compute='migtuner-b'),
                mock.Mock(instance_uuid='i1', dest_compute='migtuner-b'),
                mock.Mock(instance_uuid='i2', dest_compute='migtuner-c')]
    monkeypatch.setattr(records.objects, 'MigrationList',
                        mock.Mock(get_by_filters=get_by_filters),
                        raising=False)
    assert incoming.recorded_in_flight(None, 'migtuner-b') == {'i1'}
    # Keys nova's migration_get_all_by_filters reads; it ignores others.
    assert seen['host'] == 'migtuner-b'
    assert 'dest_compute' not in seen
    assert seen['migration_type'] == 'live-migration'
    assert 'running (post-copy)' in seen['status']


def _record(status, dest):
    return mock.Mock(status=status, dest_compute=dest)


def test_an_admission_counts_until_its_record_names_a_destination():
    assert incoming.awaits_its_record(None)
    assert incoming.awaits_its_record(_record('accepted', None))
    assert not incoming.awaits_its_record(_record('queued', 'b'))
    assert not incoming.awaits_its_record(_record('running', 'b'))
    # cancelled from the source's queue: nova does not tell the
    # destination, and the record is final.
    assert not incoming.awaits_its_record(_record('cancelled', 'b'))
    assert not incoming.awaits_its_record(_record('error', None))


def _nova_records(monkeypatch, in_flight=(), latest=None):
    """nova's records as ``incoming`` reads them: the instances in flight
    to the host, and each instance's newest record.
    """
    monkeypatch.setattr(incoming, 'recorded_in_flight',
                        lambda context, host: set(in_flight))
    monkeypatch.setattr(records, 'latest_live_migration',
                        lambda context, uuid: (latest or {}).get(uuid))


def test_a_queued_migration_cancelled_on_the_source_frees_its_place(
        monkeypatch):
    ledger = incoming.IncomingLedger(clock=Clock())
    _nova_records(monkeypatch)
    incoming.admit(ledger, None, instance('i1'), 'b', 2)
    incoming.admit(ledger, None, instance('i2'), 'b', 2)
    with pytest.raises(nova_exception.MigrationPreCheckError):
        incoming.admit(ledger, None, instance('i3'), 'b', 2)
    # i1 runs to b (its record counts it), i2 was cancelled while queued.
    _nova_records(monkeypatch, in_flight={'i1'}, latest={
        'i1': _record('running', 'b'), 'i2': _record('cancelled', 'b')})
    incoming.admit(ledger, None, instance('i3'), 'b', 2)
    assert ledger.admitted() == {'i3'}
    with pytest.raises(nova_exception.MigrationPreCheckError,
                       match=r'\(i1, i3\)'):
        incoming.admit(ledger, None, instance('i4'), 'b', 2)


def test_nothing_is_handed_over_when_the_in_flight_records_are_unread(
        monkeypatch):
    ledger = incoming.IncomingLedger(clock=Clock())
    _nova_records(monkeypatch)
    incoming.admit(ledger, None, instance('i1'), 'b', 1)

    def unreadable(context, host):
        raise RuntimeError('database gone')
    _nova_records(monkeypatch, latest={'i1': _record('running', 'b')})
    monkeypatch.setattr(incoming, 'recorded_in_flight', unreadable)
    with pytest.raises(nova_exception.MigrationPreCheckError):
        incoming.admit(ledger, None, instance('i2'), 'b', 1)
    assert ledger.admitted() == {'i1'}


def test_the_newest_record_of_the_instance_is_read(monkeypatch):
    seen = {}

    def get_by_filters(context, filters, **kwargs):
        seen.update(filters, **kwargs)
        return ['newest']
    monkeypatch.setattr(records.objects, 'MigrationList',
                        mock.Mock(get_by_filters=get_by_filters),
                        raising=False)
    assert records.latest_live_migration(None, 'i1') == 'newest'
    assert seen['instance_uuid'] == 'i1'
    assert seen['migration_type'] == 'live-migration'
    assert seen['sort_keys'][0] == 'created_at'
    assert seen['sort_dirs'][0] == 'desc' and seen['limit'] == 1


def test_the_newest_record_of_a_deleted_server_is_read_too(monkeypatch):
    contexts = []

    def get_by_filters(context, filters, **kwargs):
        contexts.append(context)
        return [_record('error', 'b')]
    monkeypatch.setattr(records.objects, 'MigrationList',
                        mock.Mock(get_by_filters=get_by_filters),
                        raising=False)
    context = mock.Mock()
    record = records.latest_live_migration(context, 'i1')
    context.elevated.assert_called_once_with(read_deleted='yes')
    assert contexts == [context.elevated.return_value]
    # Final: the admission of the deleted server's migration is handed
    # over instead of counting until its time-to-live.
    assert not incoming.awaits_its_record(record)
