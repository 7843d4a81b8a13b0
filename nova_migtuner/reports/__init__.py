"""Measured migration reports: collected from notifications, stored in
SQLite, summarised per flavor."""
