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

"""The plan as a dict (the CLI's JSON, the notifications)."""

from nova_migtuner.planning import planner

from tests.unit.planning.factories import make


def test_plan_dict_has_the_documented_fields():
    d = planner.build_plan(make()).to_dict()
    for key in ('strategy', 'flags', 'initial_downtime_ms',
                'bandwidth_mib_s', 'escalation', 'timing', 'prediction',
                'explain'):
        assert key in d
    for key in ('converges', 'total_seconds', 'bytes', 'downtime_ms',
                'rounds'):
        assert key in d['prediction']
