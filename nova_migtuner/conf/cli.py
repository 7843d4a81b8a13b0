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

"""The configuration of the command-line tools, read as a compute reads it.

``nova-migtuner plan``, ``openstack migtuner ...`` and the report collector
read the same nova.conf files as the compute hosts (``--config-file``).
``load_config`` registers ``[migtuner]`` and nova's own ``[libvirt]``
options (nova's definitions, when nova is installed: its defaults and
types, not copies) on a private ``ConfigOpts``, so that ``[libvirt]
live_migration_permit_post_copy`` and ``live_migration_bandwidth`` narrow
``[migtuner]`` here as they do on the compute. Where nova is not installed
(an operator's workstation) ``[libvirt]`` is not read, and the limits say
so by leaving ``[migtuner]`` alone. Every installed strategy's
``[migtuner_strategy_<name>]`` options are registered too: pass
``planner.strategies_for(conf)`` to ``planner.build_plan`` so that the
files' strategy tunables apply here as they do on the compute.
"""

from oslo_config import cfg

from nova_migtuner import conf as mt_conf
from nova_migtuner.planning import planner


class ConfigError(ValueError):
    """The configuration files cannot be read; the message names them."""


def nova_libvirt_registered(conf):
    """True if nova's ``[libvirt]`` options are on *conf*."""
    try:
        conf.libvirt.live_migration_permit_post_copy
    except (cfg.NoSuchOptError, cfg.NoSuchGroupError, AttributeError):
        return False
    return True


def _register_nova_libvirt(conf):
    try:
        from nova.conf import libvirt as nova_libvirt
    except ImportError:
        return False
    # nova's option definitions, registered under the group's name: its
    # OptGroup object keeps per-option state (overrides) that a second
    # ConfigOpts registering the same object would share.
    for group, opts in nova_libvirt.list_opts().items():
        conf.register_opts(opts, group=group.name)
    return True


def _check_strategy_values(conf):
    # As check_values for [migtuner]: a bad value fails here, naming the
    # file, instead of in the middle of planning.
    for group, opts in planner.list_strategy_opts():
        for opt in opts:
            getattr(conf[group], opt.dest)


def load_config(config_files, register=None):
    """A private ``ConfigOpts`` read from *config_files*.

    :param config_files: nova.conf paths; none: the defaults.
    :param register: called with the ``ConfigOpts`` before the files are
        read, to add a tool's own options (e.g. oslo.log's).
    :raises ConfigError: a file cannot be read or a value is out of range.
    """
    conf = cfg.ConfigOpts()
    mt_conf.register_opts(conf)
    planner.register_strategy_opts(conf)
    _register_nova_libvirt(conf)
    if register is not None:
        register(conf)
    try:
        conf(args=[], project='nova',
             default_config_files=list(config_files))
        mt_conf.check_values(conf)
        _check_strategy_values(conf)
    except (cfg.Error, ValueError) as e:
        raise ConfigError('cannot read configuration %s: %s'
                          % (', '.join(config_files) or '(defaults)', e))
    return conf
