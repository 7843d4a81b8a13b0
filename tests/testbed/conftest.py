# The session-wide two-host libvirt test bed. Other test directories reuse it
# the same way: import the fixture into their conftest.py.
from nova_migtuner.testbed.fixtures import testbed  # noqa: F401
from nova_migtuner.testbed.fixtures import testbed_hang_guard  # noqa: F401
