#!/bin/bash
# shellcheck shell=bash
#
# What DevStack itself does around the plugin's phases, reduced to the
# lines that touch the files the plugin edits (lib/nova create_nova_conf
# and start_nova_compute, lib/tempest configure_tempest).

# lib/nova create_nova_conf: nova.conf from scratch.
function fake_create_nova_conf {
    rm -f "$NOVA_CONF"
    iniset "$NOVA_CONF" DEFAULT debug True
    iniset "$NOVA_CONF" DEFAULT my_ip 192.0.2.10
    iniset "$NOVA_CONF" DEFAULT transport_url "rabbit://stackrabbit:secret@192.0.2.10:5672/"
    if is_service_enabled n-cpu; then
        iniset "$NOVA_CONF" DEFAULT compute_driver libvirt.LibvirtDriver
        iniset "$NOVA_CONF" libvirt virt_type qemu
        iniset "$NOVA_CONF" libvirt live_migration_uri "qemu+ssh://stack@%s/system"
    fi
    if is_service_enabled n-sch; then
        iniset "$NOVA_CONF" filter_scheduler enabled_filters "$NOVA_FILTERS"
    fi
    # lib/nova: "Set the oslo messaging driver to the typical default".
    iniset "$NOVA_CONF" oslo_messaging_notifications driver messagingv2
    iniset "$NOVA_CONF" notifications notify_on_state_change vm_and_task_state
    iniset "$NOVA_CONF" notifications notification_format "${FAKE_NOTIFICATION_FORMAT:-unversioned}"
}

# lib/nova start_nova_compute: nova-cpu.conf is a copy of nova.conf, then
# local.conf's [[post-config|$NOVA_CPU_CONF]] (FAKE_CPU_POST_CONFIG:
# "section option value" lines) is merged into it.
function fake_start_nova_compute {
    local section option value
    cp "$NOVA_CONF" "$NOVA_CPU_CONF"
    while read -r section option value; do
        if [[ -n "$section" ]]; then
            iniset "$NOVA_CPU_CONF" "$section" "$option" "$value"
        fi
    done <<< "${FAKE_CPU_POST_CONFIG:-}"
}

# lib/tempest configure_tempest: tempest.conf from scratch.
function fake_configure_tempest {
    rm -f "$TEMPEST_CONFIG"
    iniset "$TEMPEST_CONFIG" compute min_compute_nodes 2
    iniset "$TEMPEST_CONFIG" compute-feature-enabled live_migration True
    iniset "$TEMPEST_CONFIG" compute-feature-enabled scheduler_enabled_filters "${FAKE_TEMPEST_FILTERS-$NOVA_FILTERS}"
    iniset "$TEMPEST_CONFIG" service_available nova True
}
