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

"""``MigTunerWeigher``: prefer the cheapest live-migration destination.

Enable with (``weight_classes`` is one comma-separated list that replaces
nova's default, so keep ``all_weighers`` in it)::

    [filter_scheduler]
    weight_classes = nova.scheduler.weights.all_weighers,
        nova_migtuner.scheduler.weights.MigTunerWeigher

(on one line in nova.conf, without a space after the comma).
"""

from oslo_log import log as logging

from nova.scheduler import utils as scheduler_utils
from nova.scheduler import weights

import nova_migtuner.conf
from nova_migtuner.planning import limits as limits_mod
from nova_migtuner.planning import links
from nova_migtuner.scheduler import hosts
from nova_migtuner.scheduler import request
from nova_migtuner.scheduler import rules
from nova_migtuner import units

LOG = logging.getLogger(__name__)
CONF = nova_migtuner.conf.CONF

MULTIPLIER_KEY = 'migtuner_weight_multiplier'


def _default_link_bandwidth():
    # 'measure' is a compute-side notion (observed migrations of one host);
    # the scheduler ranks with the fallback rate.
    return limits_mod.link_bandwidth(CONF.migtuner.link_bandwidth)[0]


def _link_classes():
    classes, errors = links.parse_link_classes(
        CONF.migtuner.link_classes)
    for error in errors:
        LOG.warning('[migtuner] link_classes: %s; class ignored', error)
    return classes


class MigTunerWeigher(weights.BaseHostWeigher):
    """Weigh hosts by minus the expected cost of the live migration.

    Requests other than live migrations get weight 0 on every host, which
    leaves the order to the other weighers.
    """

    def __init__(self):
        super().__init__()
        # Once per scheduler start: what the configured rates were read as.
        for line in nova_migtuner.conf.rate_settings(CONF):
            LOG.info('MigTunerWeigher [migtuner] %(setting)s',
                     {'setting': line})

    def weight_multiplier(self, host_state):
        return scheduler_utils.get_weight_multiplier(
            host_state, MULTIPLIER_KEY,
            CONF.migtuner.weight_multiplier)

    def _weigh_object(self, host_state, weight_properties):
        # weigh_objects does the work: it needs the source once per request.
        return 0.0

    def weigh_objects(self, weighed_obj_list, spec_obj):
        source = request.live_migration_source(spec_obj)
        if source is None:
            return [0.0] * len(weighed_obj_list)
        default_bandwidth = _default_link_bandwidth()
        link_classes = _link_classes()
        memory_bytes = int(spec_obj.memory_mb) * units.MiB
        result = []
        for weighed in weighed_obj_list:
            host_state = weighed.obj
            facts = hosts.facts_of(host_state)
            cpu = hosts.cpu_of(host_state, facts)
            link_class, bandwidth = links.link_between(
                source.host, hosts.aggregate_views(host_state),
                link_classes, default_bandwidth)
            total_mb = getattr(host_state, 'total_usable_ram_mb', None)
            cost = rules.migration_cost(rules.CostInputs(
                memory_bytes=memory_bytes,
                link_class=link_class,
                link_bandwidth=bandwidth,
                incoming_migrations=(facts.incoming_migrations
                                     if facts else None),
                cpu_load=facts.cpu_load if facts else None,
                free_memory_bytes=int(host_state.free_ram_mb) * units.MiB,
                total_memory_bytes=(int(total_mb) * units.MiB
                                    if total_mb else None),
                same_cpu_model=(None if cpu is None or source.cpu is None
                                else cpu.model == source.cpu.model)))
            LOG.debug('MigTunerWeigher: live migration of %(instance)s from '
                      '%(source)s to %(host)s costs %(cost)s',
                      {'instance': source.instance_uuid,
                       'source': source.host, 'host': host_state.host,
                       'cost': cost.explain()})
            result.append(-cost.seconds)
        return result
