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

"""Start-up check: is this the nova the driver subclass was written for?

Out-of-tree drivers break silently on nova upgrades: a
private method is renamed, its arguments change, and the subclass either
crashes at the first migration or, worse, keeps running with half its hooks
dead. The driver therefore checks, before anything else, the nova release
and every private method and attribute it relies on, and refuses to start
with one message that names all the problems.

``problems()`` is pure (it inspects the objects it is given); the driver
calls ``require()`` with the live nova modules.
"""

import inspect

SUPPORTED_MAJOR_VERSIONS = (34,)

# LibvirtDriver methods the subclass overrides or calls, with the parameter
# names (after ``self``) nova 34.0.0 gives them. A rename or a new required
# parameter shows here first.
REQUIRED_METHODS = {
    '_live_migration': (
        'context', 'instance', 'dest', 'post_method', 'recover_method',
        'block_migration', 'migrate_data'),
    '_live_migration_operation': (
        'context', 'instance', 'dest', 'block_migration', 'migrate_data',
        'guest', 'device_names'),
    '_live_migration_monitor': (
        'context', 'instance', 'guest', 'dest', 'post_method',
        'recover_method', 'block_migration', 'migrate_data', 'future',
        'disk_paths'),
    '_get_migration_flags': ('is_block_migration',),
    '_is_post_copy_enabled': ('migration_flags',),
    'live_migration_abort': ('instance',),
    'live_migration_force_complete': ('instance',),
    'post_live_migration_at_destination': (
        'context', 'instance', 'network_info', 'block_migration',
        'block_device_info'),
    # CPUModeMixin and HostStatsMixin.
    '_get_guest_cpu_model_config': ('flavor', 'arch'),
    '_get_cpu_model_mapping': ('model',),
    '_get_guest_baseline_cpu_features': ('xml_str',),
    'get_available_resource': ('nodename',),
}

# Functions of nova.virt.libvirt.migration the hooks call.
REQUIRED_MIGRATION_FUNCTIONS = {
    'trigger_postcopy_switch': ('guest', 'instance', 'migration'),
}

# Attributes a LibvirtDriver instance has once ``__init__`` ran.
REQUIRED_INSTANCE_ATTRIBUTES = ('_host', 'active_migrations',
                                '_live_migration_flags',
                                '_block_migration_flags')

# nova.virt.libvirt.guest names the hooks use.
REQUIRED_GUEST_NAMES = ('Guest', 'JobInfo')


class UnsupportedNovaError(ImportError):
    """This nova is not one the driver supports.

    A subclass of ``ImportError`` on purpose: nova's
    ``virt.driver.load_compute_driver`` turns an ImportError into a logged
    "Unable to load the virtualization driver" (with this message) and a
    clean exit with status 1, rather than a crash traceback.
    """


def _parameters(func):
    try:
        params = list(inspect.signature(func).parameters)
    except (TypeError, ValueError):
        return None
    if params and params[0] == 'self':
        params = params[1:]
    return tuple(params)


def _check_callable(owner_name, owner, name, expected):
    func = getattr(owner, name, None)
    if func is None or not callable(func):
        return ['%s.%s is missing' % (owner_name, name)]
    found = _parameters(func)
    if found is None:
        return []
    if found[:len(expected)] != tuple(expected):
        return ['%s.%s(%s) does not take (%s)' % (
            owner_name, name, ', '.join(found), ', '.join(expected))]
    return []


def version_problems(version_string):
    """Problems with the nova release *version_string* ('34.0.0')."""
    try:
        major = int(str(version_string).split('.')[0])
    except ValueError:
        return ['cannot read the nova version %r' % (version_string,)]
    if major not in SUPPORTED_MAJOR_VERSIONS:
        return ['nova %s is not supported (supported: %s)' % (
            version_string,
            ', '.join('%d.x' % v for v in SUPPORTED_MAJOR_VERSIONS))]
    return []


def class_problems(driver_class, migration_module, guest_module):
    """Problems with the private surface of nova's libvirt driver."""
    problems = []
    for name, params in sorted(REQUIRED_METHODS.items()):
        problems += _check_callable('LibvirtDriver', driver_class, name,
                                    params)
    for name, params in sorted(REQUIRED_MIGRATION_FUNCTIONS.items()):
        problems += _check_callable('nova.virt.libvirt.migration',
                                    migration_module, name, params)
    for name in REQUIRED_GUEST_NAMES:
        if not hasattr(guest_module, name):
            problems.append('nova.virt.libvirt.guest.%s is missing' % name)
    return problems


def instance_problems(driver):
    """Problems with a constructed driver (attributes set by __init__)."""
    return ['LibvirtDriver instance has no attribute %s' % name
            for name in REQUIRED_INSTANCE_ATTRIBUTES
            if not hasattr(driver, name)]


def problems(version_string, driver_class, migration_module, guest_module):
    return (version_problems(version_string) +
            class_problems(driver_class, migration_module, guest_module))


# What an admin does about it, now and before the next nova upgrade.
UPGRADE_ADVICE = (
    'nova-compute stays down until then: install the nova_migtuner release '
    'made for this nova, or set [DEFAULT] compute_driver = '
    'libvirt.LibvirtDriver to run the stock driver (migrations are then not '
    'tuned). Before upgrading nova, first install the nova_migtuner '
    'release for the new nova, or switch compute_driver to '
    'libvirt.LibvirtDriver and restart nova-compute')


def message(found):
    return ('nova_migtuner cannot run on this nova: %s. %s.'
            % ('; '.join(found), UPGRADE_ADVICE))


def require(version_string, driver_class, migration_module, guest_module):
    """Raise ``UnsupportedNovaError`` naming every problem found."""
    found = problems(version_string, driver_class, migration_module,
                     guest_module)
    if found:
        raise UnsupportedNovaError(message(found))
