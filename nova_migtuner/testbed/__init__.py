"""A real two-host libvirt/QEMU (TCG) live-migration test bed on one machine.

See testbed.md beside this file for the design; the public API is Testbed,
Workload, HeartbeatProbe and the errors below.
"""

from nova_migtuner.testbed.bed import Testbed  # noqa: F401
from nova_migtuner.testbed.exceptions import CommandError  # noqa: F401
from nova_migtuner.testbed.exceptions import GuestBootTimeout  # noqa: F401
from nova_migtuner.testbed.exceptions import PrerequisiteError  # noqa: F401
from nova_migtuner.testbed.exceptions import TestbedError  # noqa: F401
from nova_migtuner.testbed.heartbeat import HeartbeatProbe  # noqa: F401
from nova_migtuner.testbed.heartbeat import HeartbeatResult  # noqa: F401
from nova_migtuner.testbed.workload import Workload  # noqa: F401
