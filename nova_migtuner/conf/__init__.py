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

"""The ``[migtuner]`` option group.

Every option lives in ``nova_migtuner.conf.migtuner``; ``register_opts`` puts
them on a ``ConfigOpts`` (nova's global ``CONF`` inside nova services).
"""

from oslo_config import cfg

from nova_migtuner.conf import migtuner

CONF = cfg.CONF


def register_opts(conf=CONF):
    migtuner.register_opts(conf)


def check_values(conf=CONF):
    """Read every ``[migtuner]`` option now, so a bad value fails at start.

    oslo.config checks a value from a file only when it is first read; a
    service should refuse to start instead of failing its first migration.

    :raises oslo_config.cfg.ConfigFileValueError: naming option and range.
    """
    for opt in migtuner.ALL_OPTS:
        getattr(conf.migtuner, opt.dest)


register_opts(CONF)


def rate_settings(conf=CONF):
    """One line per configured rate, in bytes and in bits, for start-up logs.

    An admin reading the log sees what ``10Gb/s`` was read as (a gigabit is
    an eighth of a gigabyte), e.g. ``link_bandwidth = 10Gb/s: 1.164 GiB/s
    (10 Gbit/s)``. Values that cannot be read are left to the code that
    uses them, which says why.
    """
    # Imported here: both import this package's option module.
    from nova_migtuner.planning import limits as limits_mod
    from nova_migtuner import units

    mt = conf.migtuner
    lines = []
    if str(mt.link_bandwidth).lower() == migtuner.MEASURE:
        lines.append('link_bandwidth = measure (until measured: %s)'
                     % units.format_rate(limits_mod.link_bandwidth(
                         mt.link_bandwidth)[0]))
    else:
        lines.append('link_bandwidth = %s: %s' % (
            mt.link_bandwidth, units.format_rate(limits_mod.link_bandwidth(
                mt.link_bandwidth)[0])))
    lines.append('max_bandwidth_mib_s = %d: %s' % (
        mt.max_bandwidth_mib_s,
        units.format_rate(mt.max_bandwidth_mib_s * units.MiB)
        if mt.max_bandwidth_mib_s else 'no cap'))
    for name, text in sorted((mt.link_classes or {}).items()):
        try:
            shown = units.format_rate(units.parse_rate(
                text, what='link class %s' % name))
        except units.UnitError as e:
            shown = 'ignored: %s' % e
        lines.append('link_classes %s = %s: %s' % (name, text, shown))
    return lines
