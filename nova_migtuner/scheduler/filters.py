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

"""``MigTunerFilter``: keep live migrations off hosts that cannot take them.

Enable with::

    [filter_scheduler]
    available_filters = nova.scheduler.filters.all_filters
    available_filters = nova_migtuner.scheduler.filters.MigTunerFilter
    enabled_filters = ...,MigTunerFilter
"""

import time

from oslo_log import log as logging

from nova.scheduler import filters
from nova.scheduler import utils as scheduler_utils

import nova_migtuner.conf
from nova_migtuner.conf import startup
from nova_migtuner.cpu import compat
from nova_migtuner.cpu import mode as cpu_mode
from nova_migtuner.nova import records
from nova_migtuner.scheduler import hosts
from nova_migtuner.scheduler import in_flight
from nova_migtuner.scheduler import request
from nova_migtuner.scheduler import rules

LOG = logging.getLogger(__name__)
CONF = nova_migtuner.conf.CONF


class MigTunerFilter(filters.BaseHostFilter):
    """Reject live-migration destinations that would fail or suffer.

    A destination is rejected when it cannot run the guest's CPU definition
    (``cpu.compat``), already receives ``max_incoming_migrations`` live
    migrations, or received one less than ``destination_settle_s`` ago;
    both are counted in nova's cells when the filter runs
    (``in_flight``), the hosts' published stats are the fallback.
    Other requests pass untouched unless ``filter_all_requests`` is set.
    """

    # A live migration moves one instance; rebuilds never move.
    run_filter_once_per_request = True
    RUN_ON_REBUILD = False

    def __init__(self):
        super().__init__()
        # The scheduler builds its filters once, when it starts.
        startup.check_service('MigTunerFilter', CONF)

    def filter_all(self, filter_obj_list, spec_obj):
        host_states = list(filter_obj_list)
        if scheduler_utils.request_is_rebuild(spec_obj):
            return host_states
        source = request.live_migration_source(spec_obj)
        if source is None and not CONF.migtuner.filter_all_requests:
            return host_states
        limits = rules.AdmissionLimits(
            max_incoming_migrations=CONF.migtuner.max_incoming_migrations,
            settle_s=CONF.migtuner.destination_settle_s)
        guest_cpu = None
        if source is not None and source.facts is not None:
            guest_cpu = cpu_mode.resolve_guest_cpu(
                hosts.flavor_extra_specs(spec_obj),
                hosts.libvirt_cpu_config(source.facts, source.cpu))
        now = time.time()
        counted = self._incoming_now(spec_obj, limits, now)
        passed, rejected = [], []
        for host_state in host_states:
            verdict = self._verdict(host_state, source, guest_cpu, limits,
                                    now, counted)
            if verdict.passes:
                passed.append(host_state)
                continue
            LOG.debug('MigTunerFilter rejects %(host)s for instance '
                      '%(instance)s: %(reason)s',
                      {'host': host_state.host,
                       'instance': spec_obj.instance_uuid,
                       'reason': verdict.reason})
            rejected.append((host_state.host, verdict.reason))
        if rejected and not passed:
            # Nova's NoValidHost only says "not enough hosts"; this is the
            # line an operator finds when asking why.
            LOG.info('MigTunerFilter rejected every destination for '
                     '%(what)s of instance %(instance)s: %(reasons)s',
                     {'what': 'the live migration' if source else 'the '
                      'request', 'instance': spec_obj.instance_uuid,
                      'reasons': rules.destination_summary(rejected)})
        return passed

    @staticmethod
    def _incoming_now(spec_obj, limits, now):
        """``{host: records.Incoming}`` from nova's cells, or None.

        None (the hosts' published stats are used) when no limit is set,
        the request carries no context, or a cell cannot be read.
        """
        if not limits.max_incoming_migrations and not limits.settle_s:
            return None
        context = getattr(spec_obj, '_context', None)
        if context is None:
            return None
        try:
            return in_flight.incoming(context.elevated(), limits.settle_s,
                                      now)
        except Exception as e:
            LOG.warning('MigTunerFilter cannot count the live migrations in '
                        'flight (%(error)s); using the counts the computes '
                        'published', {'error': e})
            return None

    @staticmethod
    def _verdict(host_state, source, guest_cpu, limits, now, counted=None):
        facts = hosts.facts_of(host_state)
        if guest_cpu is not None:
            verdict = compat.check_destination_cpu(
                guest_cpu, source.cpu, hosts.cpu_of(host_state, facts),
                hosts.verified_cpu_models(facts))
            if not verdict.passes:
                return verdict
        if counted is not None:
            now_in = counted.get(host_state.host, records.Incoming())
            return rules.admission(now_in.in_flight, now_in.last_end,
                                   limits, now)
        if facts is None:
            return compat.PASS
        return rules.admission(facts.incoming_migrations,
                               facts.last_incoming_end, limits, now)
