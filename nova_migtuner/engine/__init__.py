"""The libvirt engine: turns a frozen ``MigrationPlan`` into libvirt calls.

Pure decision modules (``flags``, ``stats``, ``escalation``, ``report``)
import neither libvirt nor nova and are unit-tested with plain dicts; the
I/O modules (``runner``, ``dirtyrate``) take a libvirt domain/connection
(the real binding or nova's fake) and never import libvirt at module level.
"""
