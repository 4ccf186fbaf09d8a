"""``alignsql eval`` (filled in by the evaluation module)."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    return None
