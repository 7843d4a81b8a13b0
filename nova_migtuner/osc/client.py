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

"""The compute API calls the migtuner commands make, over openstacksdk.

All I/O of the plugin is here; commands turn its results into output and
``osc.planning`` / ``osc.drain`` decide. Errors from the API become
``osc_lib.exceptions.CommandError`` with a message an operator can act on.
"""

import datetime
import time

from keystoneauth1 import exceptions as ksa_exc
from openstack import exceptions as sdk_exc
from osc_lib import exceptions
from oslo_log import log as logging

from nova_migtuner import migration_statuses as statuses
from nova_migtuner.osc import drain as drain_mod
from nova_migtuner.osc import planning
from nova_migtuner.osc import progress as progress_mod

LOG = logging.getLogger(__name__)

# nova migration statuses (objects/migration.py and the live migration
# task): where a live migration is, and where it ended.
RUNNING_STATUSES = frozenset(('accepted', 'queued', 'preparing', 'running',
                              'post-migrating'))
COMPLETED_STATUSES = frozenset(('completed', 'done', 'finished',
                                'confirmed'))
FAILED_STATUSES = frozenset(('error', 'failed', 'cancelled', 'aborted'))
LIVE_MIGRATION = 'live-migration'
# HTTP answers that say "try again": timeouts, throttling, the API or a
# proxy in front of it in trouble.
TRANSIENT_STATUS_CODES = frozenset((408, 429, 500, 502, 503, 504))


def is_transient(error):
    """Whether repeating the call that raised *error* may succeed.

    Connection errors and timeouts (keystoneauth's, not a TLS failure) and
    the HTTP answers of ``TRANSIENT_STATUS_CODES``; not a refusal (4xx).
    """
    if isinstance(error, ksa_exc.SSLError):
        return False
    if isinstance(error, (ksa_exc.ConnectionError,
                          ksa_exc.RetriableConnectionFailure)):
        return True
    if isinstance(error, ksa_exc.HttpError):
        return error.http_status in TRANSIENT_STATUS_CODES
    status = getattr(error, 'status_code', None)
    if isinstance(error, (sdk_exc.HttpException, MigrateRefused)):
        return status in TRANSIENT_STATUS_CODES
    return False


def _parse_time(text):
    if not text:
        return None
    when = datetime.datetime.fromisoformat(str(text).replace('Z', '+00:00'))
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp()


class MigrateRefused(exceptions.CommandError):
    """Nova answered a live-migration request with an HTTP error."""

    def __init__(self, message, status_code=None, details=None):
        super().__init__(message)
        self.status_code = status_code
        self.details = details


def _admin_error(what):
    return exceptions.CommandError(
        'missing admin rights: %s needs the admin role (nova policy '
        'os_compute_api:os-services:list, os-migrate-server:'
        'migrate_live and servers:index:get_all_tenants)' % what)


class MigtunerClient:
    """A thin facade over an ``openstack.connection.Connection``."""

    def __init__(self, connection):
        self.connection = connection
        self.compute = connection.compute

    # Hosts and servers.
    def require_compute_host(self, host):
        """Raise CommandError unless *host* is a nova-compute host.

        Listing services is admin-only, so this is also the admin check.
        """
        try:
            services = list(self.compute.services(binary='nova-compute'))
        except sdk_exc.ForbiddenException:
            raise _admin_error('checking compute hosts')
        except sdk_exc.HttpException as e:
            raise exceptions.CommandError('cannot list compute services: %s'
                                          % e)
        hosts = sorted({s.host for s in services})
        if host not in hosts:
            raise exceptions.CommandError(
                'unknown compute host %r; compute hosts: %s'
                % (host, ', '.join(hosts) or 'none'))
        return hosts

    def find_server(self, name_or_id):
        try:
            server = self.compute.find_server(name_or_id,
                                              ignore_missing=False,
                                              all_projects=True)
        except sdk_exc.NotFoundException:
            raise exceptions.CommandError(
                'no server with a name or ID of %r exists' % name_or_id)
        except sdk_exc.DuplicateResource:
            raise exceptions.CommandError(
                'more than one server is named %r; use its ID' % name_or_id)
        except sdk_exc.ForbiddenException:
            raise _admin_error('looking up servers of all projects')
        # find_server by name returns a list entry; fetch it in full.
        return self.compute.get_server(server.id)

    def servers_on_host(self, host):
        try:
            servers = list(self.compute.servers(all_projects=True,
                                                compute_host=host))
        except sdk_exc.ForbiddenException:
            raise _admin_error('listing the servers of a host')
        # Whatever the API returned, never drain what is not on the host.
        return [s for s in servers if s.compute_host == host]

    def image_properties(self, image_id):
        """Image properties through nova's image proxy (microversion <
        2.36), so no image endpoint is needed; {} if unavailable.
        """
        if not image_id:
            return {}
        try:
            response = self.compute.get('/images/%s' % image_id,
                                        microversion='2.35')
        except sdk_exc.HttpException as e:
            LOG.debug('Image %s properties unavailable: %s', image_id, e)
            return {}
        if response.status_code != 200:
            return {}
        metadata = response.json().get('image', {}).get('metadata') or {}
        return {str(k): str(v) for k, v in metadata.items()}

    def last_migration_end(self, server_id):
        """Epoch seconds when the server's last live migration moved it.

        The statuses instance spacing counts on the compute
        (``migration_statuses.SPACING``), so a plan here agrees with it.
        """
        ends = [_parse_time(m.updated_at)
                for m in self.live_migrations(server_id)
                if m.status in statuses.SPACING]
        ends = [e for e in ends if e is not None]
        return max(ends) if ends else None

    def server_facts(self, server, now=None):
        now = time.time() if now is None else now
        flavor = server.flavor or {}
        image = server.image or {}
        image_id = image.get('id') if isinstance(image, dict) else None
        last_end = self.last_migration_end(server.id)
        return planning.ServerFacts(
            server_id=server.id,
            name=server.name,
            status=server.status,
            host=server.compute_host,
            flavor_name=flavor.get('original_name') or flavor.get('name') or
            flavor.get('id', '?'),
            memory_mb=int(flavor.get('ram') or 0),
            vcpus=int(flavor.get('vcpus') or 0),
            extra_specs=dict(flavor.get('extra_specs') or {}),
            image_id=image_id,
            image_properties=self.image_properties(image_id),
            task_state=server.task_state,
            seconds_since_migration=(None if last_end is None
                                     else max(0.0, now - last_end)))

    # Migrations.
    def live_migrations(self, server_id):
        try:
            return sorted(
                self.compute.migrations(server_id=server_id,
                                        migration_type=LIVE_MIGRATION),
                key=lambda m: (m.created_at or '', str(m.id)))
        except sdk_exc.ForbiddenException:
            raise _admin_error('reading migration records')

    def live_migrate(self, server_id, host=None):
        try:
            self.compute.live_migrate_server(server_id, host=host,
                                             block_migration='auto')
        except sdk_exc.ForbiddenException:
            raise _admin_error('live migration')
        except sdk_exc.HttpException as e:
            raise MigrateRefused(
                'nova refused to live-migrate %s: %s'
                % (server_id, e.details or e), status_code=e.status_code,
                details=str(e.details or e))

    def abort_live_migration(self, server_id, migration_id):
        """Ask nova to abort a running live migration.

        Nova refuses in post-copy; an aborted guest stays on the source.
        """
        self.compute.abort_server_migration(migration_id, server_id,
                                            ignore_missing=False)

    def migration_sample(self, server_id, at_s=None):
        """nova's progress fields of the running migration.

        A ``progress.Sample``, or None when no migration is running.
        """
        at_s = time.time() if at_s is None else at_s
        try:
            running = list(self.compute.server_migrations(server_id))
        except sdk_exc.HttpException:
            return None
        samples = [progress_mod.Sample.from_migration(m, at_s)
                   for m in running]
        known = [s for s in samples if s.known]
        return (known or samples or [None])[0]

    def migration_progress(self, server_id):
        """Fraction of memory sent by the running migration, or None."""
        sample = self.migration_sample(server_id)
        return None if sample is None else sample.fraction

    # Metadata (the operator marker).
    def set_metadata_item(self, server_id, key, value):
        self.compute.set_server_metadata(server_id, **{key: value})

    def metadata(self, server_id):
        return dict(self.compute.get_server_metadata(server_id).metadata
                    or {})

    def delete_metadata_item(self, server_id, key):
        try:
            self.compute.delete_server_metadata(server_id, [key])
        except sdk_exc.NotFoundException:
            pass


class MigrationWatch:
    """Follows one live migration through nova's migration records."""

    def __init__(self, client, server_id, source_host, clock=time.time):
        self.client = client
        self.clock = clock
        self.server_id = server_id
        self.source_host = source_host
        self._known = {m.id for m in client.live_migrations(server_id)}
        self.migration = None
        # nova's progress fields at the last poll (progress.Sample).
        self.last_sample = None

    def _current(self):
        new = [m for m in self.client.live_migrations(self.server_id)
               if m.id not in self._known]
        if new:
            self.migration = new[-1]
        return self.migration

    def poll(self):
        """A ``drain.MigrationResult`` once ended, else progress or None."""
        migration = self._current()
        if migration is None:
            return None   # the conductor has not recorded it yet
        if migration.status in RUNNING_STATUSES:
            self.last_sample = self.client.migration_sample(
                self.server_id, at_s=self.clock())
            return (None if self.last_sample is None
                    else self.last_sample.fraction)
        server = self.client.compute.get_server(self.server_id)
        moved = server.compute_host not in (None, self.source_host)
        if migration.status in COMPLETED_STATUSES and moved:
            return drain_mod.MigrationResult(
                completed=True, destination=server.compute_host)
        if migration.status in COMPLETED_STATUSES:
            return drain_mod.MigrationResult(
                completed=False, error='migration %s completed but the '
                'server is still on %s' % (migration.id, self.source_host))
        if migration.status in FAILED_STATUSES:
            return drain_mod.MigrationResult(
                completed=False,
                error='migration %s: %s (server %s on %s)'
                % (migration.id, migration.status, server.status,
                   server.compute_host))
        return None   # an unknown, newer status: keep watching

    @property
    def migration_uuid(self):
        return getattr(self.migration, 'uuid', None) if self.migration \
            else None
