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

"""The collector's Prometheus metrics: notifications in, a real scrape out.

Notifications go through oslo.messaging's in-memory transport into the
collector's listener (the code that runs on RabbitMQ); the endpoint is
scraped over HTTP and read with prometheus_client's own parser.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

from oslo_config import cfg
import pytest

from nova_migtuner.reports import collector
from nova_migtuner.reports import metrics as metrics_mod
from nova_migtuner.reports import store as store_mod
from tests import prometheus_scrape
from tests.unit.reports import factories

END = collector.END_EVENT_TYPE
MIB = 2 ** 20
# The HTTP server's thread must be a real one.
pytestmark = pytest.mark.usefixtures('outside_eventlet')


def escalation(action, applied=True):
    return {'nova_object.name': 'MigTunerEscalationActionPayload',
            'nova_object.namespace': 'nova_migtuner',
            'nova_object.version': '1.0',
            'nova_object.data': {
                'action': action, 'downtime_ms': 300
                if action == 'raise_downtime' else None,
                'source': 'escalation', 'elapsed_s': 12.0,
                'reason': 'stalled', 'applied': applied,
                'error': None if applied else 'refused'}}


def labels(**extra):
    values = dict(source_host='compute1', destination_host='compute2',
                  flavor='small', strategy='balanced')
    values.update(extra)
    return tuple(sorted(values.items()))


def test_metrics_of_notifications_from_the_bus(report_store):
    conf = cfg.ConfigOpts()
    conf([])
    metrics = metrics_mod.CollectorMetrics()
    server = metrics.serve(0, '127.0.0.1')
    stop = threading.Event()
    result = {}
    thread = threading.Thread(target=lambda: result.update(
        endpoint=collector.listen(conf, report_store, stop_event=stop,
                                  url='fake:/', metrics=metrics)))
    thread.start()
    try:
        notifier = factories.fake_bus_notifier(conf)
        # 2.0 envelope: completed, one raise accepted and a refused
        # post-copy switch.
        new = factories.envelope(factories.end_payload(
            'u1', 2048, 20, 533, 443, flavor='small'))
        new['nova_object.data']['escalations'] = [
            escalation('raise_downtime'), escalation('post_copy', False)]
        # A 1.x flat payload of a computes not yet upgraded, and an
        # aborted one.
        old = factories.end_payload('u2', 2048, 40, 250, 900,
                                    flavor='small')
        aborted = factories.end_payload('u3', 2048, 99, 0, 100,
                                        outcome='aborted', flavor='small')
        bad = dict(old, instance_uuid='u4', downtime_ms={'ms': 1})
        for i, payload in enumerate((new, old, aborted, bad, new)):
            notifier.info({}, END, payload)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (
                len(report_store.reports()) < 4 or
                metrics.rejected._value.get() < 1):
            time.sleep(0.05)
        text, samples = prometheus_scrape.scrape(server.server_port)
    finally:
        stop.set()
        thread.join(30)
        server.shutdown()
    assert len(report_store.reports()) == 4
    # Counted once each; the redelivered envelope is a new message id, so
    # it is a new report (oslo.messaging gives every send an id).
    assert samples[('migtuner_migrations_total',
                    labels(outcome='completed'))] == 3
    assert samples[('migtuner_migrations_total',
                    labels(outcome='aborted'))] == 1
    assert samples[('migtuner_escalations_total',
                    labels(action='raise_downtime', applied='true'))] == 2
    assert samples[('migtuner_escalations_total',
                    labels(action='post_copy', applied='false'))] == 2
    assert samples[('migtuner_report_collector_rejected_notifications_total',
                    ())] == 1
    # Histograms: completed migrations only, in base units.
    assert samples[('migtuner_migration_downtime_seconds_count',
                    labels())] == 3
    assert samples[('migtuner_migration_downtime_seconds_sum',
                    labels())] == pytest.approx(0.533 * 2 + 0.250)
    assert samples[('migtuner_migration_downtime_seconds_bucket',
                    labels(le='0.3'))] == 1
    assert samples[('migtuner_migration_duration_seconds_sum',
                    labels())] == pytest.approx(20 + 20 + 40)
    assert samples[('migtuner_migration_transferred_bytes_sum',
                    labels())] == pytest.approx((443 * 2 + 900) * 1e6)
    # end_payload predicts 0.9 of the time and the bytes exactly.
    assert samples[('migtuner_migration_prediction_ratio_sum',
                    labels(quantity='total_time'))] == pytest.approx(
        3 / 0.9)
    assert samples[('migtuner_migration_prediction_ratio_sum',
                    labels(quantity='bytes'))] == pytest.approx(3)
    assert samples[('migtuner_migration_prediction_ratio_bucket',
                    labels(quantity='total_time', le='1.0'))] == 0
    assert samples[('migtuner_migration_prediction_ratio_bucket',
                    labels(quantity='total_time', le='1.25'))] == 3
    # No instance or migration ids in any label.
    for uuid in ('u1', 'u2', 'u3', 'm-u1'):
        assert '"%s"' % uuid not in text


def test_redelivered_notification_is_counted_once(report_store):
    metrics = metrics_mod.CollectorMetrics()
    endpoint = collector.ReportEndpoint(report_store, metrics=metrics)
    payload = factories.envelope(
        factories.end_payload('u1', 512, 19, 483, 456))
    for _ in range(2):
        endpoint.info({}, 'p', END, payload, {'message_id': 'same'})
    assert metrics.registry.get_sample_value(
        'migtuner_migrations_total',
        dict(labels(flavor='unknown', outcome='completed'))) == 1


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_report_collector_serves_metrics_on_its_port(tmp_path):
    port = _free_port()
    conf = tmp_path / 'nova.conf'
    conf.write_text('[DEFAULT]\ntransport_url = rabbit://guest:pw@'
                    '127.0.0.1:1/\n')
    env = dict(os.environ)
    env.pop(store_mod.ENV_DATABASE, None)
    proc = subprocess.Popen(
        [sys.executable, '-m', 'nova_migtuner.cmd.cli', 'report-collector',
         '--config-file', str(conf), '--database',
         str(tmp_path / 'r.sqlite'), '--metrics-port', str(port),
         '--metrics-address', '127.0.0.1'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=env)
    try:
        deadline = time.monotonic() + 60
        samples = None
        while samples is None and time.monotonic() < deadline:
            try:
                _, samples = prometheus_scrape.scrape(port)
            except OSError:
                time.sleep(0.2)
        assert samples is not None, 'no metrics endpoint on %d' % port
        assert samples[(
            'migtuner_report_collector_rejected_notifications_total',
            ())] == 0
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    assert 'Serving Prometheus metrics on http://127.0.0.1:%d/metrics' \
        % port in out
    assert 'Traceback' not in out


def test_a_busy_metrics_port_is_one_line(tmp_path):
    conf = tmp_path / 'nova.conf'
    conf.write_text('[DEFAULT]\ntransport_url = rabbit://guest:pw@'
                    '127.0.0.1:1/\n')
    with socket.socket() as busy:
        busy.bind(('127.0.0.1', 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, '-m', 'nova_migtuner.cmd.cli',
             'report-collector', '--config-file', str(conf), '--database',
             str(tmp_path / 'r.sqlite'), '--metrics-port', str(port),
             '--metrics-address', '127.0.0.1'],
            capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert ('cannot serve metrics on 127.0.0.1:%d' % port) in proc.stderr
    assert 'Traceback' not in proc.stderr


@pytest.mark.parametrize('argv,message', [
    (['--metrics-port', '0'], 'port \'0\' is outside 1..65535'),
    (['--metrics-port', 'http'], 'port \'http\' is not a number'),
    (['--keep-days', '-1'], '\'-1\' is not a finite number of 0 or more'),
    (['--keep-rows', '1.5'], '\'1.5\' is not a whole number'),
])
def test_bad_flags_name_the_value(argv, message):
    proc = subprocess.run(
        [sys.executable, '-m', 'nova_migtuner.cmd.cli', 'report-collector',
         '--config-file', '/dev/null'] + argv,
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert message in proc.stderr
