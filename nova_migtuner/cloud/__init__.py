"""A real one-machine OpenStack cloud on the test bed's two libvirtd hosts.

MariaDB, RabbitMQ, keystone, glance, placement, neutron, nova-api,
nova-conductor, nova-scheduler and two nova-compute services, each started
and stopped by ``nova-migtuner cloud up|status|down`` without systemd or
DevStack. See ``doc/source/contributor/cloud.rst``.
"""
