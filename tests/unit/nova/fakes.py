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

"""Fakes of nova's side of one migration for the flow and session tests.

No nova services: a session over a fake instance, a fake ``virDomain``
and the notifications recorded instead of sent. libvirt's constants and
error class come from the real binding, without a connection: nova's
fake libvirt module would do as well, but importing ``nova.tests`` patches
eventlet into the whole pytest process, and the test bed's tests of the
same session need real threads.
"""

import types

import pytest

from nova_migtuner.nova import session as session_mod
from nova_migtuner.planning import notification_schema

libvirt = pytest.importorskip('libvirt')

RUNNING = libvirt.VIR_DOMAIN_RUNNING
PAUSED = libvirt.VIR_DOMAIN_PAUSED


def libvirt_error(message, code=libvirt.VIR_ERR_INTERNAL_ERROR):
    """A ``libvirtError`` as libvirt raises it, with *code*."""
    error = libvirt.libvirtError(message)
    error.err = (code, libvirt.VIR_FROM_QEMU, message, libvirt.VIR_ERR_ERROR,
                 '', None, None, 0, 0)
    return error


class Clock:
    def __init__(self, now=0.0):
        self.now = now

    def __call__(self):
        return self.now


def make_session(clock=None, migration_status='running'):
    instance = types.SimpleNamespace(
        uuid='11111111-2222-3333-4444-555555555555', host='src',
        flavor=types.SimpleNamespace(name='m1.small', memory_mb=2048,
                                     vcpus=1, extra_specs={}))
    migration = types.SimpleNamespace(uuid='mig-1', id=1,
                                      status=migration_status,
                                      save=lambda: None)
    call = session_mod.NovaCall(
        context=None, instance=instance, dest='dest', post_method=None,
        recover_method=None, block_migration=False,
        migrate_data=types.SimpleNamespace(migration=migration))
    return session_mod.MigrationSession(call, 'src', libvirt,
                                        base_flags=0,
                                        clock=clock or Clock())


class Domain:
    """The few ``virDomain`` calls a plan makes, scripted and recorded.

    :param refuse: names of calls that raise ``libvirtError``; an int
        value refuses that many times, then takes the call.
    """

    def __init__(self, state=RUNNING, refuse=None):
        self.run_state = state
        self.refuse = dict(refuse or {})
        self.calls = []

    def _do(self, name):
        self.calls.append(name)
        left = self.refuse.get(name)
        if left:
            if left is not True:
                self.refuse[name] = left - 1
            raise libvirt_error('%s refused' % name)

    def info(self):
        return [self.run_state, 2048, 2048, 1, 0]

    def suspend(self):
        self._do('suspend')
        self.run_state = PAUSED

    def resume(self):
        self._do('resume')
        self.run_state = RUNNING

    def abortJob(self, flags=0):
        self._do('abortJob')

    def migrateSetMaxDowntime(self, downtime, flags=0):
        self._do('migrateSetMaxDowntime')

    def migrateStartPostCopy(self, flags=0):
        self._do('migrateStartPostCopy')


def job(kind=libvirt.VIR_DOMAIN_JOB_UNBOUNDED, remaining=1024 ** 2,
        processed=0):
    return {'type': kind, 'memory_iteration': 1,
            'memory_remaining': remaining, 'memory_bps': 32 * 1024 ** 2,
            'data_processed': processed}


def failed_job():
    return {'type': libvirt.VIR_DOMAIN_JOB_FAILED}


class Emitted:
    """Replaces ``notifications.emit``: records (event, payload)."""

    def __init__(self):
        self.sent = []

    def __call__(self, context, host, event, payload):
        self.sent.append((event, payload))
        return True

    def events(self):
        return [event for event, _ in self.sent]

    def last(self, event):
        """The last *event* payload sent, in its flat (1.x) form."""
        payload = [p for e, p in self.sent if e == event][-1]
        return notification_schema.flat_payload(event, payload)
