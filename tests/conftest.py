import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("ALIGNSQL_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Caches go to a temp folder so tests neither read nor pollute the user's cache."""
    monkeypatch.setenv("ALIGNSQL_HOME", str(tmp_path_factory.mktemp("home")))


@pytest.fixture
def data_root() -> Path:
    if not (SHARED / "spider" / "tables.json").exists():
        pytest.skip(f"shared data not found at {SHARED}")
    return SHARED
