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

"""What the compute would plan for a server, seen from the API side. Pure.

The compute plans with what it measures just before migrating (dirty rate,
touched memory, host load); the operator's CLI cannot measure those and
says so. It has the flavor (memory, extra specs), the image properties, the
``[migtuner]`` configuration it is given, nova's migration records (time
since the server last migrated) and the measured reports of earlier
migrations.
"""

import dataclasses
from typing import Mapping, Optional, Tuple

from nova_migtuner.conf import cli as cli_conf
from nova_migtuner.conf import migtuner as mt_opts
from nova_migtuner import operator_marker
from nova_migtuner.planning import context as ctx_mod
from nova_migtuner.planning import inputs
from nova_migtuner.planning import limits as limits_mod
from nova_migtuner.planning import planner
from nova_migtuner.planning import policy as policy_mod
from nova_migtuner import units


class PlanningError(ValueError):
    """The server's flavor, image or the configuration is unusable."""


@dataclasses.dataclass(frozen=True)
class ServerFacts:
    """What the compute API says about a server."""
    server_id: str
    name: str
    status: str
    host: Optional[str]
    flavor_name: str
    memory_mb: int
    vcpus: int = 0
    extra_specs: Mapping[str, str] = dataclasses.field(default_factory=dict)
    image_id: Optional[str] = None
    image_properties: Mapping[str, str] = dataclasses.field(
        default_factory=dict)
    task_state: Optional[str] = None
    # Seconds since the server's last live migration ended, from nova's
    # migration records; None if it never migrated.
    seconds_since_migration: Optional[float] = None

    @property
    def memory_bytes(self):
        return self.memory_mb * units.MiB


@dataclasses.dataclass(frozen=True)
class PlanSettings:
    """The configuration the plan is built with, and where it came from."""
    limits: ctx_mod.AdminLimits
    default_strategy: str
    tenant_strategies: Tuple[str, ...]
    link_bandwidth: float
    link_bandwidth_source: str      # 'given' (config) or 'assumed'
    config_files: Tuple[str, ...] = ()
    operator_secret: Optional[str] = None
    marker_max_ttl_s: int = operator_marker.DEFAULT_MAX_TTL_S
    # ``{name: strategy}`` tuned by the configuration's
    # [migtuner_strategy_<name>] groups; None: the defaults (cfg.CONF).
    strategies: Optional[Mapping[str, object]] = None
    # [migtuner] image_settable_keys (None: every key) and
    # image_downtime_floor_ms, as the compute applies them.
    image_settable_keys: Optional[Tuple[str, ...]] = None
    image_downtime_floor_ms: Optional[int] = None


@dataclasses.dataclass(frozen=True)
class ServerPlan:
    facts: ServerFacts
    plan: object               # nova_migtuner.planning.plan.MigrationPlan
    strategy_source: str
    notes: Tuple[str, ...]


def load_config(config_files):
    """``conf.cli.load_config``; raises ``PlanningError``."""
    try:
        return cli_conf.load_config(config_files)
    except cli_conf.ConfigError as e:
        raise PlanningError(str(e))


def settings_from_config(conf, config_files=()):
    mt = conf.migtuner
    bandwidth, _ = limits_mod.link_bandwidth(mt.link_bandwidth)
    if mt.link_bandwidth == mt_opts.MEASURE or not config_files:
        source = 'assumed'
    else:
        source = 'given'
    return PlanSettings(
        limits=limits_mod.admin_limits(conf),
        default_strategy=mt.default_strategy,
        tenant_strategies=tuple(mt.tenant_strategies),
        link_bandwidth=bandwidth, link_bandwidth_source=source,
        config_files=tuple(config_files),
        operator_secret=mt.operator_secret,
        marker_max_ttl_s=mt.operator_marker_max_ttl_s,
        strategies=planner.strategies_for(conf),
        image_settable_keys=tuple(mt.image_settable_keys),
        image_downtime_floor_ms=mt.image_downtime_floor_ms)


def inputs_for(facts, settings, available_strategies,
               operator_chosen=False):
    """The ``MigrationInputs`` the CLI can build for *facts*.

    :param operator_chosen: an operator chooses the strategy, so the
        compute uses no image wish.
    """
    if facts.memory_mb <= 0:
        raise PlanningError('server %s: flavor %s has no memory size'
                            % (facts.name, facts.flavor_name))
    link = inputs.Known(settings.link_bandwidth,
                        settings.link_bandwidth_source)
    try:
        return inputs.build_inputs(
            memory_bytes=facts.memory_bytes, link_bandwidth=link,
            seconds_since_instance_migration=facts.seconds_since_migration,
            policy=policy_mod.guest_policy_from(
                facts.extra_specs, facts.image_properties,
                available_strategies=available_strategies,
                tenant_strategies=settings.tenant_strategies,
                image_keys=settings.image_settable_keys,
                image_downtime_floor_ms=settings.image_downtime_floor_ms,
                # As the compute: a bad image value is explained, not fatal.
                strict_image=False, operator_chosen=operator_chosen),
            limits=settings.limits, instance_uuid=facts.server_id)
    except policy_mod.PolicyError as e:
        raise PlanningError('server %s: %s' % (facts.name, e))


def history_notes(reports):
    """Lines about the latest measured migrations of a server."""
    notes = []
    for report in list(reports)[-3:]:
        parts = ['%s %s' % (report.outcome, report.strategy or '')]
        if report.total_time_s is not None:
            parts.append('%.1f s' % report.total_time_s)
        if report.downtime_ms is not None:
            parts.append('downtime %d ms' % report.downtime_ms)
        if report.data_bytes is not None:
            parts.append('%s sent' % units.format_size(report.data_bytes))
        notes.append('measured earlier: %s -> %s: %s' % (
            report.source_host, report.destination_host, ', '.join(parts)))
    return notes


def plan_for(facts, settings, operator_strategy=None, reports=(),
             available_strategies=None):
    """Return the ``ServerPlan`` for *facts*; raises PlanningError."""
    available = (planner.available_strategies()
                 if available_strategies is None else available_strategies)
    context = inputs_for(facts, settings, available,
                         operator_chosen=bool(operator_strategy))
    name, source = planner.choose_strategy(
        context, settings.default_strategy, operator_strategy)
    try:
        plan = planner.build_plan(context, settings.default_strategy,
                                  operator_strategy,
                                  strategies=settings.strategies)
    except planner.UnknownStrategyError as e:
        raise PlanningError(str(e))
    except (planner.PlanInvariantError, planner.StrategyTimeoutError) as e:
        raise PlanningError('%s; the compute would fall back to nova\'s own '
                            'behaviour' % e)
    notes = [
        'memory %s from flavor %s' % (units.format_size(facts.memory_bytes),
                                      facts.flavor_name),
        'configuration: %s' % (
            ', '.join(settings.config_files) if settings.config_files else
            'defaults (no --config-file: the compute\'s nova.conf decides)'),
        'strategy %s from %s' % (name, source),
        'dirty rate, touched memory and host load are measured by the '
        'compute just before it migrates; here they are assumed',
    ]
    if facts.seconds_since_migration is not None:
        notes.append('last migrated %s ago (measured: nova migration '
                     'record)' % units.format_seconds(
                         facts.seconds_since_migration))
    notes += history_notes(reports)
    return ServerPlan(facts=facts, plan=plan, strategy_source=source,
                      notes=tuple(notes))
