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

"""Smallest pause first."""

from nova_migtuner.planning import plan as P
from nova_migtuner.planning import planner

from tests.unit.planning.factories import GiB
from tests.unit.planning.factories import make
from tests.unit.planning.factories import MiB


def test_min_downtime_prefers_post_copy_to_longer_pauses():
    plan = planner.build_plan(
        make(memory=8 * GiB, dirty=60 * MiB, permit_post_copy=True),
        operator_strategy='min_downtime')
    assert plan.initial_downtime_ms == 100
    assert plan.escalation[0].action == P.ACTION_POST_COPY


def test_min_downtime_compresses_only_with_spare_host_cpu():
    base = dict(memory=8 * GiB, dirty=60 * MiB, permit_compression=True)
    idle_host = planner.build_plan(make(source_host_load=0.2, **base),
                                   operator_strategy='min_downtime')
    busy_host = planner.build_plan(make(source_host_load=0.8, **base),
                                   operator_strategy='min_downtime')
    assert idle_host.compression == P.COMPRESSION_XBZRLE
    assert P.COMPRESSED in idle_host.flags
    assert busy_host.compression is None
