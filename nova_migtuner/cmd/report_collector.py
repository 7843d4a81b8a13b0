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

"""``nova-migtuner report-collector``: store measured migration reports.

Listens for ``migtuner.live_migration.end`` notifications on the
notification bus named in the given nova.conf and stores them in a SQLite
database that ``openstack migtuner report`` reads.
"""

import os
import signal
import sys
import threading

from oslo_log import log as logging

from nova_migtuner.cmd import argtypes
from nova_migtuner.conf import cli as cli_conf
from nova_migtuner.reports import collector
from nova_migtuner.reports import metrics as metrics_mod
from nova_migtuner.reports import store as store_mod

LOG = logging.getLogger(__name__)

DEFAULT_KEEP_DAYS = 365
DEFAULT_KEEP_ROWS = 100000
DEFAULT_PRUNE_INTERVAL_S = 3600


def add_parser(subparsers):
    p = subparsers.add_parser(
        'report-collector',
        help='store migtuner.live_migration.end notifications in SQLite',
        description='Listen for migtuner.live_migration.end notifications '
                    '(nova [notifications] notification_format = versioned '
                    'or both) and store the measured reports in a SQLite '
                    'database for "openstack migtuner report". Runs until '
                    'SIGTERM or Ctrl-C.')
    p.add_argument('--config-file', action='append', default=[],
                   help='configuration with the notification transport '
                        '([oslo_messaging_notifications] transport_url or '
                        '[DEFAULT] transport_url), e.g. /etc/nova/nova.conf; '
                        'repeatable; required (the collector never guesses '
                        'a local RabbitMQ)')
    p.add_argument('--database', default=store_mod.default_path(),
                   help='SQLite database to store reports in (default: '
                        '$%s or %%(default)s)' % store_mod.ENV_DATABASE)
    p.add_argument('--topic', action='append', default=None,
                   help='notification topic to listen on; repeatable '
                        '(default: %s, nova\'s [notifications] '
                        'versioned_notifications_topics)'
                        % ', '.join(collector.DEFAULT_TOPICS))
    p.add_argument('--pool', default=collector.DEFAULT_POOL,
                   help='listener pool name, so the collector gets its own '
                        'copy of each notification (default: %(default)s)')
    p.add_argument('--metrics-port', type=argtypes.port, default=None,
                   metavar='PORT',
                   help='serve Prometheus metrics of the stored migrations '
                        '(downtime, total time and bytes histograms, '
                        'outcome and escalation counters, prediction '
                        'error, rejected notifications) on http://ADDRESS:'
                        'PORT/metrics; 1-65535 (default: no metrics). See '
                        'also --metrics-address')
    p.add_argument('--metrics-address', default='0.0.0.0',
                   help='address the metrics endpoint listens on, e.g. '
                        '127.0.0.1 to reach it from this host only '
                        '(default: %(default)s, all addresses); only with '
                        '--metrics-port')
    p.add_argument('--keep-days', type=argtypes.non_negative_float,
                   default=DEFAULT_KEEP_DAYS, metavar='DAYS',
                   help='delete stored reports older than DAYS days; 0 '
                        'keeps them (default: %(default)s). See also '
                        '--keep-rows and --prune-interval')
    p.add_argument('--keep-rows', type=argtypes.non_negative_int,
                   default=DEFAULT_KEEP_ROWS, metavar='ROWS',
                   help='keep at most the newest ROWS stored reports; 0: no '
                        'limit (default: %(default)s)')
    p.add_argument('--prune-interval', type=argtypes.seconds,
                   default=DEFAULT_PRUNE_INTERVAL_S, metavar='SECONDS',
                   help='apply --keep-days and --keep-rows at start and '
                        'then every SECONDS, more than 0 (default: '
                        '%(default)s)')
    p.add_argument('--debug', action='store_true',
                   help='log debug messages')
    p.set_defaults(func=run)
    return p


def _load_conf(config_files, debug):
    def register(conf):
        logging.register_options(conf)
        collector.register_transport_opts(conf)

    conf = cli_conf.load_config(config_files, register=register)
    conf.set_override('debug', debug)
    logging.setup(conf, 'nova-migtuner-report-collector')
    return conf


def _fail(message):
    """One line on stderr, exit status 1: no traceback for an admin."""
    sys.stderr.write('nova-migtuner report-collector: %s\n' % message)
    return 1


def run(args, parser):
    if not args.config_file:
        return _fail('no --config-file: give the nova.conf whose '
                     '[oslo_messaging_notifications] transport_url or '
                     '[DEFAULT] transport_url names the notification bus, '
                     'e.g. --config-file /etc/nova/nova.conf')
    for path in args.config_file:
        if not os.access(path, os.R_OK):
            return _fail('cannot read configuration file %s' % path)
    try:
        conf = _load_conf(args.config_file, args.debug)
        url, where = collector.transport_url(conf)
    except cli_conf.ConfigError as e:
        return _fail(str(e))
    if not url:
        # oslo.messaging would otherwise try RabbitMQ on localhost.
        return _fail('no notification transport URL in %s: set '
                     '[oslo_messaging_notifications] transport_url or '
                     '[DEFAULT] transport_url (the one nova-compute '
                     'notifies on)' % ', '.join(args.config_file))
    try:
        report_store = store_mod.ReportStore(args.database)
    except store_mod.ReportStoreError as e:
        return _fail(str(e))
    try:
        retention = collector.Retention(days=args.keep_days,
                                        rows=args.keep_rows,
                                        interval_s=args.prune_interval)
    except ValueError as e:
        return _fail(str(e))
    metrics = server = None
    if args.metrics_port is not None:
        metrics = metrics_mod.CollectorMetrics()
        try:
            server = metrics.serve(args.metrics_port, args.metrics_address)
        except OSError as e:
            return _fail('cannot serve metrics on %s:%d: %s' % (
                args.metrics_address, args.metrics_port,
                e.strerror or e))
        LOG.info('Serving Prometheus metrics on http://%(addr)s:%(port)d/'
                 'metrics', {'addr': args.metrics_address,
                             'port': server.server_port})
    stop = threading.Event()

    def request_stop(signum, frame):
        LOG.info('%(signal)s received; stopping the collector',
                 {'signal': signal.Signals(signum).name})
        stop.set()
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    LOG.info('Connecting to %(url)s (%(where)s in %(files)s)',
             {'url': collector.describe_url(conf, url), 'where': where,
              'files': ', '.join(args.config_file)})
    try:
        endpoint = collector.listen(
            conf, report_store, stop_event=stop,
            topics=tuple(args.topic or collector.DEFAULT_TOPICS),
            pool=args.pool, url=url, retention=retention, metrics=metrics)
    except Exception as e:    # transport errors: one line, not a traceback
        LOG.error('Report collector failed: %s', e)
        return 1
    finally:
        if server is not None:
            server.shutdown()
    LOG.info('Stored %(stored)d reports (%(dup)d duplicates, %(bad)d '
             'rejected, %(failed)d requeued)',
             {'stored': endpoint.stored, 'dup': endpoint.duplicates,
              'bad': endpoint.rejected, 'failed': endpoint.failed})
    return 0
