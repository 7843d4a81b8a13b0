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

"""Migration inputs for the planning tests, from a few keywords."""

from nova_migtuner.planning import context as ctx
from nova_migtuner import units

GiB = units.GiB
MiB = units.MiB
ALL = ('balanced', 'min_downtime', 'fastest', 'conservative')


def make(memory=8 * GiB, dirty=20 * MiB, link=110e6, **limits):
    policy = limits.pop('policy', ctx.GuestPolicy())
    extra = {k: limits.pop(k) for k in list(limits)
             if k in ('source_host_load', 'seconds_since_instance_migration',
                      'touched_bytes', 'working_set_bytes')}
    return ctx.MigrationInputs(
        memory_bytes=memory, link_bandwidth=link, dirty_rate=dirty,
        policy=policy, limits=ctx.AdminLimits(**limits), **extra)
