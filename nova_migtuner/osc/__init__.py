"""python-openstackclient plugin: ``openstack migtuner ...`` commands."""
