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

"""The config files of the cloud's services, as oslo.config INI files.

One function per service returns ``{section: [(key, value), ...]}``; a
key may repeat (oslo.config's multi-valued options). ``write`` renders it.
"""

import os

from nova_migtuner.cloud import layout as layout_mod

NOVA_DRIVERS = {
    'migtuner': 'migtuner.MigTunerDriver',
    'stock': 'libvirt.LibvirtDriver',
}
# The scheduler lines the README gives admins.
MIGTUNER_FILTER = 'nova_migtuner.scheduler.filters.MigTunerFilter'
MIGTUNER_WEIGHER = 'nova_migtuner.scheduler.weights.MigTunerWeigher'
NOVA_DEFAULT_FILTERS = ('ComputeFilter', 'ComputeCapabilitiesFilter',
                        'ImagePropertiesFilter',
                        'ServerGroupAntiAffinityFilter',
                        'ServerGroupAffinityFilter')


def render(sections):
    lines = ['# Written by nova-migtuner cloud; rewritten by every "up".']
    for section, items in sections.items():
        lines.append('')
        lines.append('[%s]' % section)
        for key, value in items:
            if isinstance(value, bool):
                value = 'true' if value else 'false'
            lines.append('%s = %s' % (key, value))
    return '\n'.join(lines) + '\n'


def write(path, sections):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(render(sections))
    return path


def _service_user(user):
    """keystoneauth password options of a service user in project service."""
    return [
        ('auth_type', 'password'),
        ('project_domain_name', 'Default'),
        ('user_domain_name', 'Default'),
        ('project_name', 'service'),
        ('username', user),
        ('password', layout_mod.PASSWORD),
        ('region_name', layout_mod.REGION),
    ]


def authtoken(layout, user):
    """``[keystone_authtoken]`` of a service's API."""
    return ([('www_authenticate_uri', layout.url(layout.keystone_port)),
             ('auth_url', layout.url(layout.keystone_port))] +
            _service_user(user) + [('service_token_roles_required', True)])


def service_auth(layout, user='nova'):
    """How nova authenticates to another service (or as itself)."""
    return ([('auth_url', layout.keystone_url)] + _service_user(user) +
            [('valid_interfaces', 'public')])


def keystone(layout):
    return {
        'DEFAULT': [('debug', False)],
        'database': [('connection', layout.db_url('keystone'))],
        'token': [('provider', 'fernet')],
        'fernet_tokens': [('key_repository',
                           layout.path('keystone', 'fernet-keys'))],
        'credential': [('key_repository',
                        layout.path('keystone', 'credential-keys'))],
    }


def glance(layout):
    return {
        'DEFAULT': [('enabled_backends', 'fs:file'), ('debug', False)],
        'glance_store': [('default_backend', 'fs')],
        'fs': [('filesystem_store_datadir',
                layout.path('glance', 'images') + '/')],
        'os_glance_staging_store': [(
            'filesystem_store_datadir',
            layout.path('glance', 'staging') + '/')],
        'os_glance_tasks_store': [(
            'filesystem_store_datadir',
            layout.path('glance', 'tasks') + '/')],
        'database': [('connection', layout.db_url('glance'))],
        'keystone_authtoken': authtoken(layout, 'glance'),
        'paste_deploy': [('flavor', 'keystone')],
        'oslo_concurrency': [('lock_path', layout.path('glance', 'locks'))],
    }


def placement(layout):
    return {
        'DEFAULT': [('debug', False)],
        'placement_database': [('connection', layout.db_url('placement'))],
        'api': [('auth_strategy', 'keystone')],
        'keystone_authtoken': authtoken(layout, 'placement'),
    }


def neutron(layout):
    # ML2 with no mechanism driver and no agents: a real neutron API that
    # answers nova's calls for servers without ports (lists are empty).
    return {
        'DEFAULT': [
            ('core_plugin', 'ml2'),
            ('service_plugins', ''),
            ('auth_strategy', 'keystone'),
            ('transport_url', layout.transport_url),
            ('notify_nova_on_port_status_changes', False),
            ('notify_nova_on_port_data_changes', False),
            ('api_paste_config', layout.etc('neutron', 'api-paste.ini')),
            ('state_path', layout.path('neutron', 'state')),
            ('debug', False),
        ],
        'database': [('connection', layout.db_url('neutron'))],
        'keystone_authtoken': authtoken(layout, 'neutron'),
        'oslo_concurrency': [('lock_path', layout.path('neutron', 'locks'))],
        'agent': [('root_helper', 'sudo'),
                  ('use_helper_for_ns_read', False)],
    }


def neutron_ml2():
    return {
        'ml2': [('type_drivers', 'flat'), ('tenant_network_types', ''),
                ('mechanism_drivers', ''), ('extension_drivers', '')],
        'ml2_type_flat': [('flat_networks', '*')],
    }


# The test bed's stand-in for a network link between the hosts: loopback
# moves memory far faster than a real link, so every compute caps its
# migrations (nova's own option, honoured by stock nova and by migtuner as
# an outer bound), and a busy guest can out-run its migration as it does
# on a real link.
LINK_CAP_MIB_S = 32
# What an admin enabling migtuner permits in [libvirt] so that its ladder
# may escalate; stock nova keeps nova's defaults (both off).
MIGTUNER_PERMISSIONS = (('libvirt', 'live_migration_permit_auto_converge',
                         True),
                        ('libvirt', 'live_migration_permit_post_copy', True))


def nova_common(layout, operator_secret):
    """nova.conf shared by nova-api, conductor, scheduler and computes."""
    return {
        'DEFAULT': [
            ('transport_url', layout.transport_url),
            ('state_path', layout.path('nova', 'state')),
            ('debug', False),
            # oslo.service waits this long for running work on SIGTERM
            # (default 60 s); nothing of this test cloud needs that long.
            ('graceful_shutdown_timeout', 5),
        ],
        'api': [('auth_strategy', 'keystone')],
        'api_database': [('connection', layout.db_url('nova_api'))],
        'database': [('connection', layout.db_url('nova'))],
        'wsgi': [('api_paste_config', layout.etc('nova', 'api-paste.ini'))],
        'keystone_authtoken': authtoken(layout, 'nova'),
        'service_user': [('send_service_user_token', True)] +
        service_auth(layout),
        'placement': service_auth(layout),
        'neutron': service_auth(layout, 'neutron') + [
            ('service_metadata_proxy', False)],
        'glance': [('region_name', layout_mod.REGION),
                   ('valid_interfaces', 'public')],
        'cinder': [('os_region_name', layout_mod.REGION)],
        'conductor': [('workers', 1)],
        'scheduler': [('workers', 1),
                      ('discover_hosts_in_cells_interval', -1)],
        'filter_scheduler': [
            ('available_filters', 'nova.scheduler.filters.all_filters'),
            ('available_filters', MIGTUNER_FILTER),
            ('enabled_filters', ','.join(NOVA_DEFAULT_FILTERS +
                                         ('MigTunerFilter',))),
            ('weight_classes', 'nova.scheduler.weights.all_weighers,' +
             MIGTUNER_WEIGHER),
        ],
        'notifications': [('notification_format', 'both')],
        'oslo_messaging_notifications': [('driver', 'messagingv2')],
        'oslo_concurrency': [('lock_path', layout.path('nova', 'locks'))],
        'vnc': [('enabled', False)],
        'spice': [('enabled', False)],
        'os_vif_ovs': [('ovsdb_connection', '')],
        'workarounds': [('disable_rootwrap', True)],
        # With two computes the only destination is always the one that
        # just took a migration: a settle time would serialise every drain.
        'migtuner': [('operator_secret', operator_secret),
                     ('destination_settle_s', 0)],
    }


def nova_compute(layout, compute, driver='migtuner', options=()):
    """The per-compute file, read after nova.conf.

    options: ``(section, key, value)`` triples that override or add nova
    options (``--nova-option``); with the migtuner driver they come after
    MIGTUNER_PERMISSIONS.
    """
    state = os.path.join(layout.compute_dir(compute), 'state')
    conf_files = ' '.join(
        '--config-file %s' % path for path in
        (layout.etc('nova', 'nova.conf'),
         layout.etc('nova', 'compute-%s.conf' % compute.bed_host)))
    sections = {
        'DEFAULT': [
            ('host', compute.host),
            ('my_ip', compute.address),
            ('state_path', state),
            ('instances_path', layout_mod.INSTANCES_PATH),
            ('compute_driver', NOVA_DRIVERS[driver]),
            ('reserved_host_memory_mb', 0),
            ('resume_guests_state_on_host_boot', False),
        ],
        'libvirt': [
            ('virt_type', 'qemu'),
            ('connection_uri', 'qemu+tcp://%s/system' % compute.address),
            ('live_migration_inbound_addr', compute.address),
            ('cpu_mode', 'custom'),
            ('cpu_models', 'qemu64'),
            ('live_migration_bandwidth', LINK_CAP_MIB_S),
        ],
        # Root inside the host's namespaces: the privsep daemon is started
        # directly, without sudo or rootwrap.
        'nova_sys_admin': [('helper_command', '%s %s' % (
            layout.bin(layout.venv, 'privsep-helper'), conf_files))],
        # Both "hosts" share this machine's CPUs with each other's guests
        # and the control plane, so the load each compute sees is the whole
        # machine's: deferring on it would only measure the test bed.
        'migtuner': [('busy_host_cpu_load', 1.0)],
    }
    if driver == 'migtuner':
        options = MIGTUNER_PERMISSIONS + tuple(options)
    for section, key, value in options:
        items = sections.setdefault(section, [])
        items[:] = [(k, v) for k, v in items if k != key]
        items.append((key, value))
    return sections


def collector(layout):
    return {
        'DEFAULT': [('transport_url', layout.transport_url)],
        'oslo_messaging_notifications': [
            ('transport_url', layout.transport_url)],
    }
