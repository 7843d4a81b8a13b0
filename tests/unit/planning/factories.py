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
