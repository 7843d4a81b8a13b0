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

"""The per-flavor summary of stored reports, and ``--since``."""

import pytest

from nova_migtuner.reports import collector
from nova_migtuner.reports import summary

from tests.unit.reports.factories import END
from tests.unit.reports.factories import end_payload


def test_field_notes_table_from_stored_reports(report_store):
    endpoint = collector.ReportEndpoint(report_store)
    rows = [('tiny', 512, 19, 483, 456), ('small', 2048, 20, 533, 443),
            ('xlarge', 16384, 24, 531, 829)]
    for i, (flavor, mib, sec, down, mb) in enumerate(rows):
        endpoint.info({}, 'nova-compute:compute1', END,
                      end_payload('u%d' % i, mib, sec, down, mb,
                                  flavor=flavor),
                      {'message_id': 'msg-%d' % i,
                       'timestamp': '2025-06-01 12:00:0%d.000000' % i})
    # A failed migration of a tiny guest: counted, not averaged.
    endpoint.handle(END, end_payload('u9', 512, 99, 9999, 9999,
                                     outcome='aborted', flavor='tiny'),
                    {'message_id': 'msg-9'})
    table = summary.by_flavor(report_store.reports())
    assert [(r.flavor, r.migrations, r.completed, r.failed, r.total_s,
             r.downtime_ms, round(r.mb_sent)) for r in table] == [
        ('tiny', 2, 1, 1, 19, 483, 456),
        ('small', 1, 1, 0, 20, 533, 443),
        ('xlarge', 1, 1, 0, 24, 531, 829)]


def test_flavor_unknown_is_labelled_by_memory(report_store):
    endpoint = collector.ReportEndpoint(report_store)
    endpoint.handle(END, end_payload('u1', 512, 19, 483, 456), {})
    (row,) = summary.by_flavor(report_store.reports())
    assert row.flavor == 'unknown (512 MiB)'
    report_store.set_flavor('u1', 'm1.tiny')
    (row,) = summary.by_flavor(report_store.reports())
    assert row.flavor == 'm1.tiny'


@pytest.mark.parametrize('text,expected', [
    ('30min', 1000 - 1800), ('24h', 1000 - 86400), ('2d', 1000 - 172800),
    ('1970-01-01T00:10:00', 600), ('1970-01-01T01:10:00+01:00', 600)])
def test_parse_since(text, expected):
    assert summary.parse_since(text, now=1000) == expected


def test_parse_since_rejects_nonsense():
    with pytest.raises(ValueError, match="'yesterday' cannot be read"):
        summary.parse_since('yesterday', now=0)
