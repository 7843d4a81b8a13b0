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

"""Hand-built plans for the engine's unit tests (no strategy involved)."""

from nova_migtuner.planning import model
from nova_migtuner.planning import plan as P

MiB = 1024 ** 2

PREDICTION = model.Prediction(method=model.PRE_COPY, converges=True,
                              rounds=3, total_seconds=10.0,
                              bytes=300 * MiB, downtime_ms=100.0)


def make_plan(flags=(P.LIVE,), escalation=(), deadline_s=120.0,
              deadline_action=P.ACTION_ABORT, initial_downtime_ms=100,
              max_downtime_ms=500, bandwidth_mib_s=32,
              parallel_connections=1, compression=None, max_pause_ms=0,
              prediction=PREDICTION, strategy='test'):
    return P.MigrationPlan(
        strategy=strategy, flags=tuple(flags),
        initial_downtime_ms=initial_downtime_ms,
        max_downtime_ms=max_downtime_ms, bandwidth_mib_s=bandwidth_mib_s,
        parallel_connections=parallel_connections, compression=compression,
        escalation=tuple(escalation), completion_deadline_s=deadline_s,
        deadline_action=deadline_action, max_pause_ms=max_pause_ms,
        timing=P.TimingDecision(), prediction=prediction)
