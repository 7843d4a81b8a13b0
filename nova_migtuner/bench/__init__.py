"""``nova-migtuner bench``: stock nova vs nova's best static config vs
nova_migtuner, migrated for real on the two-host test bed, measured by
libvirt and by an independent heartbeat. Entry point: ``cli.main(argv)``.
"""
