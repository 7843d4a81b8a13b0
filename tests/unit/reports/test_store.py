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

"""The report database."""

import pytest

from nova_migtuner.reports import collector
from nova_migtuner.reports import store as store_mod
from nova_migtuner.reports import summary

from tests.unit.reports.factories import END
from tests.unit.reports.factories import end_payload


def test_since_filters_by_emission_time(report_store):
    endpoint = collector.ReportEndpoint(report_store)
    endpoint.handle(END, end_payload('old', 512, 1, 1, 1),
                    {'message_id': 'a', 'timestamp': '2025-01-01 00:00:00'})
    endpoint.handle(END, end_payload('new', 512, 1, 1, 1),
                    {'message_id': 'b', 'timestamp': '2025-06-01 00:00:00'})
    since = summary.parse_since('2025-03-01', now=0)
    assert [r.instance_uuid for r in report_store.reports(since=since)] == \
        ['new']


def test_reading_a_missing_database_names_the_collector(tmp_path):
    with pytest.raises(store_mod.ReportStoreError,
                       match='nova-migtuner report-collector'):
        store_mod.ReportStore(str(tmp_path / 'none.sqlite'), create=False)


def test_store_turns_sqlite_write_errors_into_report_store_errors(tmp_path):
    path = tmp_path / 'r.sqlite'
    report_store = store_mod.ReportStore(str(path))
    path.unlink()
    path.mkdir()          # the database file became a directory
    report = store_mod.report_row('m1', {'instance_uuid': 'u1',
                                         'outcome': 'completed'})
    with pytest.raises(store_mod.ReportStoreError,
                       match='cannot write to report database'):
        report_store.add(report, {})
