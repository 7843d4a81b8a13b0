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

"""Bounded calls into libvirt for tests and benchmarks on the test bed.

A libvirt call has no timeout of its own: when QEMU stops answering its
monitor, ``jobStats`` or ``abortJob`` waits forever, and so would a test run
or a benchmark. ``call_within`` turns such a wait into an error that carries
what is needed to diagnose it (the blocked thread's stack and the test bed's
logs), so that a run ends with a reason instead of a hang.
"""

import sys
import threading
import traceback

from nova_migtuner.testbed import exceptions


def call_within(timeout, what, fn, *args, on_timeout=None, **kwargs):
    """Return ``fn(*args, **kwargs)`` if it returns within ``timeout`` s.

    Exceptions of ``fn`` are re-raised unchanged. If ``fn`` is still running
    after ``timeout`` s, ``on_timeout()`` is called (it may unblock the call,
    for example by killing the guest's QEMU, and its return value, a text,
    goes into the error) and CallTimeout is raised. The call keeps running
    in a daemon thread, which cannot keep the interpreter alive.
    """
    outcome = {}

    def run():
        try:
            outcome['value'] = fn(*args, **kwargs)
        except BaseException as exc:  # re-raised in the caller's thread
            outcome['error'] = exc

    worker = threading.Thread(target=run, daemon=True,
                              name='bounded %s' % what)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        stack = ''.join(traceback.format_stack(
            sys._current_frames().get(worker.ident))) or '(no frame)'
        details = ''
        if on_timeout is not None:
            try:
                details = on_timeout() or ''
            except Exception as exc:  # diagnostics must not hide the timeout
                details = 'collecting diagnostics failed: %r' % exc
        raise exceptions.CallTimeout(
            '%s did not return within %.0f s. Blocked in:\n%s%s'
            % (what, timeout, stack, details))
    if 'error' in outcome:
        raise outcome['error']
    return outcome.get('value')
