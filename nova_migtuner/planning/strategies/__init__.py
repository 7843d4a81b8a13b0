"""Migration strategies (stevedore plugins, ``nova_migtuner.strategies``)."""
