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
"""Loader shim: nova.conf says ``compute_driver = migtuner.MigTunerDriver``.

nova 34 imports ``'nova.virt.%s' % compute_driver``, so the driver must be
importable under ``nova.virt``. This package is installed into nova's own
``nova/virt/`` directory (pbr ``[files] packages = nova/virt/migtuner``) and
only re-exports the driver; everything else lives in ``nova_migtuner``.
"""

from nova_migtuner.nova.driver import MigTunerDriver  # noqa: F401

__all__ = ['MigTunerDriver']
