"""Ask a text-to-SQL model questions about your databases: the library side (``asker``) and
an HTTP API with a small web page (``app``, FastAPI; ``pip install alignsql[serve]``)."""
