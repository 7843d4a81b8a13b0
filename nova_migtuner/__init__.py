"""nova_migtuner: predictable, measured live migration for OpenStack Nova."""
