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
# and configures nova:
#
#   stack install      install nova_migtuner into DevStack's Python (upper
#                      constraints apply) and check that nova can load it
#   stack post-config  nova.conf: compute_driver (compute hosts), [migtuner],
#                      [notifications], scheduler filter and weigher
#                      (scheduler hosts); nova-cpu.conf is copied from
#                      nova.conf when nova-compute starts, after this phase
#   stack extra        check what nova-compute runs with; sample config
#   stack test-config  tempest.conf [nova_migtuner]; the Tempest plugin
#   unstack            put back the nova.conf/nova-cpu.conf/tempest.conf
#                      values post-config and test-config changed
#   clean              uninstall the package, remove what the plugin created
#
# Variables (defaults in devstack/settings) can be set in local.conf.
#
# Functions and variables of DevStack used here (functions-common,
# inc/ini-config, inc/python, lib/nova, lib/tempest) are defined outside
# this file, hence the SC2154 exception below.
# shellcheck disable=SC2154

# Value recorded for an option that a file did not have before the plugin
# set it; unstack deletes such options again.
_MIGTUNER_ABSENT='<absent>'
_MIGTUNER_SAVED_ABSENT_SECTION='nova-migtuner-absent'

# Python of DevStack's environment (the global venv on current DevStack).
function _migtuner_python {
    if [[ -n "${PIP_VIRTUAL_ENV:-}" && -x "$PIP_VIRTUAL_ENV/bin/python3" ]]; then
        echo "$PIP_VIRTUAL_ENV/bin/python3"
    else
        echo "${PYTHON:-python3}"
    fi
}

function _migtuner_check {
    "$(_migtuner_python)" "$NOVA_MIGTUNER_DIR/devstack/migtuner_check.py" "$@"
}

# Where the values a file had before the plugin changed it are kept.
function _migtuner_saved_file {
    echo "$NOVA_MIGTUNER_STATE_DIR/$(basename "$1").saved"
}

# _migtuner_copy_option FROM TO SECTION OPTION
# Copy an option, single- or multi-valued, from one INI file to another.
function _migtuner_copy_option {
    local from=$1 to=$2 section=$3 option=$4
    local count
    count=$(sed -ne "/^\[$section\]/,/^\[.*\]/ { /^${option}[ \t]*=/ p; }" "$from" | wc -l)
    if [[ "$count" -gt 1 ]]; then
        # shellcheck disable=SC2046
        iniset_multiline "$to" "$section" "$option" \
            $(iniget_multiline "$from" "$section" "$option")
    else
        iniset "$to" "$section" "$option" "$(iniget "$from" "$section" "$option")"
    fi
}

# _migtuner_set FILE SECTION OPTION VALUE...
# Set an option (several values: a multi-valued option) and remember, once,
# the value FILE had before, so that unstack can put it back.
function _migtuner_set {
    local file=$1 section=$2 option=$3
    shift 3
    local saved
    saved=$(_migtuner_saved_file "$file")
    mkdir -p "$NOVA_MIGTUNER_STATE_DIR"
    touch "$saved"
    if ! ini_has_option "$saved" "$section" "$option" && \
            ! ini_has_option "$saved" "$_MIGTUNER_SAVED_ABSENT_SECTION" \
                "$section:$option"; then
        if ini_has_option "$file" "$section" "$option"; then
            _migtuner_copy_option "$file" "$saved" "$section" "$option"
        else
            iniset "$saved" "$_MIGTUNER_SAVED_ABSENT_SECTION" \
                "$section:$option" "$_MIGTUNER_ABSENT"
        fi
    fi
    if [[ $# -gt 1 ]]; then
        iniset_multiline "$file" "$section" "$option" "$@"
    else
        iniset "$file" "$section" "$option" "$1"
    fi
}

# _migtuner_restore FILE [SAVED_FILE]
# Put back every option _migtuner_set changed in FILE, from SAVED_FILE
# (default: FILE's own record).
function _migtuner_restore {
    local file=$1
    local saved=${2:-$(_migtuner_saved_file "$1")}
    local section option key
    [[ -f "$file" && -f "$saved" ]] || return 0
    for section in $(iniget_sections "$saved"); do
        if [[ "$section" == "$_MIGTUNER_SAVED_ABSENT_SECTION" ]]; then
            for key in $(_migtuner_options "$saved" "$section"); do
                inidelete "$file" "${key%%:*}" "${key#*:}"
            done
            continue
        fi
        for option in $(_migtuner_options "$saved" "$section"); do
            _migtuner_copy_option "$saved" "$file" "$section" "$option"
        done
    done
}

# Names of the options set in a section of an INI file, once each.
function _migtuner_options {
    sed -ne "/^\[$2\]/,/^\[.*\]/ s/^\([^#[ \t][^= \t]*\)[ \t]*=.*/\1/p" "$1" \
        | sort -u
}

# Remove a section, header and options, from an INI file.
function _migtuner_remove_section {
    [[ -f "$1" ]] || return 0
    sed -i -e "/^\[$2\]/,/^\[.*\]/ { /^\[$2\]/d; /^\[.*\]/!d; }" "$1"
}

# Append VALUE to a comma-separated list option unless it is there already.
function _migtuner_append_to_list {
    local file=$1 section=$2 option=$3 value=$4 current=$5
    if [[ ",$current," == *",$value,"* ]]; then
        return 0
    fi
    _migtuner_set "$file" "$section" "$option" "${current:+$current,}$value"
}

# stack install: the package, where any nova service runs (controller:
# API extra-spec validation, scheduler filter and weigher; computes: the
# driver), and the check that nova can load the driver.
function install_nova_migtuner {
    if [[ "$NOVA_MIGTUNER_CHECK_NOVA_VERSION" == "True" ]]; then
        _migtuner_check nova-version "$NOVA_MIGTUNER_DIR/requirements.txt" \
            || die $LINENO "nova-migtuner does not support this nova"
    fi
    setup_develop "$NOVA_MIGTUNER_DIR"
    if is_service_enabled n-cpu && [[ "${VIRT_DRIVER:-libvirt}" == "libvirt" ]]; then
        _migtuner_check driver "$MIGTUNER_COMPUTE_DRIVER" \
            || die $LINENO "nova cannot load compute_driver = $MIGTUNER_COMPUTE_DRIVER"
    fi
}

# stack post-config: nova.conf. nova-compute reads nova-cpu.conf, which
# DevStack copies from nova.conf when it starts nova-compute (after this
# phase; local.conf [[post-config|$NOVA_CPU_CONF]] is merged after the
# copy and still wins), so nova.conf is the file where the settings last.
function configure_nova_migtuner {
    local opt var value
    if [[ ! -f "$NOVA_CONF" ]]; then
        die $LINENO "$NOVA_CONF does not exist: is nova enabled?"
    fi

    if is_service_enabled n-cpu; then
        if [[ "${VIRT_DRIVER:-libvirt}" == "libvirt" ]]; then
            _migtuner_set "$NOVA_CONF" DEFAULT compute_driver "$MIGTUNER_COMPUTE_DRIVER"
        else
            warn $LINENO "VIRT_DRIVER=$VIRT_DRIVER: nova-migtuner tunes libvirt only, compute_driver left alone"
        fi
    fi

    for opt in $MIGTUNER_OPTIONS; do
        var="MIGTUNER_${opt^^}"
        if [[ -z "${!var+set}" ]]; then
            die $LINENO "$var is not set (devstack/settings lists [migtuner] $opt)"
        fi
        # An empty variable leaves the option at its default.
        if [[ -n "${!var}" ]]; then
            _migtuner_set "$NOVA_CONF" migtuner "$opt" "${!var}"
        fi
    done

    _migtuner_set "$NOVA_CONF" notifications notification_format \
        "$MIGTUNER_NOTIFICATION_FORMAT"
    # Without a notifier driver the notifications never leave the host
    # (DevStack's lib/nova sets messagingv2; a hand-written nova.conf may
    # not): set it only where none is set.
    if [[ -z "$(iniget "$NOVA_CONF" oslo_messaging_notifications driver)" ]]; then
        _migtuner_set "$NOVA_CONF" oslo_messaging_notifications driver \
            "$MIGTUNER_NOTIFICATION_DRIVER"
    fi

    if [[ "$MIGTUNER_ENABLE_SCHEDULER" == "True" ]] && is_service_enabled n-sch; then
        _configure_nova_migtuner_scheduler
    fi

    _migtuner_check validate "$NOVA_CONF" \
        || die $LINENO "invalid nova-migtuner settings in $NOVA_CONF (see above)"
}

function _configure_nova_migtuner_scheduler {
    local filters value
    # available_filters is multi-valued: keep what is there (nova's default
    # all_filters when nothing is) and add the class path.
    filters=$(iniget_multiline "$NOVA_CONF" filter_scheduler available_filters)
    filters=${filters:-nova.scheduler.filters.all_filters}
    if [[ " $filters " != *" $MIGTUNER_SCHEDULER_FILTER "* ]]; then
        # shellcheck disable=SC2086
        _migtuner_set "$NOVA_CONF" filter_scheduler available_filters \
            $filters "$MIGTUNER_SCHEDULER_FILTER"
    fi

    # enabled_filters names classes; lib/nova wrote NOVA_FILTERS there.
    value=$(iniget "$NOVA_CONF" filter_scheduler enabled_filters)
    value=${value:-${NOVA_FILTERS:-}}
    if [[ -z "$value" ]]; then
        die $LINENO "no [filter_scheduler] enabled_filters in $NOVA_CONF and NOVA_FILTERS is empty"
    fi
    _migtuner_append_to_list "$NOVA_CONF" filter_scheduler enabled_filters \
        "${MIGTUNER_SCHEDULER_FILTER##*.}" "$value"

    # weight_classes replaces nova's default list: keep all_weighers.
    value=$(iniget "$NOVA_CONF" filter_scheduler weight_classes)
    value=${value:-nova.scheduler.weights.all_weighers}
    _migtuner_append_to_list "$NOVA_CONF" filter_scheduler weight_classes \
        "$MIGTUNER_SCHEDULER_WEIGHER" "$value"
}

# stack extra: nova-compute has started with nova-cpu.conf; say so when a
# later change (local.conf post-config of $NOVA_CPU_CONF) replaced the
# driver, and leave a sample of the options next to nova.conf.
function init_nova_migtuner {
    local driver
    if is_service_enabled n-cpu && [[ "${VIRT_DRIVER:-libvirt}" == "libvirt" && -f "$NOVA_CPU_CONF" ]]; then
        driver=$(iniget "$NOVA_CPU_CONF" DEFAULT compute_driver)
        if [[ "$driver" != "$MIGTUNER_COMPUTE_DRIVER" ]]; then
            warn $LINENO "nova-compute runs compute_driver = $driver from $NOVA_CPU_CONF, not $MIGTUNER_COMPUTE_DRIVER: live migrations are not tuned"
        fi
    fi
    mkdir -p "$NOVA_MIGTUNER_STATE_DIR"
    "$(_migtuner_python)" -m oslo_config.generator --namespace nova_migtuner \
        --wrap-width 79 --output-file "$NOVA_MIGTUNER_STATE_DIR/nova_migtuner.conf.sample" \
        || die $LINENO "could not generate the nova_migtuner sample config"
    echo "nova-migtuner: sample configuration in $NOVA_MIGTUNER_STATE_DIR/nova_migtuner.conf.sample"
}

# stack test-config: tempest.conf and the Tempest plugin.
function configure_tempest_nova_migtuner {
    local value cli
    if [[ "$MIGTUNER_TEMPEST_INSTALL_PLUGIN" == "True" && -d "${TEMPEST_DIR:-}" ]]; then
        # The Tempest plugin needs only tempest; --no-deps keeps nova and
        # the rest of requirements.txt out of Tempest's venv.
        (cd "$TEMPEST_DIR" && tox -evenv-tempest -- pip install --no-deps "$NOVA_MIGTUNER_DIR") \
            || die $LINENO "could not install the nova-migtuner Tempest plugin"
    fi
    # The operator CLI, where DevStack installed it (the global venv's bin
    # directory is not always on Tempest's PATH).
    cli="$("$(_migtuner_python)" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/nova-migtuner"
    _migtuner_set "$TEMPEST_CONFIG" service_available nova_migtuner True
    if [[ -x "$cli" ]]; then
        _migtuner_set "$TEMPEST_CONFIG" nova_migtuner cli_available True
        _migtuner_set "$TEMPEST_CONFIG" nova_migtuner cli_command "$cli"
    else
        _migtuner_set "$TEMPEST_CONFIG" nova_migtuner cli_available False
    fi
    _migtuner_set "$TEMPEST_CONFIG" nova_migtuner expected_strategy \
        "$MIGTUNER_TEMPEST_EXPECTED_STRATEGY"
    _migtuner_set "$TEMPEST_CONFIG" nova_migtuner max_downtime_ms \
        "$MIGTUNER_TEMPEST_MAX_DOWNTIME_MS"
    _migtuner_set "$TEMPEST_CONFIG" nova_migtuner busy_migration_budget \
        "$MIGTUNER_TEMPEST_BUSY_MIGRATION_BUDGET"
    _migtuner_set "$TEMPEST_CONFIG" nova_migtuner busy_dirty_mib \
        "$MIGTUNER_TEMPEST_BUSY_DIRTY_MIB"
    _migtuner_set "$TEMPEST_CONFIG" nova_migtuner max_unreachable_s \
        "$MIGTUNER_TEMPEST_MAX_UNREACHABLE_S"
    # Tempest's own list of the scheduler's filters ("all" needs nothing).
    value=$(iniget "$TEMPEST_CONFIG" compute-feature-enabled scheduler_enabled_filters)
    if [[ "$MIGTUNER_ENABLE_SCHEDULER" == "True" && -n "$value" && "$value" != "all" ]]; then
        _migtuner_append_to_list "$TEMPEST_CONFIG" compute-feature-enabled \
            scheduler_enabled_filters "${MIGTUNER_SCHEDULER_FILTER##*.}" "$value"
    fi
}

# unstack: the configuration as it was before post-config and test-config.
# nova-cpu.conf is a copy of nova.conf, so nova.conf's record applies.
function unstack_nova_migtuner {
    _migtuner_restore "$NOVA_CONF"
    _migtuner_restore "$NOVA_CPU_CONF" "$(_migtuner_saved_file "$NOVA_CONF")"
    _migtuner_remove_section "$NOVA_CONF" migtuner
    _migtuner_remove_section "$NOVA_CPU_CONF" migtuner
    if [[ -n "${TEMPEST_CONFIG:-}" ]]; then
        _migtuner_restore "$TEMPEST_CONFIG"
        _migtuner_remove_section "$TEMPEST_CONFIG" nova_migtuner
        rm -f "$(_migtuner_saved_file "$TEMPEST_CONFIG")"
    fi
    rm -f "$(_migtuner_saved_file "$NOVA_CONF")"
}

# clean: the package and everything the plugin created.
function cleanup_nova_migtuner {
    pip_uninstall nova-migtuner
    rm -rf "$NOVA_MIGTUNER_STATE_DIR"
}

if [[ "$1" == "stack" && "$2" == "install" ]]; then
    if is_service_enabled nova; then
        echo_summary "Installing nova-migtuner"
        install_nova_migtuner
    fi
elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
    if is_service_enabled nova; then
        echo_summary "Configuring nova for nova-migtuner"
        configure_nova_migtuner
    fi
elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
    if is_service_enabled nova; then
        echo_summary "Checking nova-migtuner"
        init_nova_migtuner
    fi
elif [[ "$1" == "stack" && "$2" == "test-config" ]]; then
    if is_service_enabled tempest; then
        echo_summary "Configuring Tempest for nova-migtuner"
        configure_tempest_nova_migtuner
    fi
fi

if [[ "$1" == "unstack" ]]; then
    unstack_nova_migtuner
fi

if [[ "$1" == "clean" ]]; then
    cleanup_nova_migtuner
fi
