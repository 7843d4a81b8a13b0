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

"""The decisions of nova_migtuner, pure Python: neither nova nor libvirt.

From a migration's inputs (``context``, built by ``inputs`` from plain
values, with ``limits`` and ``policy``) the ``planner`` picks a strategy
(``strategies``, stevedore plugins), which predicts with the ``model`` and
returns a frozen ``plan``; ``timing`` decides when to start. The
notification payloads (``notification_schema``, ``payloads``), the
destination's hand-off of its numbers (``handoff``) and the check of
nova's private surface (``compat``) are plain functions over plain values
too. ``tests/unit/planning/test_purity.py`` imports all of it with nova
and libvirt blocked.
"""
