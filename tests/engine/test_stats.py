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

from nova_migtuner.engine import stats

MiB = 1024 ** 2


def test_sample_converts_dirty_pages_to_bytes_and_keeps_units():
    raw = {'type': 2, 'time_elapsed': 5300, 'data_total': 300 * MiB,
           'data_processed': 200 * MiB, 'data_remaining': 100 * MiB,
           'memory_remaining': 90 * MiB, 'memory_bps': 32 * MiB,
           'memory_dirty_rate': 25600, 'memory_page_size': 4096,
           'memory_iteration': 3, 'auto_converge_throttle': 30,
           'something_new': 'ignored'}
    sample = stats.JobSample.from_job_stats(raw, taken_at=12.5)
    assert sample.active
    assert sample.taken_at == 12.5
    assert sample.dirty_rate_bytes_s == 100 * MiB
    assert sample.remaining_bytes == 90 * MiB
    assert sample.elapsed_s == 5.3
    assert sample.memory_iteration == 3
    assert sample.auto_converge_throttle == 30
    assert sample.has_progress_data


def test_missing_keys_are_none_and_defaults_are_sane():
    sample = stats.JobSample.from_job_stats({'type': 0}, taken_at=1.0)
    assert not sample.active
    assert sample.type_name == 'none'
    assert sample.memory_remaining is None
    assert sample.dirty_rate_bytes_s is None
    assert sample.elapsed_s is None
    assert not sample.has_progress_data
    assert stats.JobSample.from_job_stats(None, 0).type == stats.JOB_NONE


def test_page_size_defaults_to_4k_and_remaining_falls_back_to_data():
    sample = stats.JobSample.from_job_stats(
        {'type': 1, 'memory_dirty_rate': 10, 'data_remaining': 7}, 0)
    assert sample.dirty_rate_bytes_s == 40960
    assert sample.remaining_bytes == 7


def test_all_zero_synthesised_completed_stats_carry_no_data():
    raw = {'type': 3, 'time_elapsed': 0, 'data_processed': 0,
           'memory_processed': 0, 'memory_total': 0}
    assert not stats.JobSample.from_job_stats(raw, 0).has_progress_data
