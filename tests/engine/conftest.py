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

# The engine's real-libvirt tests use the session-wide two-host test bed
# (skipped with the reason when it cannot run).
from nova_migtuner.testbed.fixtures import testbed  # noqa: F401
from nova_migtuner.testbed.fixtures import testbed_hang_guard  # noqa: F401
