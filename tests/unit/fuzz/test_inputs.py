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
"""Every input is a valid value or a clear error naming it (hypothesis).

The kinds of input, and what counts as valid or clear, are in ``kinds``;
``tools/fuzz-report`` runs the same kinds many more times and counts.
"""

import hypothesis
import pytest

from tests.unit.fuzz import kinds

EXAMPLES = 150


@pytest.mark.parametrize('kind', kinds.KINDS, ids=lambda k: k.name)
def test_every_input_is_valid_or_a_clear_error(kind):
    @hypothesis.settings(max_examples=EXAMPLES, deadline=None,
                         suppress_health_check=[
                             hypothesis.HealthCheck.too_slow,
                             hypothesis.HealthCheck.data_too_large])
    @hypothesis.given(kind.strategy)
    def check(value):
        outcome = kind.attempt(value)
        assert outcome.verdict in kinds.GOOD, outcome.detail
    check()


@pytest.mark.parametrize('kind,value', [
    ('argtypes.size', '1' * 400),
    ('argtypes.milliseconds', '1' * 400),
    ('argtypes.milliseconds', '\u00b2'),
    ('argtypes.rate', '1' * 400),
    ('argtypes.seconds', '1' * 400 + 's'),
    ('argtypes.positive_seconds', '0'),
    ('argtypes.positive_int', '1' * 400),
    ('openstack migtuner report --since', '1' * 400 + 'd'),
    ('collector payloads', 'not an object'),
    ('collector payloads', {**kinds._GOOD_END, 'downtime_ms': 2 ** 70}),
    ('collector payloads', {**kinds._GOOD_END, 'total_time_s': 10 ** 400}),
    ('collector payloads',
     {**kinds._GOOD_END, 'total_time_s': float('nan')}),
    ('collector payloads', {**kinds._GOOD_END, 'outcome': 'banana'}),
])
def test_inputs_the_fuzzing_found(kind, value):
    # Each of these gave a traceback or was silently accepted.
    assert kinds.KINDS_BY_NAME[kind].attempt(value).verdict == kinds.CLEAR


def test_a_valid_payload_is_stored_and_summarised():
    outcome = kinds.KINDS_BY_NAME['collector payloads'].attempt(
        dict(kinds._GOOD_END))
    assert outcome.verdict == kinds.VALID, outcome.detail


def test_the_counting_run_counts_every_input():
    counts, details = kinds.run(kinds.KINDS_BY_NAME['argtypes.size'], 20,
                                seed=1)
    assert 0 < sum(counts.values()) <= 20
    assert set(counts) <= set(kinds.GOOD)
    assert details == {}
