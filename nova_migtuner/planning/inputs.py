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

"""The one builder of a migration's inputs, with where each came from.

Every caller that plans (nova's driver, ``openstack migtuner plan``,
``nova-migtuner plan``, the bench) builds its ``MigrationInputs`` with
``build_inputs``: each measurable input comes wrapped with its provenance,
``measured(x)`` (read from libvirt or nova), ``given(x)`` (a person said
so: the admin's configuration, a command-line value) or ``assumed(x)`` (a
default); an input passed as ``None`` is unknown and the strategies assume
and say so. ``migration_inputs`` does the part that is the same for every
caller that has a flavor, image properties and configuration.

Pure: plain values in, no nova or libvirt import.
"""

import dataclasses
from typing import Any

from nova_migtuner.planning import context as ctx_mod
from nova_migtuner.planning import limits as limits_mod
from nova_migtuner.planning import links
from nova_migtuner.planning import policy as policy_mod

MEASURED = 'measured'
GIVEN = 'given'
ASSUMED = 'assumed'
PROVENANCES = (MEASURED, GIVEN, ASSUMED)


@dataclasses.dataclass(frozen=True)
class Known:
    """An input value and where it came from."""
    value: Any
    provenance: str

    def __post_init__(self):
        if self.provenance not in PROVENANCES:
            raise ctx_mod.InputsError(
                'provenance %r unknown; allowed: %s'
                % (self.provenance, ', '.join(PROVENANCES)))


def measured(value):
    """*value* was measured (None stays unknown)."""
    return None if value is None else Known(value, MEASURED)


def given(value):
    """*value* was given by a person (None stays unknown)."""
    return None if value is None else Known(value, GIVEN)


def assumed(value):
    """*value* is a default, not known of this migration."""
    return None if value is None else Known(value, ASSUMED)


def link_from_config(configured, observed=None):
    """The link bandwidth ``[migtuner] link_bandwidth`` stands for.

    'measure': what earlier migrations from this host saw (measured), or
    the fallback rate until then (assumed); a rate: the admin's (given).
    """
    bandwidth, seen = limits_mod.link_bandwidth(configured, observed)
    if seen:
        return measured(bandwidth)
    if str(configured).strip().lower() == limits_mod.mt_opts.MEASURE:
        return assumed(bandwidth)
    return given(bandwidth)


def link_to_destination(source_host, destination_aggregates, link_classes,
                        configured, observed=None):
    """The link to the chosen destination, as the weigher ranked it.

    :param destination_aggregates: ``links.AggregateView`` of each
        aggregate the destination is in.
    :param link_classes: ``[migtuner] link_classes`` (name -> rate text).
    :param configured: ``[migtuner] link_bandwidth`` (the default link).
    :param observed: bytes/s seen in earlier migrations from this host.
    :returns: ``(Known bytes/s, link class name)``; a class is the
        admin's figure (given), the default link is ``link_from_config``.
    """
    default = link_from_config(configured, observed)
    classes, _ = links.parse_link_classes(link_classes)
    name, rate = links.link_between(source_host, destination_aggregates,
                                    classes, default.value)
    if name == links.DEFAULT_LINK_CLASS:
        return default, name
    return given(rate), name


def share_of_link(link, others_in_flight):
    """The part of *link* (``Known`` bytes/s) one more migration gets.

    The migrations in flight from a host share its link: a migration that
    starts beside two others plans with a third. The provenance stays
    that of the link.
    """
    others = max(0, int(others_in_flight or 0))
    if not others:
        return link
    return Known(link.value / (others + 1), link.provenance)


# Measurable input name -> MigrationInputs field.
_FIELDS = {
    ctx_mod.LINK_BANDWIDTH: 'link_bandwidth',
    ctx_mod.DIRTY_RATE: 'dirty_rate',
    ctx_mod.TOUCHED: 'touched_bytes',
    ctx_mod.WORKING_SET: 'working_set_bytes',
    ctx_mod.SOURCE_HOST_LOAD: 'source_host_load',
    ctx_mod.GUEST_CPU_LOAD: 'guest_cpu_load',
}


def build_inputs(*, memory_bytes, limits, link_bandwidth, dirty_rate=None,
                 touched=None, working_set=None, source_host_load=None,
                 guest_cpu_load=None, seconds_since_instance_migration=None,
                 seconds_since_host_migration=None,
                 policy=ctx_mod.GuestPolicy(), instance_uuid=None,
                 dirty_rate_samples=()):
    """Return the ``MigrationInputs``; measurable inputs are ``Known``.

    :param link_bandwidth: ``Known`` bytes/s of the link to the chosen
        destination (required: a plan needs a link).
    :param dirty_rate: ``Known`` bytes/s or None.
    :param touched: ``Known`` bytes or None.
    :param working_set: ``Known`` bytes or None.
    :param source_host_load: ``Known`` fraction 0..1 or None.
    :param guest_cpu_load: ``Known`` fraction 0..1 of the guest's vCPUs, or
        None.
    :param dirty_rate_samples: measured ``dirty_pattern.DirtySample``s (or
        ``(start_s, end_s, bytes_per_second)``), oldest first.
    :raises context.InputsError: a value is out of range.
    """
    known = {ctx_mod.LINK_BANDWIDTH: link_bandwidth,
             ctx_mod.DIRTY_RATE: dirty_rate, ctx_mod.TOUCHED: touched,
             ctx_mod.WORKING_SET: working_set,
             ctx_mod.SOURCE_HOST_LOAD: source_host_load,
             ctx_mod.GUEST_CPU_LOAD: guest_cpu_load}
    if link_bandwidth is None:
        raise ctx_mod.InputsError('the link bandwidth is required')
    for name, value in known.items():
        if value is not None and not isinstance(value, Known):
            raise ctx_mod.InputsError(
                '%s=%r has no provenance; wrap it in measured(), given() '
                'or assumed()' % (name, value))
    values = {_FIELDS[name]: (None if value is None else value.value)
              for name, value in known.items()}

    def named(provenance):
        return frozenset(name for name, value in known.items()
                         if value is not None and
                         value.provenance == provenance)

    return ctx_mod.MigrationInputs(
        memory_bytes=int(memory_bytes),
        seconds_since_instance_migration=seconds_since_instance_migration,
        seconds_since_host_migration=seconds_since_host_migration,
        policy=policy, limits=limits, measured=named(MEASURED),
        given=named(GIVEN), instance_uuid=instance_uuid,
        dirty_rate_samples=tuple(dirty_rate_samples or ()), **values)


# nova copies every image property into the instance's system metadata
# with this prefix when the instance is built.
SYSMETA_IMAGE_PREFIX = 'image_'


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


def migration_inputs(*, conf, memory_bytes, extra_specs, image_properties,
                     available_strategies, link_bandwidth, measurement=None,
                     limits=None, strict_image=True, operator_chosen=False,
                     **known):
    """``build_inputs`` for a guest with a flavor, image and *conf*.

    :param image_properties: the image's properties (for an instance:
        ``image_properties_from_system_metadata``).
    :param measurement: an ``engine.measure.Measurement`` (all measured)
        or None; *known* passes any other ``build_inputs`` argument.
    :param limits: the ``AdminLimits``; None reads them from *conf*.
    :param strict_image: raise for a bad image value; false: ignore it
        and say why in ``policy.notes`` (see ``policy.guest_policy_from``).
    :param operator_chosen: an operator chose the strategy: no image wish
        is used.
    :raises policy.PolicyError: a flavor/image value is invalid.
    :raises context.InputsError: a value is out of range.
    """
    guest_policy = policy_mod.guest_policy_from(
        extra_specs=extra_specs or {},
        image_properties=image_properties or {},
        available_strategies=available_strategies,
        tenant_strategies=conf.migtuner.tenant_strategies,
        image_keys=conf.migtuner.image_settable_keys,
        image_downtime_floor_ms=conf.migtuner.image_downtime_floor_ms,
        strict_image=strict_image, operator_chosen=operator_chosen)
    if measurement is not None:
        known.setdefault('touched', measured(measurement.touched_bytes))
        known.setdefault('dirty_rate', measured(measurement.dirty_rate))
        known.setdefault('source_host_load',
                         measured(measurement.host_cpu_load))
        known.setdefault('guest_cpu_load',
                         measured(measurement.guest_cpu_load))
        known.setdefault('dirty_rate_samples', getattr(
            measurement, 'dirty_rate_samples', ()))
    return build_inputs(
        memory_bytes=memory_bytes, link_bandwidth=link_bandwidth,
        limits=limits_mod.admin_limits(conf) if limits is None else limits,
        policy=guest_policy, **known)
