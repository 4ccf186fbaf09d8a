import sqlite3

import pytest


@pytest.fixture
def db(tmp_path):
    """A small concert/singer database with a foreign key and enough rows to fill from."""
    path = tmp_path / "cs.sqlite"
    con = sqlite3.connect(path)
    con.executescript("""
        CREATE TABLE singer (singer_id INTEGER PRIMARY KEY, name TEXT, country TEXT, age INTEGER);
        CREATE TABLE concert (concert_id INTEGER PRIMARY KEY, name TEXT, year INTEGER,
                              singer_id INTEGER REFERENCES singer (singer_id));
        CREATE TABLE stadium (stadium_id INTEGER PRIMARY KEY, location TEXT, capacity INTEGER);
        INSERT INTO stadium VALUES (1, 'Oslo', 1000);
    """)
    con.executemany("INSERT INTO singer VALUES (?, ?, ?, ?)",
                    [(i, f"n{i}", ["France", "Spain", "Peru"][i % 3], 20 + i) for i in range(1, 30)])
    con.executemany("INSERT INTO concert VALUES (?, ?, ?, ?)",
                    [(i, f"c{i}", 2010 + i % 6, 1 + i % 29) for i in range(1, 40)])
    con.commit()
    con.close()
    return path
