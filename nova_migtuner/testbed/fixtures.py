"""pytest fixture sharing one running test bed across test directories.

Use it from any conftest.py::

    from nova_migtuner.testbed.fixtures import testbed  # noqa: F401

Every conftest that imports the fixture gets the same Testbed: it is brought
up on first use and down when the last user's session ends. Tests are
skipped with the reason (and the install command) when prerequisites are
missing or libvirtd cannot start, unless NOVA_MIGTUNER_TESTBED_REQUIRED=1,
which turns that into a failure (for CI machines that must run them).
NOVA_MIGTUNER_TESTBED_KEEP=1 leaves the bed up after the session (debugging;
stop it with ``python -m nova_migtuner.testbed down``).
"""

import logging
import os
import threading

import pytest

from nova_migtuner.testbed import bed as testbed_bed
from nova_migtuner.testbed import exceptions

LOG = logging.getLogger(__name__)

REQUIRED_ENV = 'NOVA_MIGTUNER_TESTBED_REQUIRED'
KEEP_ENV = 'NOVA_MIGTUNER_TESTBED_KEEP'

_lock = threading.Lock()
_shared = None
_users = 0


def _unavailable(message):
    if os.environ.get(REQUIRED_ENV) == '1':
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def acquire_shared_testbed():
    """The shared running Testbed (brought up if needed); skips if it
    cannot run. Pair every call with release_shared_testbed()."""
    global _shared, _users
    with _lock:
        if _shared is None:
            bed = testbed_bed.Testbed.from_environment()
            missing = bed.missing_prerequisites()
            if missing:
                _unavailable('libvirt test bed unavailable, missing: %s. '
                             'Install with: %s'
                             % ('; '.join(str(m) for m in missing),
                                bed.install_hint()))
            try:
                bed.up()
            except exceptions.TestbedError as exc:
                try:
                    bed.down()
                except exceptions.TestbedError:
                    LOG.exception('Cleaning up the failed test bed failed')
                _unavailable('libvirt test bed could not start: %s' % exc)
            _shared = bed
        _users += 1
        return _shared


def release_shared_testbed():
    global _shared, _users
    with _lock:
        _users -= 1
        if _users == 0 and _shared is not None:
            if os.environ.get(KEEP_ENV) != '1':
                _shared.down()
            _shared = None


@pytest.fixture(scope='session')
def testbed():
    """A running two-host Testbed (hosts 'a' and 'b')."""
    bed = acquire_shared_testbed()
    try:
        yield bed
    finally:
        release_shared_testbed()
