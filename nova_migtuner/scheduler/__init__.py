"""Scheduler filter and weigher for live-migration destinations.

``rules`` and ``stats`` are pure; ``request`` reads the few facts the
scheduler does not hand to filters (is this a live migration, from which
host); ``filters`` and ``weights`` are the thin nova classes.
"""
