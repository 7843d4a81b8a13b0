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

"""The configuration checks a service runs when it starts.

oslo.config checks a value only when it is first read, and a strategy name
is only looked up when a migration is planned: a typo in
``default_strategy`` would leave every migration untuned, one in
``tenant_strategies`` would be dropped silently. The driver, the scheduler
filter and the weigher therefore check everything they will read when they
are built, and refuse to start with one message naming every bad value.
"""

from oslo_config import cfg
from oslo_log import log as logging

import nova_migtuner.conf
from nova_migtuner import operator_marker
from nova_migtuner.planning import planner

LOG = logging.getLogger(__name__)


class ConfigurationError(ValueError):
    """The ``[migtuner]`` configuration cannot be used.

    The message names the bad values and what is allowed.
    """


def problems(conf, strategies, secrets=False):
    """Every reason the ``[migtuner]`` settings of *conf* cannot be used.

    :param strategies: names of the installed strategies.
    :param secrets: also check the operator secret (the driver uses it).
    :returns: a list of messages, empty when all is well.
    """
    try:
        nova_migtuner.conf.check_values(conf)
    except (cfg.Error, ValueError) as e:
        # The other checks would read the same bad value again.
        return ['%s' % e]
    mt = conf.migtuner
    found = []
    installed = ', '.join(sorted(strategies)) or 'none'
    if mt.default_strategy not in strategies:
        found.append('[migtuner] default_strategy %r is not an installed '
                     'strategy; installed: %s' % (mt.default_strategy,
                                                  installed))
    unknown = [name for name in mt.tenant_strategies
               if name not in strategies]
    if unknown:
        found.append('[migtuner] tenant_strategies names %s, not installed; '
                     'installed: %s' % (', '.join(map(repr, unknown)),
                                        installed))
    if secrets:
        try:
            keyring = operator_marker.configured_keyring(
                mt.operator_secret, mt.operator_secret_file)
            if keyring is not None:
                operator_marker.check_secret(keyring)
        except operator_marker.MarkerError as e:
            found.append('[migtuner] operator secret: %s' % e)
    return found


def check_service(service, conf=None, strategies=None, secrets=False):
    """Raise ``ConfigurationError`` (logged as critical) if *conf* is bad.

    :param service: what is starting, for the message (``MigTunerDriver``).
    :param strategies: installed strategy names; None asks stevedore.
    """
    conf = nova_migtuner.conf.CONF if conf is None else conf
    if strategies is None:
        strategies = planner.available_strategies()
    found = problems(conf, strategies, secrets=secrets)
    if not found:
        return
    message = ('%s refuses to start: %s (nova-migtuner check '
               '--config-file nova.conf tells the same before a restart)'
               % (service, '; '.join(found)))
    LOG.critical('%s', message)
    raise ConfigurationError(message)
