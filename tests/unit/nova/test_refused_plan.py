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

"""A plan libvirt refuses before the job starts runs once more as nova's."""

import types

import pytest

from nova_migtuner.nova import refused_plan
from nova_migtuner.nova import session as session_mod
from nova_migtuner.planning import context as ctx
from nova_migtuner.planning import notification_schema as notif
from nova_migtuner.planning import plan as P
from nova_migtuner.planning import planner
from nova_migtuner import units
from tests.unit.nova import fakes

libvirt = fakes.libvirt

NOVA_FLAGS = (libvirt.VIR_MIGRATE_LIVE |
              libvirt.VIR_MIGRATE_PEER2PEER |
              libvirt.VIR_MIGRATE_UNDEFINE_SOURCE)
NOVA_PARAMS = {'destination_xml': '<domain/>', 'bandwidth': 0}


class _Domain:
    """Refuses the first migrateToURI3 call with *error_code*."""

    def __init__(self, error_code):
        self.error_code = error_code
        self.calls = []

    def migrateToURI3(self, uri, params=None, flags=0):
        self.calls.append((flags, dict(params)))
        if len(self.calls) == 1 and self.error_code is not None:
            raise fakes.libvirt_error('argument unsupported: nope',
                                      self.error_code)
        return 0

    def migrateSetMaxDowntime(self, downtime, flags=0):
        return 0


@pytest.fixture
def notified(monkeypatch):
    sent = []
    monkeypatch.setattr(session_mod.notifications, 'emit',
                        lambda ctxt, host, event, payload:
                        sent.append((event, payload)))
    return sent


def _session():
    instance = types.SimpleNamespace(uuid='u-1', host='src',
                                     flavor=types.SimpleNamespace(name='f'))
    call = session_mod.NovaCall(None, instance, 'dest', None, None, False,
                                types.SimpleNamespace(migration=None))
    s = session_mod.MigrationSession(call, 'src', libvirt,
                                     base_flags=NOVA_FLAGS)
    # A 100 Gbit/s link: the plan adds parallel connections.
    s.plan = planner.build_plan(ctx.MigrationInputs(
        memory_bytes=4 * units.GiB, link_bandwidth=100e9 / 8,
        dirty_rate=0.0))
    assert P.PARALLEL in s.plan.flags
    return s


def _domain(s, error_code):
    raw = _Domain(error_code)
    return raw, refused_plan.FallbackDomain(
        session_mod.TunedDomain(raw, s), s)


def test_unsupported_plan_is_retried_once_with_novas_flags(notified):
    s = _session()
    raw, domain = _domain(s, libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED)
    assert domain.migrateToURI3('qemu+tcp://dest/system',
                                params=dict(NOVA_PARAMS),
                                flags=NOVA_FLAGS) == 0
    assert len(raw.calls) == 2
    tuned_flags, _ = raw.calls[0]
    assert tuned_flags & libvirt.VIR_MIGRATE_PARALLEL
    # The retry is exactly nova's call.
    assert raw.calls[1] == (NOVA_FLAGS, NOVA_PARAMS)
    assert not s.tuned and 'libvirt' in s.fallback_reason
    errors = [notif.flat_payload(e, p) for e, p in notified
              if e == notif.ERROR]
    assert len(errors) == 1 and errors[0]['fallback'] is True
    assert errors[0]['phase'] == 'libvirt'


@pytest.mark.parametrize('code', [libvirt.VIR_ERR_OPERATION_FAILED,
                                  libvirt.VIR_ERR_OPERATION_INVALID])
def test_other_errors_are_novas(notified, code):
    s = _session()
    raw, domain = _domain(s, code)
    with pytest.raises(libvirt.libvirtError):
        domain.migrateToURI3('uri', params=dict(NOVA_PARAMS),
                             flags=NOVA_FLAGS)
    assert len(raw.calls) == 1 and s.tuned


def test_no_retry_once_the_job_ran(notified):
    s = _session()
    s.last_type = 2      # VIR_DOMAIN_JOB_UNBOUNDED, as JobSample.type
    raw, domain = _domain(s, libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED)
    with pytest.raises(libvirt.libvirtError):
        domain.migrateToURI3('uri', params=dict(NOVA_PARAMS),
                             flags=NOVA_FLAGS)
    assert len(raw.calls) == 1


def test_untuned_migration_is_not_retried(notified):
    s = _session()
    s.plan = None
    raw, domain = _domain(s, libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED)
    with pytest.raises(libvirt.libvirtError):
        domain.migrateToURI3('uri', params=dict(NOVA_PARAMS),
                             flags=NOVA_FLAGS)
    assert raw.calls == [(NOVA_FLAGS, NOVA_PARAMS)]
