import random
import sqlite3


from alignsql.align import metrics
from alignsql.align.profile import profile_examples
from alignsql.align.space import NgramSpace
from alignsql.data.example import Dataset, Example
from alignsql.data.schema import from_sqlite
from alignsql.synth.engine import FILTERS, synthesize
from alignsql.synth.pool import build_pool, weights

SIMPLE = ["SELECT count(*) FROM singer", "SELECT name FROM singer WHERE age > 20",
          "SELECT country FROM singer WHERE name = 'Ann'", "SELECT max(age) FROM singer"]
JOINS = ["SELECT T2.name FROM concert AS T1 JOIN singer AS T2 ON T1.singer_id = T2.singer_id "
         "WHERE T1.year = 2014",
         "SELECT T1.name, T2.country FROM concert AS T1 JOIN singer AS T2 "
         "ON T1.singer_id = T2.singer_id ORDER BY T2.age DESC LIMIT 1"]

def _pool(db):
    schema = from_sqlite(db, "cs")
    sqls = SIMPLE * 5 + JOINS  # the source is mostly single-table
    ds = Dataset("src", [Example("q", s, "cs", id=str(i)) for i, s in enumerate(sqls)],
                 {"cs": schema}, {"cs": db})
    return build_pool(ds), schema


def test_synthesis_keeps_only_verified_unique_queries(db) -> None:
    pool, schema = _pool(db)
    out = synthesize(pool, weights(pool, "uniform"), schema, db, n=25, rng=random.Random(0))
    assert 0 < len(out.kept) <= 25 and out.attempts <= 500
    assert len({k["sql"] for k in out.kept}) == len(out.kept)
    acc = out.acceptance()
    assert set(acc) == set(FILTERS) and all(0 <= v <= 1 for v in acc.values())
    assert out.passed["unique"] == len(out.kept)


def test_unfillable_pool_stops_at_the_attempt_cap(tmp_path, db) -> None:
    pool, _ = _pool(db)
    flat = tmp_path / "flat.sqlite"
    con = sqlite3.connect(flat)
    con.executescript("CREATE TABLE t (a TEXT);")  # no numbers, no rows, no keys
    con.close()
    only_joins = weights(pool, "uniform")
    out = synthesize(pool, only_joins, from_sqlite(flat), flat, n=10, rng=random.Random(0),
                     max_attempts=50)
    assert out.attempts == 50 and sum(out.dropped.values()) + len(out.kept) == 50
    assert out.dropped["fill: join template on a schema without foreign keys"] > 0


def test_steering_moves_synthetic_structure_toward_the_target(db) -> None:
    """The target is all joins while the source is mostly single-table: steered sampling must
    give a synthetic set better aligned with the target than frequency sampling."""
    pool, schema = _pool(db)
    target = profile_examples("t", [Example("q", s, id=str(i)) for i, s in enumerate(JOINS * 3)],
                              workers=1)

    def alignment(mode: str) -> float:
        w = weights(pool, mode, target)
        out = synthesize(pool, w, schema, db, n=20, rng=random.Random(1))
        assert out.kept, mode
        synth = profile_examples(mode, [Example("q", k["sql"], id=str(i))
                                        for i, k in enumerate(out.kept)], workers=1)
        space = NgramSpace()
        space.add(synth)
        space.add(target)
        return metrics.kl(space.counts(synth), space.counts(target))
    assert alignment("steered") < alignment("frequency")
