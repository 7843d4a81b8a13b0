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

"""Prometheus metrics of the migrations the report collector stores.

Every ``.end`` notification the collector stores for the first time is
observed once (a redelivered one is not): histograms of the measured
downtime, total time and bytes of completed migrations, counters of
outcomes and of escalation actions, and the prediction error. Labels are
the source and destination hosts, the flavor and the strategy; never the
instance (one series per instance would grow without bound).

``serve`` exposes them over HTTP with ``prometheus_client``.
"""

import prometheus_client

LABELS = ('source_host', 'destination_host', 'flavor', 'strategy')
UNKNOWN = 'unknown'

MIB = 2 ** 20
DOWNTIME_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0,
                      10.0, 30.0)
DURATION_BUCKETS_S = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800,
                      3600)
BYTES_BUCKETS = tuple(MIB * 2 ** n for n in range(7, 18))   # 128 MiB..128 GiB
# The prediction error as measured / predicted: 1 is exact, 2 took twice
# the prediction, 0.5 half. A ratio, not a difference: Prometheus histograms
# have no _sum with negative buckets, and the sum gives the mean.
RATIO_BUCKETS = (0.25, 0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0, 6.0)
# Prediction quantities: the .end field measured and the one predicted.
PREDICTIONS = {
    'total_time': ('total_time_s', 'predicted_total_s'),
    'bytes': ('data_bytes_transferred', 'predicted_bytes'),
}


def _label(value):
    return str(value) if value not in (None, '') else UNKNOWN


class CollectorMetrics:
    """The collector's metrics, in a registry of their own."""

    def __init__(self, registry=None):
        self.registry = registry or prometheus_client.CollectorRegistry()
        r = self.registry
        self.downtime = prometheus_client.Histogram(
            'migtuner_migration_downtime_seconds',
            'Measured downtime of completed live migrations (libvirt '
            'downtime: paused on the source to running on the destination)',
            LABELS, buckets=DOWNTIME_BUCKETS_S, registry=r)
        self.duration = prometheus_client.Histogram(
            'migtuner_migration_duration_seconds',
            'Total time of completed live migrations',
            LABELS, buckets=DURATION_BUCKETS_S, registry=r)
        self.transferred = prometheus_client.Histogram(
            'migtuner_migration_transferred_bytes',
            'Bytes sent by completed live migrations (memory and disks)',
            LABELS, buckets=BYTES_BUCKETS, registry=r)
        self.outcomes = prometheus_client.Counter(
            'migtuner_migrations',
            'Live migrations reported, by outcome',
            LABELS + ('outcome',), registry=r)
        self.escalations = prometheus_client.Counter(
            'migtuner_escalations',
            'Escalation actions of live migrations, by action; applied is '
            'false when libvirt refused it',
            LABELS + ('action', 'applied'), registry=r)
        self.prediction = prometheus_client.Histogram(
            'migtuner_migration_prediction_ratio',
            'Prediction error of completed tuned migrations: measured / '
            'predicted (1 is exact); quantity is total_time or bytes',
            LABELS + ('quantity',), buckets=RATIO_BUCKETS, registry=r)
        self.rejected = prometheus_client.Counter(
            'migtuner_report_collector_rejected_notifications',
            'Notifications dropped because their payload does not match '
            'the schema', registry=r)
        self.pruned = prometheus_client.Counter(
            'migtuner_report_collector_pruned_reports',
            'Stored reports deleted by retention', registry=r)

    def observe(self, payload):
        """Count one stored ``.end`` payload (the flat, checked form)."""
        labels = tuple(_label(payload.get(name)) for name in (
            'source_host', 'destination_host', 'flavor_name', 'strategy'))
        self.outcomes.labels(*labels, _label(payload.get('outcome'))).inc()
        for action in payload.get('escalations') or ():
            self.escalations.labels(
                *labels, _label(action.get('action')),
                'true' if action.get('applied') else 'false').inc()
        if payload.get('outcome') != 'completed':
            return
        if payload.get('downtime_ms') is not None:
            self.downtime.labels(*labels).observe(
                payload['downtime_ms'] / 1000.0)
        if payload.get('total_time_s') is not None:
            self.duration.labels(*labels).observe(payload['total_time_s'])
        if payload.get('data_bytes_transferred') is not None:
            self.transferred.labels(*labels).observe(
                payload['data_bytes_transferred'])
        for quantity, (measured, predicted) in PREDICTIONS.items():
            got, expected = payload.get(measured), payload.get(predicted)
            if got is not None and expected:
                self.prediction.labels(*labels, quantity).observe(
                    got / float(expected))

    def serve(self, port, address='0.0.0.0'):
        """Serve ``/metrics`` on *address*:*port* in a daemon thread;
        returns the HTTP server (``shutdown()`` stops it).
        """
        server, _ = prometheus_client.start_http_server(
            port, addr=address, registry=self.registry)
        return server
