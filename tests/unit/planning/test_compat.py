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

"""The check that the installed nova has the surface the driver uses."""

import pytest

from nova_migtuner.planning import compat


class _GoodDriver:
    def _live_migration(self, context, instance, dest, post_method,
                        recover_method, block_migration, migrate_data):
        pass

    def _live_migration_operation(self, context, instance, dest,
                                  block_migration, migrate_data, guest,
                                  device_names):
        pass

    def _live_migration_monitor(self, context, instance, guest, dest,
                                post_method, recover_method,
                                block_migration, migrate_data, future,
                                disk_paths):
        pass

    def _get_migration_flags(self, is_block_migration):
        pass

    def _is_post_copy_enabled(self, migration_flags):
        pass

    def live_migration_abort(self, instance):
        pass

    def live_migration_force_complete(self, instance):
        pass

    def post_live_migration_at_destination(self, context, instance,
                                           network_info,
                                           block_migration=False,
                                           block_device_info=None):
        pass

    def _get_guest_cpu_model_config(self, flavor=None, arch=None):
        pass

    def _get_cpu_model_mapping(self, model):
        pass

    def _get_guest_baseline_cpu_features(self, xml_str):
        pass

    def get_available_resource(self, nodename):
        pass


class _Migration:
    @staticmethod
    def trigger_postcopy_switch(guest, instance, migration):
        pass


class _Guest:
    Guest = object
    JobInfo = object


def test_compat_accepts_the_expected_surface():
    assert compat.problems('34.0.0', _GoodDriver, _Migration, _Guest) == []
    assert compat.problems('34.1.2', _GoodDriver, _Migration, _Guest) == []


@pytest.mark.parametrize('version', ['33.0.0', '35.0.0', 'unknown'])
def test_compat_refuses_other_nova_releases(version):
    found = compat.problems(version, _GoodDriver, _Migration, _Guest)
    assert len(found) == 1 and version in found[0]


def test_compat_names_renamed_and_changed_methods():
    class Changed(_GoodDriver):
        _live_migration_monitor = None

        def _get_migration_flags(self, migrate_data):
            pass

    class Guest:
        Guest = object

    found = compat.problems('34.0.0', Changed, _Migration, Guest)
    assert 'LibvirtDriver._live_migration_monitor is missing' in found
    assert ('LibvirtDriver._get_migration_flags(migrate_data) does not '
            'take (is_block_migration)') in found
    assert 'nova.virt.libvirt.guest.JobInfo is missing' in found
    with pytest.raises(compat.UnsupportedNovaError) as err:
        compat.require('36.0.0', Changed, _Migration, Guest)
    # One message names every problem, and nova's loader exits cleanly on
    # an ImportError.
    assert isinstance(err.value, ImportError)
    assert 'nova 36.0.0 is not supported' in str(err.value)
    assert 'JobInfo is missing' in str(err.value)


def test_compat_instance_attributes():
    class Driver:
        _host = active_migrations = _live_migration_flags = None

    assert compat.instance_problems(Driver()) == [
        'LibvirtDriver instance has no attribute _block_migration_flags']
