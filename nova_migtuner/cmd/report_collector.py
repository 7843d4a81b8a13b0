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

from nova_migtuner.conf import cli as cli_conf
from nova_migtuner.reports import collector
from nova_migtuner.reports import store as store_mod

LOG = logging.getLogger(__name__)


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
            pool=args.pool, url=url)
    except Exception as e:    # transport errors: one line, not a traceback
        LOG.error('Report collector failed: %s', e)
        return 1
    LOG.info('Stored %(stored)d reports (%(dup)d duplicates, %(bad)d '
             'rejected, %(failed)d requeued)',
             {'stored': endpoint.stored, 'dup': endpoint.duplicates,
              'bad': endpoint.rejected, 'failed': endpoint.failed})
    return 0
