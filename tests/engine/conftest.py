# The engine's real-libvirt tests use the session-wide two-host test bed
# (skipped with the reason when it cannot run).
from nova_migtuner.testbed.fixtures import testbed  # noqa: F401
from nova_migtuner.testbed.fixtures import testbed_hang_guard  # noqa: F401
