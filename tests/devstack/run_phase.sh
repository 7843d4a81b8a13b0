#!/bin/bash
#
# run_phase.sh MODE [PHASE]
#
# Run one step of a DevStack run against the files named by the
# environment (NOVA_CONF, NOVA_CPU_CONF, TEMPEST_CONFIG, ...), in a fresh
# shell each time, as stack.sh/unstack.sh/clean.sh do it:
#   run_phase.sh stack install|post-config|extra|test-config
#   run_phase.sh unstack | clean
#   run_phase.sh fake create_nova_conf|start_nova_compute|configure_tempest
#                                    (DevStack's own steps, see fake_devstack.sh)
#
# DevStack sources the plugin's settings after lib/* and then sources
# plugin.sh with the mode and phase as arguments.

set -o errexit
set -o nounset

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/devstack/devstack_stubs.sh
source "$HERE/devstack_stubs.sh"
# shellcheck source=tests/devstack/fake_devstack.sh
source "$HERE/fake_devstack.sh"
# shellcheck source=devstack/settings
source "$NOVA_MIGTUNER_DIR/devstack/settings"

if [[ "$1" == "fake" ]]; then
    "fake_$2"
else
    # shellcheck source=devstack/plugin.sh
    source "$NOVA_MIGTUNER_DIR/devstack/plugin.sh" "$@"
fi
