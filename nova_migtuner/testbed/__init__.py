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

"""A real two-host libvirt/QEMU (TCG) live-migration test bed on one machine.

See testbed.md beside this file for the design; the public API is Testbed,
Workload, HeartbeatProbe and the errors below.
"""

from nova_migtuner.testbed.bed import Testbed  # noqa: F401
from nova_migtuner.testbed.exceptions import CommandError  # noqa: F401
from nova_migtuner.testbed.exceptions import GuestBootTimeout  # noqa: F401
from nova_migtuner.testbed.exceptions import PrerequisiteError  # noqa: F401
from nova_migtuner.testbed.exceptions import TestbedError  # noqa: F401
from nova_migtuner.testbed.heartbeat import HeartbeatProbe  # noqa: F401
from nova_migtuner.testbed.heartbeat import HeartbeatResult  # noqa: F401
from nova_migtuner.testbed.workload import Workload  # noqa: F401
