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

"""Guest CPU mode and NUMA topology decisions, as pure functions.

Nothing here imports nova or libvirt: the driver mixin
(``nova_migtuner.nova.cpu_mode``), the scheduler filter and the
``advise-flavor`` command call these functions with plain values, so the
driver and the scheduler can never disagree about which CPU a guest has.
"""
