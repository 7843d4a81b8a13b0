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

"""Options, formatting and helpers shared by the migtuner commands."""

import argparse
import os
import time

from cliff import columns
from osc_lib import exceptions
from oslo_config import cfg

from nova_migtuner.cmd import argtypes
from nova_migtuner.osc import drain as drain_mod
from nova_migtuner.osc import planning
from nova_migtuner.reports import store as store_mod

ENV_CONFIG_FILE = 'MIGTUNER_CONFIG_FILE'
ENV_SECRET = 'MIGTUNER_OPERATOR_SECRET'
ENV_SECRET_FILE = 'MIGTUNER_OPERATOR_SECRET_FILE'


class LocalChecksFirst:
    """Commands that check their input before contacting the cloud.

    osc authenticates (asks keystone for a token) before it even parses a
    command's arguments when the command has ``auth_required``; a typo such
    as an unknown ``--strategy`` would then wait for keystone, or fail on
    an unrelated credentials problem. These commands say they need no
    authentication, check what can be checked locally, and then call
    ``authenticate()``, which does what osc would have done first.
    """

    auth_required = False

    def authenticate(self):
        """Authenticate as osc does before an ``auth_required`` command."""
        prepare = getattr(self.app, 'prepare_to_run_command', None)
        if prepare is None:      # an app without osc's shell (tests)
            return
        self.auth_required = True
        prepare(self)


class LinesColumn(columns.FormattableColumn):
    """A list of lines: one per line in a table, a real list in JSON."""

    def human_readable(self):
        return '\n'.join(str(v) for v in self._value)

    def machine_readable(self):
        return [v for v in self._value]


class ListColumn(LinesColumn):
    """A short list (flags): comma-separated in a table, a list in JSON."""

    def human_readable(self):
        return ', '.join(str(v) for v in self._value) or '-'


class OptionalColumn(columns.FormattableColumn):
    """A number or text that may be absent: null in JSON, *absent* ('-'
    unless the column says what absence means) in a table.
    """

    def __init__(self, value, absent='-'):
        super().__init__(value)
        self.absent = absent

    def human_readable(self):
        return self.absent if self._value is None else str(self._value)

    def machine_readable(self):
        return self._value


optional = OptionalColumn


def rounded(value, digits=1):
    return None if value is None else round(float(value), digits)


def megabytes(nbytes):
    """Bytes as MB (10**6 bytes), one decimal; None stays None."""
    return None if nbytes is None else round(nbytes / 1e6, 1)


def show_one(rows):
    """(columns, values) of a ShowOne from (column, value) pairs."""
    return tuple(k for k, _ in rows), tuple(v for _, v in rows)


def add_config_option(parser):
    default = os.environ.get(ENV_CONFIG_FILE)
    parser.add_argument(
        '--config-file', metavar='<path>', action='append',
        default=[default] if default else [],
        help='nova.conf to read [migtuner] (and [libvirt] '
             'live_migration_permit_post_copy, live_migration_bandwidth and '
             'live_migration_permit_auto_converge) from, as the computes do; '
             'repeatable (default: $%s, else the option defaults)'
             % ENV_CONFIG_FILE)


def add_report_db_option(parser):
    parser.add_argument(
        '--report-db', metavar='<path>', default=store_mod.default_path(),
        help='SQLite database written by "nova-migtuner report-collector" '
             '(default: $%s or %s)' % (store_mod.ENV_DATABASE,
                                       store_mod.default_path()))


# Far above any compute's max_concurrent_live_migrations.
MAX_COUNT = 1000


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError('%r is not a whole number' % text)
    if value < 1:
        raise argparse.ArgumentTypeError('%r must be at least 1' % text)
    if value > MAX_COUNT:
        raise argparse.ArgumentTypeError('%r must be at most %d'
                                         % (text, MAX_COUNT))
    return value


# Durations such as 30s or 5min; negative ones are refused.
seconds = argtypes.seconds
# Intervals between polls: zero would poll the API in a busy loop.
positive_seconds = argtypes.positive_seconds


# nova's [libvirt] permission that ``planning.load_config`` does not
# register: without it the CLI would plan auto-converge where the compute,
# with nova's default (False), does not.
NOVA_PERMIT_AUTO_CONVERGE = cfg.BoolOpt('live_migration_permit_auto_converge',
                                        default=False)


def with_nova_auto_converge(conf):
    """Register nova's ``live_migration_permit_auto_converge`` on *conf*
    (already parsed: oslo.config reads the files' value when asked).
    """
    try:
        conf.register_opt(NOVA_PERMIT_AUTO_CONVERGE, group='libvirt')
    except cfg.DuplicateOptError:     # registered by the loader itself
        pass
    return conf


def load_settings(parsed_args):
    try:
        conf = with_nova_auto_converge(
            planning.load_config(parsed_args.config_file))
        return planning.settings_from_config(conf,
                                             parsed_args.config_file)
    except (planning.PlanningError, ValueError) as e:
        raise exceptions.CommandError(str(e))


def open_store(path):
    """The report store if its database exists, else None."""
    if not path or not os.path.exists(path):
        return None
    try:
        return store_mod.ReportStore(path, create=False)
    except store_mod.ReportStoreError:
        return None


def reports_for(store, server_id):
    if store is None:
        return ()
    return store.reports(instance_uuid=server_id)


def wait_for_report(store, server_id, migration_uuid, started_at, timeout,
                    sleep=time.sleep, clock=time.monotonic):
    """The stored ``.end`` report of this migration, waiting up to
    *timeout* s for the collector to store it; None if none came.
    """
    if store is None:
        return None
    deadline = clock() + timeout
    while True:
        for report in reversed(store.reports(instance_uuid=server_id)):
            if migration_uuid and report.migration_uuid == migration_uuid:
                return report
            emitted = report.emitted_at or report.received_at
            if not report.migration_uuid and emitted >= started_at - 5:
                return report
        if clock() >= deadline:
            return None
        sleep(0.5)


def result_with_report(result, report):
    """Merge the measured report into a drain ``MigrationResult``."""
    if report is None:
        return result
    return drain_mod.MigrationResult(
        completed=result.completed, destination=result.destination,
        error=result.error, total_seconds=report.total_time_s,
        downtime_ms=report.downtime_ms, data_bytes=report.data_bytes,
        measured=True)
