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

"""Is a scheduling request a live migration, and from which host?

Nova marks nothing in the ``RequestSpec``: the conductor's
``LiveMigrationTask._find_destination`` (conductor/tasks/live_migrate.py
:533) sets ``ignore_hosts`` (seeded with the source host) and
``requested_destination.cell``, and before that ``_live_migrate`` created a
Migration of type 'live-migration' in status 'accepted' for the instance.
Cold migrations and evacuations set ``ignore_hosts`` too, so the Migration
record decides. It is read only when the two cheap signals are present
(never for a boot), once per request: the filter and the weigher of one
request share the answer through a cache keyed by the RequestSpec object.

The source ComputeNode is read in the same pass: the source host is in
``ignore_hosts``, so its ``HostState`` never reaches the filter.
"""

import dataclasses
from typing import Optional
import weakref

from oslo_log import log as logging

from nova_migtuner.cpu import model as cpu_model
from nova_migtuner.scheduler import stats as mt_stats

LOG = logging.getLogger(__name__)

LIVE_MIGRATION = 'live-migration'
ACCEPTED = 'accepted'


@dataclasses.dataclass(frozen=True)
class LiveMigrationSource:
    """The source side of a live migration being scheduled."""
    instance_uuid: str
    host: str
    node: Optional[str]
    cpu: Optional[cpu_model.HostCPU]
    facts: Optional[mt_stats.HostFacts]


# id(spec_obj) -> answer; entries leave with their RequestSpec.
_ANSWERS = {}
_NOT_LIVE = object()


def _field(obj, name):
    if obj is None:
        return None
    try:
        if not obj.obj_attr_is_set(name):
            return None
    except AttributeError:
        return getattr(obj, name, None)
    return getattr(obj, name)


def maybe_live_migration(spec_obj):
    """The cheap test: False for every boot and most other requests."""
    if not _field(spec_obj, 'instance_uuid') or \
            not _field(spec_obj, 'ignore_hosts'):
        return False
    return _field(_field(spec_obj, 'requested_destination'), 'cell') \
        is not None


def live_migration_source(spec_obj):
    """``LiveMigrationSource`` of a live-migration request, else None.

    Database errors are logged and answer None: the filter then lets every
    host through rather than failing the request.
    """
    if not maybe_live_migration(spec_obj):
        return None
    key = id(spec_obj)
    answer = _ANSWERS.get(key)
    if answer is None:
        try:
            answer = _lookup(spec_obj) or _NOT_LIVE
        except Exception:
            LOG.warning('Cannot tell whether instance %s is being live '
                        'migrated; migtuner scheduling rules skipped',
                        spec_obj.instance_uuid, exc_info=True)
            answer = _NOT_LIVE
        _ANSWERS[key] = answer
        weakref.finalize(spec_obj, _ANSWERS.pop, key, None)
    return None if answer is _NOT_LIVE else answer


def _lookup(spec_obj):
    # Imported here so that the pure modules of this package (and the
    # unit tests of the rules) never pull in nova.
    from nova import context as nova_context
    from nova import objects

    cell = spec_obj.requested_destination.cell
    admin = nova_context.get_admin_context()
    with nova_context.target_cell(admin, cell) as cctxt:
        migrations = objects.MigrationList.get_by_filters(
            cctxt, {'instance_uuid': spec_obj.instance_uuid,
                    'migration_type': LIVE_MIGRATION,
                    'status': ACCEPTED})
        if not migrations:
            return None
        migration = max(migrations, key=lambda m: m.id)
        cpu = facts = None
        node = _source_node(cctxt, migration)
        if node is not None:
            cpu = cpu_model.host_cpu_from_cpu_info(node.cpu_info)
            facts = mt_stats.decode(node.stats or {})
            if cpu is not None and facts is not None:
                cpu = cpu.with_expanded_features(facts.cpu_features_expanded)
    return LiveMigrationSource(instance_uuid=spec_obj.instance_uuid,
                               host=migration.source_compute,
                               node=node.hypervisor_hostname if node else None,
                               cpu=cpu, facts=facts)


def _source_node(cctxt, migration):
    """The source ComputeNode, or None.

    The conductor fills only ``source_compute`` before scheduling
    (``source_node`` comes later, from the compute), so the node is found by
    host; a libvirt host has exactly one.
    """
    from nova import exception
    from nova import objects

    try:
        nodes = objects.ComputeNodeList.get_all_by_host(
            cctxt, migration.source_compute)
    except exception.ComputeHostNotFound:
        nodes = []
    if migration.obj_attr_is_set('source_node') and migration.source_node:
        nodes = [n for n in nodes
                 if n.hypervisor_hostname == migration.source_node]
    if len(nodes) != 1:
        LOG.debug('Live migration %s: %d compute nodes match source %s/%s; '
                  'its CPU is unknown', migration.uuid, len(nodes),
                  migration.source_compute, migration.source_node)
        return None
    return nodes[0]
