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

"""The operator's one-off strategy marker, checked on the source compute.

``openstack migtuner migrate --strategy`` leaves a signed marker in the
server's metadata; the compute takes it once (``operator_marker``), and
remembers the nonces it used in a SQLite store so that a marker cannot be
replayed.
"""

import os
import threading

from oslo_log import log as logging

from nova_migtuner import operator_marker
from nova_migtuner.planning import planner

LOG = logging.getLogger(__name__)


class OperatorMarkers:
    """Takes operator markers for one compute host.

    :param conf: callable returning nova's ``CONF`` (read when needed).
    """

    def __init__(self, conf):
        self._conf = conf
        self._used = None
        self._lock = threading.Lock()

    def used_markers(self):
        """The SQLite store of operator markers this host has used."""
        with self._lock:
            if self._used is None:
                conf = self._conf()
                path = (conf.migtuner.operator_nonce_db or
                        os.path.join(conf.state_path,
                                     'migtuner_used_markers.sqlite'))
                self._used = operator_marker.SqliteNonceStore(path)
            return self._used

    def take_strategy(self, instance, source_host):
        """The strategy a valid operator marker chooses, else None.

        The marker is removed from the server's metadata whether it is
        valid or not, so that it is used at most once; a refused marker is
        logged and the migration goes on with the usual strategy.
        """
        mt = self._conf().migtuner
        if operator_marker.METADATA_KEY not in (instance.metadata or {}):
            return None
        decision = operator_marker.take_from_metadata(
            instance.metadata, mt.operator_secret, instance.uuid,
            source_host, self.used_markers(),
            allowed_strategies=planner.available_strategies(),
            max_ttl=mt.operator_marker_max_ttl_s)
        if decision.present:
            instance.save()
        if decision.refused_reason:
            LOG.warning('Operator strategy marker refused (%(reason)s): '
                        '%(message)s',
                        {'reason': decision.refused_reason,
                         'message': decision.refused_message},
                        instance=instance)
        elif decision.strategy:
            LOG.info('Operator chose strategy %(strategy)s for this '
                     'migration', {'strategy': decision.strategy},
                     instance=instance)
        return decision.strategy
