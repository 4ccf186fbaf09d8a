"""The HTTP side of ``alignsql serve``: routes translate requests to ``Asker`` calls.

    GET  /                 the page (static/index.html)
    GET  /v1/databases     the databases the server was started with
    POST /v1/ask           {"question", "db"} -> {"sql", "columns", "rows", "truncated",
                                                 "elapsed_ms", "error"}
    GET  /v1/recent        the last questions asked

A mistake in a request is a 4xx with a one-line reason in ``detail``; a generated query that
fails is a 200 whose ``error`` is its category (syntax, schema, timeout, denied, runtime,
empty). Handlers are plain ``def``: FastAPI runs them in its thread pool, so concurrent
questions wait on the shared batcher together.
"""
from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field

from alignsql.serve.asker import Asker

STATIC = Path(__file__).parent / "static"


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=2000)
    db: str = Field(min_length=1, max_length=200)


class AskResponse(BaseModel):
    sql: str
    columns: list[str]
    rows: list[list]
    truncated: bool
    elapsed_ms: float
    error: str | None


def create_app(asker: Asker) -> FastAPI:
    app = FastAPI(title="alignsql", summary="Ask a text-to-SQL model about your databases")

    @app.exception_handler(RequestValidationError)
    def bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body") or "body"
        return JSONResponse({"detail": f"{where}: {first.get('msg', 'invalid')}"}, 422)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/v1/databases")
    def databases() -> dict:
        return {"databases": sorted(asker.dbs), "model": asker.cfg.model}

    @app.get("/v1/recent")
    def recent() -> dict:
        return {"recent": list(asker.recent)}

    @app.post("/v1/ask", response_model=AskResponse)
    def ask(req: AskRequest) -> dict:
        if not req.question.strip():
            raise HTTPException(422, "question: is empty")
        if req.db not in asker.dbs:
            raise HTTPException(404, f"unknown database {req.db!r}: this server answers about "
                                     f"{', '.join(sorted(asker.dbs))}")
        return asker.ask(req.question.strip(), req.db)

    return app
