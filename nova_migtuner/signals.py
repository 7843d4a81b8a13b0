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

"""SIGTERM and SIGINT end a command the way a normal exit does.

Commands that start services (the test bed, the cloud, the bench) stop
them in ``finally`` blocks and context managers. Python runs those for
SIGINT (KeyboardInterrupt) but not for SIGTERM, whose default action kills
the process at once and leaves libvirtd, QEMU and the cloud's services
running. Inside ``terminate_gracefully()`` both signals raise
``Terminated`` instead, so the same clean-up code runs; a second signal
during that clean-up is ignored rather than cutting it short.
"""

import contextlib
import signal

HANDLED = (signal.SIGTERM, signal.SIGINT)


class Terminated(BaseException):
    """Raised in the main thread by SIGTERM or SIGINT.

    A BaseException, like KeyboardInterrupt, so that ``except Exception``
    handlers on the way up do not swallow it.
    """

    def __init__(self, signum):
        super().__init__('terminated by %s' % signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self):
        return 128 + self.signum


def _raise(signum, frame):
    # Later signals are ignored: the clean-up must be allowed to finish.
    for sig in HANDLED:
        signal.signal(sig, signal.SIG_IGN)
    raise Terminated(signum)


@contextlib.contextmanager
def terminate_gracefully():
    """Within the block SIGTERM/SIGINT raise Terminated; on the way out
    of the block the previous handlers come back.
    """
    previous = {sig: signal.getsignal(sig) for sig in HANDLED}
    for sig in HANDLED:
        signal.signal(sig, _raise)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def cleanup_on_signal(cleanup):
    """Run ``cleanup()`` if the block is ended by SIGTERM or SIGINT, then
    exit with 128 + the signal number, as the shell reports it.
    """
    with terminate_gracefully():
        try:
            yield
        except Terminated as exc:
            cleanup()
            raise SystemExit(exc.exit_code)
