"""The decisions of nova_migtuner, pure Python: neither nova nor libvirt.

From a migration's inputs (``context``, built by ``inputs`` from plain
values, with ``limits`` and ``policy``) the ``planner`` picks a strategy
(``strategies``, stevedore plugins), which predicts with the ``model`` and
returns a frozen ``plan``; ``timing`` decides when to start. The
notification payloads (``notification_schema``, ``payloads``), the
destination's hand-off of its numbers (``handoff``) and the check of
nova's private surface (``compat``) are plain functions over plain values
too. ``tests/unit/planning/test_purity.py`` imports all of it with nova
and libvirt blocked.
"""
