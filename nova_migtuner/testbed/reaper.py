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

"""Run a test bed libvirtd under a process that reaps its QEMUs.

libvirt daemonizes QEMU (double fork), so a QEMU's parent is whoever
adopts orphans: PID 1, unless an ancestor is a child subreaper. On some
machines PID 1 never reaps, and an exited QEMU stays a zombie. libvirt
takes a zombie for a live process (``kill(pid, 0)`` succeeds): it spends
its full kill timeout on every guest stop, and a migration abort waits on
the destination's QEMU for good. Measured under a non-reaping parent:
80 s per guest teardown and an abortJob that never returned.

Usage: ``python -m nova_migtuner.testbed.reaper COMMAND [ARG...]``. The
reaper becomes a child subreaper, starts COMMAND, reaps every process that
ends below it, forwards SIGTERM and SIGINT to COMMAND, and exits with
COMMAND's exit code once no child is left.
"""

import ctypes
import os
import signal
import sys

from nova_migtuner.testbed import processes

PR_SET_CHILD_SUBREAPER = 36
# The marker processes.find_processes looks for (see Testbed.leftovers).
MODULE = 'nova_migtuner.testbed.reaper'


def become_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, 'prctl(PR_SET_CHILD_SUBREAPER): %s'
                      % os.strerror(errno))


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        sys.stderr.write('usage: python -m %s COMMAND [ARG...]\n' % MODULE)
        return 2
    become_subreaper()
    child = os.fork()
    if child == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)

    def forward(signum, _frame):
        processes.send_signal(child, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = 0
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return code
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            if code < 0:        # killed by a signal: the shell convention
                code = 128 - code


if __name__ == '__main__':
    sys.exit(main())
