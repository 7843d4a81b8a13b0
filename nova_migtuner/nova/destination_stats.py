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

"""The destination's final job statistics, handed to the source.

The destination stores them in the instance's system metadata
(``planning.handoff``) in ``post_live_migration_at_destination``; the
source reads and removes them when it reports.
"""

from nova import objects
from oslo_log import log as logging

from nova_migtuner.planning import handoff

LOG = logging.getLogger(__name__)

VIR_DOMAIN_JOB_STATS_COMPLETED = 1
VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED = 2


def keep(instance, find_domain, libvirt):
    """On the destination: store the completed job stats; never raises.

    :param find_domain: returns the guest's ``virDomain`` on this host.
    """
    try:
        domain = find_domain()
        flags = (getattr(libvirt, 'VIR_DOMAIN_JOB_STATS_COMPLETED',
                         VIR_DOMAIN_JOB_STATS_COMPLETED) |
                 getattr(libvirt, 'VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED',
                         VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED))
        raw = domain.jobStats(flags)
        items = handoff.to_system_metadata(raw)
        sysmeta = instance.system_metadata
        for key in [k for k in sysmeta if k.startswith(handoff.PREFIX)]:
            del sysmeta[key]
        sysmeta.update(items)
        LOG.debug('nova_migtuner kept the completed job statistics: '
                  '%(stats)s', {'stats': raw}, instance=instance)
    except Exception as e:
        LOG.warning('nova_migtuner could not read the completed job '
                    'statistics on the destination: %(error)s',
                    {'error': e}, instance=instance)


def take(context, instance_uuid):
    """On the source: read and remove what the destination left."""
    instance = objects.Instance.get_by_uuid(
        context, instance_uuid, expected_attrs=['system_metadata'])
    raw, keys = handoff.from_system_metadata(instance.system_metadata)
    if keys:
        for key in keys:
            instance.system_metadata.pop(key, None)
        instance.save()
    return raw or None
