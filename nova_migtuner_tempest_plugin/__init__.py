"""Tempest plugin of nova-migtuner.

Imports neither nova nor nova_migtuner: it talks to a cloud through
Tempest's service clients only, so it installs into Tempest's own venv with
``pip install --no-deps``.
"""
