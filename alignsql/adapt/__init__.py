"""``alignsql adapt``: adapt a model to your own database, in one resumable command."""
