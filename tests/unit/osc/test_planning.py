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

"""What ``openstack migtuner plan`` would plan for a server."""

from nova_migtuner.osc import planning

POST_COPY = '[libvirt]\nlive_migration_permit_post_copy = true\n'


def _method(tmp_path, text):
    f = tmp_path / 'nova.conf'
    f.write_text(text)
    settings = planning.settings_from_config(
        planning.load_config([str(f)]), [str(f)])
    facts = planning.ServerFacts(
        server_id='a0', name='vm', status='ACTIVE', host='cmp1',
        flavor_name='m1.small', memory_mb=2048)
    return planning.plan_for(facts, settings,
                             operator_strategy='fastest').plan.prediction


def test_config_file_tunes_the_strategy(tmp_path):
    # 2 GiB with the assumed dirty rate: post-copy is faster, by more than
    # the default gain of 1.1.
    default = _method(tmp_path, POST_COPY)
    assert default.method == 'post-copy'
    tuned = _method(tmp_path, POST_COPY + '[migtuner_strategy_fastest]\n'
                                          'post_copy_gain = 100\n')
    assert tuned.method == 'pre-copy'
    assert tuned.converges


def test_bad_strategy_option_is_a_planning_error_naming_it(tmp_path):
    f = tmp_path / 'nova.conf'
    f.write_text('[migtuner_strategy_balanced]\n'
                 'max_comfortable_rounds = 0\n')
    try:
        planning.load_config([str(f)])
    except planning.PlanningError as e:
        assert 'max_comfortable_rounds' in str(e)
    else:
        raise AssertionError('max_comfortable_rounds = 0 was accepted')
