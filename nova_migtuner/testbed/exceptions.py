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
