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

"""Entry point for oslo-config-generator and oslo_config.sphinxext."""

from nova_migtuner.conf import migtuner
from nova_migtuner.planning import planner


def list_opts():
    """``[migtuner]`` (entry point ``nova_migtuner``)."""
    return [(migtuner.GROUP_NAME, migtuner.ALL_OPTS)]


def list_strategy_opts():
    """Each installed strategy's own group (``nova_migtuner.strategies``)."""
    return planner.list_strategy_opts()
