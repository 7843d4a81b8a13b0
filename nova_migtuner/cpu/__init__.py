"""Guest CPU mode and NUMA topology decisions, as pure functions.

Nothing here imports nova or libvirt: the driver mixin
(``nova_migtuner.nova.cpu_mode``), the scheduler filter and the
``advise-flavor`` command call these functions with plain values, so the
driver and the scheduler can never disagree about which CPU a guest has.
"""
