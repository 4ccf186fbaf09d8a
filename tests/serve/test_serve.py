"""`alignsql serve`: the asker on the real continuous batcher (tiny model), and the HTTP API
over loopback with a stand-in for the model's SQL (so results are known)."""
import hashlib
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from alignsql.errors import AlignSQLError
from alignsql.eval.executor import DENIED
from alignsql.serve.asker import Asker, AskerConfig, database_map

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")


@pytest.fixture
def db(tmp_path) -> Path:
    import sqlite3
    path = tmp_path / "concert_singer.sqlite"
    con = sqlite3.connect(path)
    con.executescript("CREATE TABLE singer (singer_id INTEGER PRIMARY KEY, name TEXT, age INT);")
    con.executemany("INSERT INTO singer VALUES (?, ?, ?)",
                    [(i, f"n{i}", 20 + 5 * i) for i in range(5)])
    con.commit()
    con.close()
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_database_map_errors(tmp_path, db) -> None:
    with pytest.raises(AlignSQLError, match="file not found"):
        database_map([str(tmp_path / "nope.sqlite")])
    (tmp_path / "x.sqlite").write_text("hello")
    with pytest.raises(AlignSQLError, match="not a SQLite"):
        database_map([str(tmp_path / "x.sqlite")])
    other = tmp_path / "o"
    other.mkdir()
    (other / db.name).write_bytes(db.read_bytes())
    with pytest.raises(AlignSQLError, match="already given"):
        database_map([str(db), str(other / db.name)])
    with pytest.raises(AlignSQLError, match="at least one"):
        database_map([])


def test_concurrent_questions_share_the_batcher(tiny_model_dir, db) -> None:
    """16 questions from 16 threads through the real batcher (tiny random model): every one
    answered with the response's keys, the database untouched."""
    before = _digest(db)
    asker = Asker(AskerConfig(model=str(tiny_model_dir), db=[str(db)], max_new_tokens=6,
                              dtype="fp32", device="cpu", batch_size=4))
    try:
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda i: asker.ask(f"How many singers are older than {i}?",
                                                        "concert_singer"), range(16)))
    finally:
        asker.close()
    assert len(answers) == 16 and len(asker.recent) == 16
    for a in answers:
        assert set(a) == {"sql", "columns", "rows", "truncated", "elapsed_ms", "error"}
    assert _digest(db) == before


class StandIn(Asker):
    """The model's reply chosen by the question, so the results are known."""
    SQL = {"count": "SELECT count(*) FROM singer", "delete": "DELETE FROM singer",
           "attach": "ATTACH DATABASE 'x.db' AS x", "names": "SELECT name FROM singer ORDER BY 1",
           "nothing": ""}

    def generate(self, question, db):
        time.sleep(0.05)
        sql = self.SQL[question.split()[0]]
        return sql, sql


@pytest.fixture
def server(tiny_model_dir, db):
    import uvicorn

    from alignsql.serve.app import create_app
    asker = StandIn(AskerConfig(model=str(tiny_model_dir), db=[str(db)], dtype="fp32",
                                device="cpu", max_rows=3))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(asker), host="127.0.0.1", port=port,
                                        log_level="error"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(100):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=5)
    asker.close()


def test_http_api(server, db) -> None:
    before, files = _digest(db), sorted(p.name for p in db.parent.iterdir())
    with httpx.Client(base_url=server, timeout=10) as c:
        r = c.post("/v1/ask", json={"question": "count singers", "db": "concert_singer"})
        assert r.status_code == 200
        body = r.json()
        assert body["rows"] == [[5]] and body["columns"] == ["count(*)"] and not body["error"]
        names = c.post("/v1/ask", json={"question": "names", "db": "concert_singer"}).json()
        assert len(names["rows"]) == 3 and names["truncated"]  # max_rows = 3 of 5
        for q in ("delete all", "attach it"):
            bad = c.post("/v1/ask", json={"question": q, "db": "concert_singer"}).json()
            assert bad["error"] == DENIED and bad["rows"] == []
        assert c.post("/v1/ask", json={"question": "nothing", "db": "concert_singer"}
                      ).json()["error"] == "empty"
        r = c.post("/v1/ask", json={"question": "count", "db": "other"})
        assert r.status_code == 404 and "unknown database 'other'" in r.json()["detail"]
        for payload, where in (({"question": "", "db": "concert_singer"}, "question"),
                               ({"db": "concert_singer"}, "question"),
                               ({"question": "count", "db": 3}, "db")):
            r = c.post("/v1/ask", json=payload)
            assert r.status_code == 422 and r.json()["detail"].startswith(where), r.json()
        assert c.get("/v1/databases").json()["databases"] == ["concert_singer"]
        assert c.get("/v1/recent").json()["recent"][0]["question"] == "nothing"
        assert "<title>alignsql" in c.get("/").text
    assert _digest(db) == before and sorted(p.name for p in db.parent.iterdir()) == files


def test_http_sixteen_concurrent_clients(server) -> None:
    def one(i: int) -> int:
        with httpx.Client(base_url=server, timeout=30) as c:
            r = c.post("/v1/ask", json={"question": "count", "db": "concert_singer"})
            return r.status_code if r.json()["rows"] == [[5]] else -1
    with ThreadPoolExecutor(16) as pool:
        assert list(pool.map(one, range(16))) == [200] * 16


def test_page_in_a_real_browser(server) -> None:
    """Headless Chromium loads the page, which lists the database, asks the question carried
    in the link and shows the SQL and the result table."""
    import shutil
    import subprocess
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        pytest.skip("no Chromium installed (apt-get install chromium) for the browser test")
    out = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--virtual-time-budget=15000", "--dump-dom",
         f"{server}/?db=concert_singer&q=count%20singers"],
        capture_output=True, text=True, timeout=120).stdout
    assert "<option>concert_singer</option>" in out
    assert "SELECT count(*) FROM singer" in out and "<td>5</td>" in out
    assert "[concert_singer] count singers" in out  # the recent questions list
