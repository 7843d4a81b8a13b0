#!/bin/bash
# shellcheck shell=bash
#
# The few DevStack functions devstack/plugin.sh and devstack/settings call,
# for running the plugin without DevStack (tests/devstack/run_phase.sh).
#
# The INI functions behave like DevStack's inc/ini-config (plain bash and
# sed, same file format: "option = value" lines under "[section]", multi-
# valued options as repeated lines). The package functions only record
# their arguments in $STUB_LOG, one call per line.

STUB_LOG=${STUB_LOG:-/dev/null}

function _stub_record {
    echo "$*" >> "$STUB_LOG"
}

# -- functions-common -----------------------------------------------------

function die {
    local line=$1
    shift
    echo "[ERROR] plugin.sh:$line $*" >&2
    exit 1
}

function warn {
    local line=$1
    shift
    echo "WARNING: plugin.sh:$line $*" >&2
    _stub_record "warn $*"
}

function echo_summary {
    echo "$@"
}

# trueorfalse DEFAULT VARNAME
function trueorfalse {
    local default=$1
    local value=${!2:-}
    case "$value" in
        1|yes|Yes|YES|true|True|TRUE) echo True ;;
        0|no|No|NO|false|False|FALSE) echo False ;;
        *) echo "$default" ;;
    esac
}

# is_service_enabled SERVICE...: true when any is in ENABLED_SERVICES;
# "nova" stands for any n-* service, as in DevStack.
function is_service_enabled {
    local service
    for service in "$@"; do
        if [[ ",${ENABLED_SERVICES:-}," == *",$service,"* ]]; then
            return 0
        fi
        if [[ "$service" == "nova" && ",${ENABLED_SERVICES:-}" == *",n-"* ]]; then
            return 0
        fi
    done
    return 1
}

function define_plugin {
    _stub_record "define_plugin $*"
}

# -- inc/python -----------------------------------------------------------
#
# With STUB_REAL_PIP=True they run pip of $PIP_VIRTUAL_ENV as DevStack's do
# (without the upper-constraints file, which needs a requirements checkout).

function _stub_pip {
    if [[ "${STUB_REAL_PIP:-False}" == "True" ]]; then
        "$PIP_VIRTUAL_ENV/bin/pip" --disable-pip-version-check "$@"
    fi
}

function setup_develop {
    _stub_record "setup_develop $*"
    _stub_pip install -e "$1"
}

function pip_install {
    _stub_record "pip_install $*"
    _stub_pip install "$@"
}

function pip_uninstall {
    _stub_record "pip_uninstall $*"
    # DevStack's does not fail when the package is not there.
    _stub_pip uninstall -y "$1" || true
}

# lib/tempest runs tox in $TEMPEST_DIR.
function tox {
    _stub_record "tox $* (in $PWD)"
}

# -- inc/ini-config -------------------------------------------------------

function ini_has_option {
    local file=$1 section=$2 option=$3
    [[ -f "$file" ]] || return 1
    [[ -n "$(sed -ne "/^\[$section\]/,/^\[.*\]/ { /^${option}[ \t]*=/ p; }" "$file")" ]]
}

function iniget {
    local file=$1 section=$2 option=$3 line
    [[ -f "$file" ]] || return 0
    line=$(sed -ne "/^\[$section\]/,/^\[.*\]/ { /^${option}[ \t]*=/ p; }" "$file")
    # unquoted on purpose, like DevStack: trims the blanks around the value
    # shellcheck disable=SC2086
    echo ${line#*=}
}

function iniget_multiline {
    local file=$1 section=$2 option=$3 values
    [[ -f "$file" ]] || return 0
    values=$(sed -ne "/^\[$section\]/,/^\[.*\]/ { s/^${option}[ \t]*=[ \t]*//gp; }" "$file")
    # shellcheck disable=SC2086
    echo ${values}
}

function iniget_sections {
    local file=$1 sections
    sections=$(sed -ne "s/^\[\(.*\)\]/\1/p" "$file")
    # one line, blank-separated, like DevStack
    # shellcheck disable=SC2086
    echo $sections
}

function _stub_add_section {
    local file=$1 section=$2
    if ! grep -q "^\[$section\]" "$file" 2>/dev/null; then
        echo -e "\n[$section]" >> "$file"
    fi
}

# Insert "option = value" right after the section header.
function _stub_add_line {
    local file=$1 section=$2 option=$3 value=$4
    sed -i -e "/^\[$section\]/ a\\
$option = $value
" "$file"
}

function iniset {
    local file=$1 section=$2 option=$3 value=$4 sep
    [[ -n "$section" && -n "$option" ]] || return 0
    _stub_add_section "$file" "$section"
    if ini_has_option "$file" "$section" "$option"; then
        sep=$(echo -ne "\x01")
        sed -i -e "/^\[$section\]/,/^\[.*\]/ s${sep}^\(${option}[ \t]*=[ \t]*\).*\$${sep}\1${value}${sep}" "$file"
    else
        _stub_add_line "$file" "$section" "$option" "$value"
    fi
}

function iniset_multiline {
    local file=$1 section=$2 option=$3 v reversed=""
    shift 3
    # each value goes right after the header: add them last to first
    for v in "$@"; do
        reversed="$v $reversed"
    done
    if grep -q "^\[$section\]" "$file" 2>/dev/null; then
        sed -i -e "/^\[$section\]/,/^\[.*\]/ { /^${option}[ \t]*=/ d; }" "$file"
    else
        _stub_add_section "$file" "$section"
    fi
    for v in $reversed; do
        _stub_add_line "$file" "$section" "$option" "$v"
    done
}

function inidelete {
    local file=$1 section=$2 option=$3
    [[ -n "$section" && -n "$option" && -f "$file" ]] || return 0
    sed -i -e "/^\[$section\]/,/^\[.*\]/ { /^${option}[ \t]*=/ d; }" "$file"
}

function inicomment {
    local file=$1 section=$2 option=$3
    sed -i -e "/^\[$section\]/,/^\[.*\]/ s|^\(${option}[ \t]*=.*$\)|#\1|" "$file"
}

function iniadd {
    local file=$1 section=$2 option=$3
    shift 3
    # shellcheck disable=SC2046
    iniset_multiline "$file" "$section" "$option" \
        $(iniget_multiline "$file" "$section" "$option") "$@"
}
