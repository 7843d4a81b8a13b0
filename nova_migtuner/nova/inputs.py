"""Planning inputs from nova's objects: pure functions over plain values.

The driver reads nova objects (flavor, system metadata, Migration records)
and libvirt; these functions turn what it read into a
``MigrationContext``. No nova or libvirt import here.
"""

from nova_migtuner import context as ctx_mod
from nova_migtuner import limits as limits_mod
from nova_migtuner import policy as policy_mod

# nova copies every image property into the instance's system metadata
# with this prefix when the instance is built.
SYSMETA_IMAGE_PREFIX = 'image_'
# Migration statuses after which a migration no longer runs.
FINISHED_STATUSES = ('completed', 'failed', 'error', 'cancelled')


def image_properties_from_system_metadata(system_metadata):
    """The instance's ``migtuner_*`` image properties (allowlisted later).

    Only ``migtuner_`` keys are returned: ``policy.guest_policy_from``
    accepts the ones it knows and ignores the rest.
    """
    props = {}
    prefix = SYSMETA_IMAGE_PREFIX + policy_mod.IMAGE_PREFIX
    for key, value in (system_metadata or {}).items():
        if key.startswith(prefix):
            props[key[len(SYSMETA_IMAGE_PREFIX):]] = value
    return props


def seconds_since_last(finished_times, now, exclude=()):
    """Seconds since the latest of *finished_times* (datetimes), or None.

    :param finished_times: iterable of ``(key, datetime)``; keys in
        *exclude* (the running migration) are ignored.
    """
    latest = None
    for key, when in finished_times:
        if key in exclude or when is None:
            continue
        if latest is None or when > latest:
            latest = when
    if latest is None:
        return None
    return max(0.0, (now - latest).total_seconds())


def migration_context(*, conf, memory_bytes, measurement, extra_specs,
                      system_metadata, available_strategies,
                      observed_bandwidth=None,
                      seconds_since_instance_migration=None,
                      seconds_since_host_migration=None,
                      instance_uuid=None):
    """Build the ``MigrationContext`` of one migration.

    :raises policy.PolicyError: a flavor/image value is invalid.
    :raises context.ContextError: a value is out of range.
    """
    policy = policy_mod.guest_policy_from(
        extra_specs=extra_specs or {},
        image_properties=image_properties_from_system_metadata(
            system_metadata),
        available_strategies=available_strategies,
        tenant_strategies=conf.migtuner.tenant_strategies)
    bandwidth, bw_measured = limits_mod.link_bandwidth(
        conf.migtuner.link_bandwidth, observed_bandwidth)
    measured = set(measurement.measured) if measurement else set()
    if bw_measured:
        measured.add(ctx_mod.LINK_BANDWIDTH)
    return ctx_mod.MigrationContext(
        memory_bytes=int(memory_bytes),
        link_bandwidth=bandwidth,
        touched_bytes=measurement.touched_bytes if measurement else None,
        dirty_rate=measurement.dirty_rate if measurement else None,
        guest_cpu_load=measurement.guest_cpu_load if measurement else None,
        source_host_load=measurement.host_cpu_load if measurement else None,
        seconds_since_instance_migration=seconds_since_instance_migration,
        seconds_since_host_migration=seconds_since_host_migration,
        policy=policy,
        limits=limits_mod.admin_limits(conf),
        measured=frozenset(measured),
        # A configured link bandwidth is the admin's figure, not a guess.
        given=(frozenset() if bw_measured
               else frozenset([ctx_mod.LINK_BANDWIDTH])),
        instance_uuid=instance_uuid)
