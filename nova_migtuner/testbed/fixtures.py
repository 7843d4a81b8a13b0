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

A test on the bed that runs longer than NOVA_MIGTUNER_TESTBED_HANG_S seconds
(default 600) is taken for blocked in libvirt: every thread's stack and the
bed's logs go to stderr and the bed's QEMUs are killed, which makes the
blocked libvirt call return, so that the test fails and the run goes on.

SIGTERM while the bed is up ends the session as Ctrl-C does: pytest tears
the session's fixtures down, so the bed's libvirtd and QEMUs stop as after
a normal run (SIGTERM's default action would leave them running).

The bed's tests need real threads: when eventlet is monkey patched into the
process (importing ``nova.tests`` does that), the bed is unavailable, as
when a prerequisite is missing.
"""

import faulthandler
import logging
import os
import signal
import sys
import threading

import pytest

from nova_migtuner.testbed import bed as testbed_bed
from nova_migtuner.testbed import exceptions

LOG = logging.getLogger(__name__)

REQUIRED_ENV = 'NOVA_MIGTUNER_TESTBED_REQUIRED'
KEEP_ENV = 'NOVA_MIGTUNER_TESTBED_KEEP'
HANG_ENV = 'NOVA_MIGTUNER_TESTBED_HANG_S'
DEFAULT_HANG_S = 600.0

_lock = threading.Lock()
_shared = None
_users = 0


def _unavailable(message):
    if os.environ.get(REQUIRED_ENV) == '1':
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def eventlet_patched():
    """True if eventlet is monkey patched into this process."""
    patcher = sys.modules.get('eventlet.patcher')
    return bool(patcher and patcher.is_monkey_patched('thread'))


def _sigterm_as_interrupt(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt('SIGTERM')


_previous_sigterm = []


def _end_on_sigterm_like_ctrl_c():
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        _previous_sigterm.append(signal.SIG_DFL)
        signal.signal(signal.SIGTERM, _sigterm_as_interrupt)


def _restore_sigterm():
    if _previous_sigterm and (threading.current_thread() is
                              threading.main_thread()):
        signal.signal(signal.SIGTERM, _previous_sigterm.pop())


def acquire_shared_testbed():
    """The shared running Testbed (brought up if needed); skips if it
    cannot run. Pair every call with release_shared_testbed().
    """
    global _shared, _users
    with _lock:
        if _shared is None:
            if eventlet_patched():
                _unavailable('libvirt test bed unavailable: eventlet is '
                             'monkey patched into this process (importing '
                             'nova.tests does that); the bed\'s tests need '
                             'real threads. Run them in a pytest session '
                             'that does not import nova.tests.')
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
            _end_on_sigterm_like_ctrl_c()
        _users += 1
        return _shared


def release_shared_testbed():
    global _shared, _users
    with _lock:
        _users -= 1
        if _users == 0 and _shared is not None:
            try:
                if os.environ.get(KEEP_ENV) != '1':
                    _shared.down()
            finally:
                _shared = None
                _restore_sigterm()


@pytest.fixture(scope='session')
def testbed():
    """A running two-host Testbed (hosts 'a' and 'b')."""
    bed = acquire_shared_testbed()
    try:
        yield bed
    finally:
        release_shared_testbed()


def _unblock_hung_test(nodeid, seconds):
    err = sys.__stderr__
    err.write('\n\n=== %s has run for %.0f s on the test bed: taken for '
              'blocked; stacks, logs, then the bed\'s QEMUs are killed ===\n'
              % (nodeid, seconds))
    err.flush()
    faulthandler.dump_traceback(file=err, all_threads=True)
    bed = _shared
    if bed is None:
        return
    try:
        err.write(bed.diagnostics() + '\n')
        for host in bed.hosts.values():
            killed = host.kill_qemus()
            LOG.warning('%s is blocked: killed QEMU %s of test bed host %s',
                        nodeid, killed, host.name)
    except Exception as exc:  # the report must not end the watchdog
        err.write('unblocking failed: %r\n' % exc)
    err.flush()


@pytest.fixture(autouse=True)
def testbed_hang_guard(request):
    """Per test using ``testbed``: after NOVA_MIGTUNER_TESTBED_HANG_S,
    report and kill the bed's QEMUs instead of hanging the run.
    """
    if 'testbed' not in request.fixturenames:
        yield
        return
    try:
        seconds = float(os.environ.get(HANG_ENV, DEFAULT_HANG_S))
    except ValueError:
        raise ValueError('%s=%r is invalid: expected seconds'
                         % (HANG_ENV, os.environ[HANG_ENV]))
    timer = threading.Timer(seconds, _unblock_hung_test,
                            (request.node.nodeid, seconds))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
