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

"""Errors raised by the nova_migtuner test bed."""


class TestbedError(Exception):
    """The test bed could not do what was asked.

    The message says what failed and where to look (log file, command,
    stderr tail), so that a failing test is diagnosable from its output.
    """

    # Not a test class, even though pytest collects names starting with Test.
    __test__ = False


class CommandError(TestbedError):
    """An external command exited with an error."""

    def __init__(self, argv, returncode, stderr_tail):
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        super().__init__(
            'command %r failed with exit code %s; stderr tail:\n%s'
            % (' '.join(self.argv), returncode, stderr_tail or '(empty)'))


class PrerequisiteError(TestbedError):
    """Something the test bed needs is not installed."""


class GuestBootTimeout(TestbedError):
    """A guest did not reach its workload in time."""


class CallTimeout(TestbedError):
    """A call into libvirt did not return in time (see watchdog)."""
