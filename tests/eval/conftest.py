import sqlite3
from pathlib import Path

import pytest


def build_db(path: Path) -> Path:
    con = sqlite3.connect(path)
    con.executescript("""
        CREATE TABLE singer (singer_id INTEGER PRIMARY KEY, name TEXT, country TEXT, age INT,
                             value REAL);
        CREATE TABLE concert (concert_id INTEGER PRIMARY KEY, singer_id INT REFERENCES singer,
                              year INT);
        INSERT INTO singer VALUES (1, 'Ann', 'France', 30, 1.5), (2, 'Bob', 'Spain', 25, 2.25),
                                  (3, 'Cid', 'France', 41, NULL), (4, 'Dee', 'Peru', 25, 0.1);
        INSERT INTO concert VALUES (1, 1, 2014), (2, 1, 2015), (3, 2, 2015), (4, 3, 2016);
    """)
    con.execute("INSERT INTO singer VALUES (5, CAST(X'E96C6C65' AS TEXT), 'Peru', 50, 3.0)")
    con.commit()
    con.close()
    return path


@pytest.fixture
def db(tmp_path) -> Path:
    return build_db(tmp_path / "concert_singer.sqlite")
