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

"""``nova-migtuner report-collector`` as an admin runs it: a real process.

The bus is a RabbitMQ URL where nothing listens, so oslo.messaging keeps
retrying the connection: the collector must still stop within seconds on
SIGTERM and SIGINT, and every mistake in its arguments is one line.
"""

import os
import signal
import subprocess
import sys
import time

import pytest

from nova_migtuner.cmd import cli
from nova_migtuner.reports import store as store_mod


UNREACHABLE = 'rabbit://guest:secretpw@127.0.0.1:1/'
STARTED = 'Collecting migtuner.live_migration.end'


def command(tmp_path, *argv):
    return [sys.executable, '-m', 'nova_migtuner.cmd.cli',
            'report-collector'] + list(argv)


def nova_conf(tmp_path, text='[DEFAULT]\ntransport_url = %s\n'
              % UNREACHABLE):
    path = tmp_path / 'nova.conf'
    path.write_text(text)
    return str(path)


def run(tmp_path, *argv):
    env = dict(os.environ)
    env.pop(store_mod.ENV_DATABASE, None)
    return subprocess.run(command(tmp_path, *argv), capture_output=True,
                          text=True, timeout=60, env=env)


def start(tmp_path):
    proc = subprocess.Popen(
        command(tmp_path, '--config-file', nova_conf(tmp_path),
                '--database', str(tmp_path / 'reports.sqlite')),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if STARTED in line:
            return proc, lines
    proc.kill()
    pytest.fail('collector did not start: %s' % ''.join(lines))


@pytest.mark.parametrize('signum', [signal.SIGTERM, signal.SIGINT])
def test_stops_within_seconds_while_the_bus_is_unreachable(tmp_path,
                                                           signum):
    proc, lines = start(tmp_path)
    try:
        time.sleep(2)      # in oslo.messaging's connection retry loop
        sent = time.monotonic()
        proc.send_signal(signum)
        out, _ = proc.communicate(timeout=15)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = ''.join(lines) + out
    assert proc.returncode == 0, text
    assert took < 5, took
    assert 'Traceback' not in text
    assert '%s received' % signal.Signals(signum).name in text
    # Where it connects, without the password.
    assert 'Connecting to rabbit://guest@127.0.0.1:1/ ([DEFAULT] ' \
           'transport_url in' in text
    assert 'secretpw' not in text
    assert 'from exchange nova, topics versioned_notifications' in text


def test_without_a_config_file_it_does_not_try_localhost(tmp_path):
    proc = run(tmp_path, '--database', str(tmp_path / 'r.sqlite'))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith(
        'nova-migtuner report-collector: no --config-file')
    assert 'localhost' not in proc.stderr and 'Traceback' not in proc.stderr


def test_a_config_file_without_transport_url_is_refused(tmp_path):
    conf = nova_conf(tmp_path, '[DEFAULT]\ndebug = false\n')
    proc = run(tmp_path, '--config-file', conf,
               '--database', str(tmp_path / 'r.sqlite'))
    assert proc.returncode == 1
    assert ('nova-migtuner report-collector: no notification transport '
            'URL in %s' % conf) in proc.stderr
    assert 'Traceback' not in proc.stderr


@pytest.mark.parametrize('database', [
    '/proc/nova-migtuner/reports.sqlite',     # directory cannot be made
    '/proc/version',                          # not a database
])
def test_an_unusable_database_is_one_line(tmp_path, database):
    proc = run(tmp_path, '--config-file', nova_conf(tmp_path),
               '--database', database)
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines()
             if 'nova-migtuner report-collector:' in line]
    assert len(lines) == 1, proc.stderr
    assert database in lines[0]
    assert 'Traceback' not in proc.stderr


def test_missing_config_file_is_one_line(tmp_path):
    proc = run(tmp_path, '--config-file', str(tmp_path / 'none.conf'),
               '--database', str(tmp_path / 'r.sqlite'))
    assert proc.returncode == 1
    assert 'cannot read configuration file' in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_listens_on_the_exchange_nova_publishes_on(tmp_path):
    # nova sets control_exchange = nova before reading nova.conf; the
    # oslo.messaging default ("openstack") receives nothing from nova.
    from nova_migtuner.cmd import report_collector
    conf = report_collector._load_conf([nova_conf(tmp_path)], False)
    assert conf.control_exchange == 'nova'
    conf = report_collector._load_conf([nova_conf(
        tmp_path, '[DEFAULT]\ncontrol_exchange = region1\n'
        'transport_url = %s\n' % UNREACHABLE)], False)
    assert conf.control_exchange == 'region1'


def test_report_collector_subcommand_plugs_into_the_cli():
    parser = cli.build_parser(only='report-collector')
    args = parser.parse_args(['report-collector', '--database', '/tmp/x',
                              '--topic', 't1', '--topic', 't2'])
    assert args.topic == ['t1', 't2']
    assert args.func.__module__ == 'nova_migtuner.cmd.report_collector'
