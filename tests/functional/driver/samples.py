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

"""Emitted notifications against ``doc/notification_samples/``.

As nova's ``notification_sample_tests`` do, every notification must match
its event's sample file; here in structure and version (the same keys at
every level, the same object names, namespaces and versions, values of the
same JSON type), not in values, which differ from run to run.
"""

import json
import os

from nova_migtuner.planning import notification_schema as notif

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))
SAMPLES_DIR = os.path.join(REPO_ROOT, 'doc', 'notification_samples')
ENVELOPE_KEYS = (notif.ENVELOPE_NAME, notif.ENVELOPE_NAMESPACE,
                 notif.ENVELOPE_VERSION)


def sample_file(event):
    """``doc/notification_samples/migtuner-live_migration-<event>.json``."""
    return os.path.join(SAMPLES_DIR, '%s.json'
                        % notif.event_type(event).replace('.', '-'))


def load_sample(event):
    with open(sample_file(event)) as f:
        return json.load(f)


def _json_type(value):
    if isinstance(value, bool):
        return 'boolean'
    if isinstance(value, (int, float)):
        # JSON has one number type; an integer field never holds a float.
        return 'integer' if isinstance(value, int) else 'number'
    return type(value).__name__


def _problems(sample, actual, where):
    if sample is None or actual is None:
        return []             # nullable: either may be null in a run
    if isinstance(sample, dict):
        if not isinstance(actual, dict):
            return ['%s: %r is not an object' % (where, actual)]
        problems = []
        for key in ENVELOPE_KEYS:
            if key in sample and sample[key] != actual.get(key):
                problems.append('%s: %s is %r, the sample says %r' % (
                    where, key, actual.get(key), sample[key]))
        if sorted(sample) != sorted(actual):
            problems.append('%s: keys differ: only in the sample %s, only '
                            'emitted %s' % (
                                where, sorted(set(sample) - set(actual)),
                                sorted(set(actual) - set(sample))))
        for key in sorted(set(sample) & set(actual)):
            if key not in ENVELOPE_KEYS:
                problems += _problems(sample[key], actual[key],
                                      '%s.%s' % (where, key))
        return problems
    if isinstance(sample, list):
        if not isinstance(actual, list):
            return ['%s: %r is not a list' % (where, actual)]
        if not sample:
            return []
        problems = []
        for i, item in enumerate(actual):
            problems += _problems(sample[0], item, '%s[%d]' % (where, i))
        return problems
    if _json_type(sample) != _json_type(actual):
        return ['%s: %r is %s, the sample has %s' % (
            where, actual, _json_type(actual), _json_type(sample))]
    return []


def mismatches(notification):
    """How *notification* (as nova's NotificationFixture captured it)
    differs from its event's sample; empty when it matches.
    """
    event = notification['event_type'][len(notif.EVENT_PREFIX):]
    sample = load_sample(event)
    problems = []
    for key in ('event_type', 'priority'):
        if sample[key] != notification[key]:
            problems.append('%s is %r, the sample says %r'
                            % (key, notification[key], sample[key]))
    if notification['publisher_id'].split(':')[0] != \
            sample['publisher_id'].split(':')[0]:
        problems.append('publisher_id %r is not %s:<host>' % (
            notification['publisher_id'],
            sample['publisher_id'].split(':')[0]))
    problems += _problems(sample['payload'], notification['payload'],
                          'payload')
    return ['%s: %s' % (notification['event_type'], p) for p in problems]
