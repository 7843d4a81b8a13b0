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

"""A plan libvirt refuses before the job starts: retry once as nova would.

libvirt checks the flags and typed parameters of ``migrateToURI3`` before
it starts a migration job, and refuses what this libvirt or QEMU cannot do
(``VIR_ERR_ARGUMENT_UNSUPPORTED`` for a parameter it does not know,
``VIR_ERR_OPERATION_UNSUPPORTED`` or ``VIR_ERR_CONFIG_UNSUPPORTED`` for a
capability pair such as compression with parallel connections). Nothing
has moved then, so the migration is started again, once, with nova's own
flags and parameters: the session degrades (logged, and notified as a
``.error`` with ``fallback`` true) and the same ``migrateToURI3`` passes
nova's values through. Any other error, or one after the job was seen
running, is nova's to handle.
"""

from oslo_log import log as logging

from nova_migtuner.engine import stats as stats_mod
from nova_migtuner.nova import session as session_mod

LOG = logging.getLogger(__name__)

# libvirt error codes meaning "this libvirt/QEMU cannot do what was asked".
UNSUPPORTED_ERRORS = (
    ('VIR_ERR_NO_SUPPORT', 3),
    ('VIR_ERR_ARGUMENT_UNSUPPORTED', 74),
    ('VIR_ERR_OPERATION_UNSUPPORTED', 84),
    ('VIR_ERR_CONFIG_UNSUPPORTED', 951),
)


def unsupported_codes(libvirt_module):
    return frozenset(getattr(libvirt_module, name, code)
                     for name, code in UNSUPPORTED_ERRORS)


def is_unsupported(error, libvirt_module):
    """True if the libvirt *error* says the request is not supported."""
    try:
        code = error.get_error_code()
    except Exception:
        return False
    return code in unsupported_codes(libvirt_module)


def job_started(session):
    """Whether nova's monitor saw this migration's job run."""
    return bool(session.samples) or session.last_type not in (
        None, stats_mod.JOB_NONE)


class FallbackDomain(session_mod.DomainWrapper):
    """Wraps the session's ``TunedDomain``: one retry on an unsupported plan.

    :param domain: the ``TunedDomain`` nova's ``Guest`` calls.
    :param session: its ``MigrationSession``.
    """

    def migrateToURI3(self, dconnuri, params=None, flags=0):
        session = self._mt_session
        nova_params = dict(params or {})
        was_tuned = session.tuned
        try:
            return self._mt_domain.migrateToURI3(
                dconnuri, params=dict(nova_params), flags=flags)
        except session.libvirt.libvirtError as e:
            if (not was_tuned or not session.tuned or
                    not is_unsupported(e, session.libvirt) or
                    job_started(session)):
                raise
            LOG.warning('nova_migtuner: libvirt refused the tuned '
                        'migration before it started (%(error)s); starting '
                        'it once more with nova\'s own flags',
                        {'error': e}, instance=session.instance)
            session.degrade('libvirt', e)
        # The session is degraded: the same call passes nova's flags and
        # parameters through unchanged.
        return self._mt_domain.migrateToURI3(dconnuri, params=nova_params,
                                             flags=flags)
