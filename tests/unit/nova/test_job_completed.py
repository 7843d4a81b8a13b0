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

"""The source's job-completed statistics, through nova's connection."""

import types

from nova_migtuner.nova import job_completed


class Conn:
    def __init__(self, fail=False):
        self.fail = fail
        self.registered = {}

    def domainEventRegisterAny(self, dom, event, callback, opaque):
        if self.fail:
            raise RuntimeError('no events here')
        self.registered[7] = (dom, event, callback)
        return 7

    def domainEventDeregisterAny(self, callback_id):
        del self.registered[callback_id]


LIBVIRT = types.SimpleNamespace(VIR_DOMAIN_EVENT_ID_JOB_COMPLETED=21)


def test_the_announced_statistics_are_kept_and_the_callback_freed():
    conn = Conn()
    watch = job_completed.JobCompletedWatch(LIBVIRT).start(conn, 'dom')
    dom, event, callback = conn.registered[7]
    assert (dom, event) == ('dom', 21)
    callback(conn, dom, {'data_processed': 330, 'downtime': 43}, None)
    assert watch.stats == {'data_processed': 330, 'downtime': 43}
    watch.stop()
    assert conn.registered == {}
    watch.stop()                # twice is harmless


def test_a_connection_without_events_leaves_no_statistics():
    watch = job_completed.JobCompletedWatch(LIBVIRT).start(Conn(fail=True),
                                                           'dom')
    assert watch.stats is None
    watch.stop()
