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

"""MigTunerFilter counts incoming live migrations when it runs."""

import datetime
import time
from unittest import mock

from nova import context as nova_context
import pytest

from nova_migtuner import migration_statuses as statuses
from nova_migtuner.nova import records
from nova_migtuner.scheduler import in_flight
from tests.unit.scheduler import fakes
from tests.unit.scheduler.test_filters import passing


def _migration(status, dest, seconds_ago=0.0, kind='live-migration'):
    return mock.Mock(status=status, dest_compute=dest, migration_type=kind,
                     updated_at=datetime.datetime.fromtimestamp(
                         time.time() - seconds_ago, datetime.timezone.utc))


def test_post_copy_counts_as_in_flight():
    assert statuses.POST_COPY == 'running (post-copy)'
    assert statuses.POST_COPY in statuses.IN_FLIGHT
    found = records.incoming_by_host(
        [_migration('running (post-copy)', 'd'), _migration('running', 'd'),
         _migration('completed', 'd')])
    assert found['d'].in_flight == 2


def test_incoming_by_host():
    found = records.incoming_by_host([
        _migration('running (post-copy)', 'a'),
        _migration('accepted', 'a'),
        _migration('completed', 'b', seconds_ago=5),
        _migration('completed', 'b', seconds_ago=50),
        _migration('running', 'c', kind='migration')])
    assert found['a'] == records.Incoming(in_flight=2)
    assert found['b'].in_flight == 0
    assert found['b'].last_end == pytest.approx(time.time() - 5, abs=2)
    assert 'c' not in found


def test_incoming_reads_every_cell_and_refuses_a_silent_one(monkeypatch):
    calls = []

    def gather(ctxt, fn, since):
        calls.append(since)
        return {'cell1': [_migration('running', 'a')],
                'cell2': [_migration('preparing', 'a')]}

    monkeypatch.setattr(nova_context, 'scatter_gather_skip_cell0', gather)
    now = time.time()
    assert in_flight.incoming(None, 30, now)['a'].in_flight == 2
    assert calls[0].timestamp() == pytest.approx(now - 30)

    monkeypatch.setattr(
        nova_context, 'scatter_gather_skip_cell0',
        lambda ctxt, fn, since: {'cell1': nova_context.
                                 did_not_respond_sentinel})
    with pytest.raises(in_flight.CellsUnavailable):
        in_flight.incoming(None, 30, now)


def _spec():
    spec = fakes.spec()
    spec._context = nova_context.RequestContext('u', 'p', is_admin=True)
    return spec


def test_filter_counts_at_filter_time_not_the_stale_stats(conf, live,
                                                          monkeypatch):
    conf.config(max_incoming_migrations=1, destination_settle_s=60,
                group='migtuner')
    # The stats say every host is free: they are one period old.
    hosts = [fakes.FakeHost('busy'), fakes.FakeHost('settling'),
             fakes.FakeHost('free')]
    now_counts = {
        'busy': records.Incoming(in_flight=1),
        'settling': records.Incoming(last_end=time.time() - 5)}
    monkeypatch.setattr(in_flight, 'incoming',
                        lambda ctxt, settle_s, now: now_counts)
    assert passing(hosts, _spec()) == ['free']


def test_filter_falls_back_to_the_stats_when_a_cell_fails(conf, live,
                                                          monkeypatch):
    conf.config(max_incoming_migrations=1, group='migtuner')

    def fail(ctxt, settle_s, now):
        raise in_flight.CellsUnavailable('cell1 did not answer')

    monkeypatch.setattr(in_flight, 'incoming', fail)
    hosts = [fakes.FakeHost('busy', incoming_migrations=1),
             fakes.FakeHost('free')]
    assert passing(hosts, _spec()) == ['free']
