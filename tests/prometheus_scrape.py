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

"""Scrape a Prometheus endpoint as the tests read it."""

import urllib.request

from prometheus_client import parser


def scrape(port, host='127.0.0.1'):
    """``(text, {(sample name, sorted label items): value})`` of the
    ``/metrics`` page at *host*:*port*, parsed with prometheus_client's own
    parser.
    """
    with urllib.request.urlopen('http://%s:%d/metrics' % (host, port),
                                timeout=10) as response:
        text = response.read().decode('utf-8')
    samples = {}
    for family in parser.text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            samples[key] = sample.value
    return text, samples
