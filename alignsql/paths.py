"""Where things live: the data root, the cache home, and content fingerprints."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from alignsql.errors import AlignSQLError

_REPO = Path(__file__).resolve().parent.parent


def data_root(explicit: str | os.PathLike | None = None) -> Path:
    """``--data-root``, else ``$ALIGNSQL_DATA``, else ``../shared/data`` beside the repo or cwd."""
    if explicit:
        root = Path(explicit)
    elif os.environ.get("ALIGNSQL_DATA"):
        root = Path(os.environ["ALIGNSQL_DATA"])
    else:
        candidates = [_REPO.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]
        root = next((c for c in candidates if c.is_dir()), candidates[0])
    if not root.is_dir():
        raise AlignSQLError(
            f"data root {root} does not exist: pass --data-root or set $ALIGNSQL_DATA"
        )
    return root


def home() -> Path:
    """Cache and model home: ``$ALIGNSQL_HOME``, default ``~/.cache/alignsql``."""
    path = Path(os.environ.get("ALIGNSQL_HOME", Path.home() / ".cache" / "alignsql"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def fingerprint(*parts: object) -> str:
    """A short stable hash of strings/paths; files contribute their size and mtime."""
    h = hashlib.sha1()
    for part in parts:
        if isinstance(part, Path) and part.exists():
            st = part.stat()
            h.update(f"{part}:{st.st_size}:{st.st_mtime_ns}".encode())
        else:
            h.update(repr(part).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]
