"""Fixtures of the report tests."""

import pytest

from nova_migtuner.reports import store as store_mod


@pytest.fixture
def report_store(tmp_path):
    return store_mod.ReportStore(str(tmp_path / 'reports.sqlite'))
