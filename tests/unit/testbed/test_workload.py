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

"""The guest workload's progress and request parameters."""

import pytest

from nova_migtuner.testbed import Workload


def test_progress_lines_and_requests_are_on_by_default():
    args = Workload().kernel_args().split()
    assert 'mt_progress_ms=100' in args
    assert 'mt_req_rate=100' in args


def test_both_can_be_turned_off():
    args = Workload(progress_ms=0, request_rate=0).kernel_args().split()
    assert 'mt_progress_ms=0' in args and 'mt_req_rate=0' in args


@pytest.mark.parametrize('field, value', [
    ('progress_ms', -1), ('progress_ms', 1001), ('progress_ms', 0.5),
    ('progress_ms', True), ('request_rate', -1), ('request_rate', 5000),
    ('request_rate', 'many')])
def test_bad_values_are_refused_by_name(field, value):
    with pytest.raises(ValueError, match='%s=%r' % (field, value)):
        Workload(**{field: value})
