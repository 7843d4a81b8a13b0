#!/bin/bash
# shellcheck shell=bash
#
# devstack/plugin.sh - DevStack plugin of nova-migtuner
#
# local.conf, on the controller and on every compute subnode:
#
#   [[local|localrc]]
#   enable_plugin nova-migtuner https://opendev.org/x/nova-migtuner [branch]
#
# DevStack sources this file with the mode and phase as arguments. The
# plugin runs no service of its own; it installs the package where nova runs
# and configures nova. The work is in devstack/lib/migtuner:
#
#   stack install      editable install, the nova/virt/migtuner shim linked
#                      into nova's package, the check that nova loads the
#                      driver
#   stack post-config  nova.conf: compute_driver (compute hosts), [migtuner],
#                      [notifications], scheduler filter and weigher
#   stack extra        check what nova-compute runs with; sample config
#   stack test-config  tempest.conf [nova_migtuner]; the Tempest plugin
#   clean              the shim's link, the package, the plugin's files
#
# unstack has nothing to undo: DevStack writes nova.conf, nova-cpu.conf and
# tempest.conf anew on every stack.sh run.
#
# Variables (defaults in devstack/settings) can be set in local.conf.
# shellcheck disable=SC2154

# shellcheck source=devstack/lib/migtuner
source "$NOVA_MIGTUNER_DIR/devstack/lib/migtuner"

if is_service_enabled nova; then
    if [[ "$1" == "stack" && "$2" == "install" ]]; then
        echo_summary "Installing nova-migtuner"
        install_nova_migtuner
    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        echo_summary "Configuring nova for nova-migtuner"
        configure_nova_migtuner
    elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
        echo_summary "Checking nova-migtuner"
        init_nova_migtuner
    fi
fi

if [[ "$1" == "stack" && "$2" == "test-config" ]] && is_service_enabled tempest; then
    echo_summary "Configuring Tempest for nova-migtuner"
    configure_tempest_nova_migtuner
fi

if [[ "$1" == "clean" ]]; then
    cleanup_nova_migtuner
fi
