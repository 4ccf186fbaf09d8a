from alignsql.data.example import Column, Example, ForeignKey, Schema, Table
from alignsql.eval.tables import table_metrics
from alignsql.lrsql.link import link_answer, parse_reply, walk
from alignsql.lrsql.slicing import slice_schema


def _schema() -> Schema:
    names = ["singer", "concert", "stadium", "song", "album", "label"]
    return Schema("s", [Table(n, [Column("id", "INT"), Column("x", "TEXT")]) for n in names],
                  [ForeignKey("concert", "id", "stadium", "id"), ForeignKey("song", "id", "album", "id")])


def test_parse_reply() -> None:
    p = parse_reply("`Concert`, singer, ghost_table\nthanks", ["singer", "concert", "stadium"])
    assert p.tables == ["singer", "concert"] and p.unknown == ["ghost_table", "thanks"]
    assert parse_reply("none", ["singer"]).tables == []
    assert link_answer([]) == "none" and link_answer(["a", "b"]) == "a, b"


class NoTemplate:
    chat_template = None


def test_walk_carries_hints_and_drops_unknown_names() -> None:
    """A stub model that answers from a fixed table list: the walk must visit every slice,
    accumulate the tables, carry them as a hint, and drop names that are not in the slice."""
    schema = _schema()
    slicing = slice_schema(schema, lambda s: len(s.split()), budget=12)
    assert len(slicing.slices) > 2
    wanted = {"concert", "album"}
    seen_prompts: list[str] = []

    def stub(prompts: list[str], prefix: str) -> list[str]:
        assert all(p.startswith(prefix) and "CREATE TABLE" in prefix for p in prompts)
        seen_prompts.extend(prompts)
        out = []
        for p in prompts:
            part = p.split("Question:")[0]
            names = [t for t in wanted if f"CREATE TABLE {t} " in part]
            out.append(", ".join(names + ["imaginary"]) if names else "none")
        return out
    ex = Example("Which album played at the concert?", "", "s")
    (res,) = walk([ex], schema, slicing, NoTemplate(), stub)
    assert set(res.tables) == wanted and len(res.per_slice) == len(slicing.slices)
    assert res.unknown["imaginary"] == 2
    later = [p for p in seen_prompts if "Tables chosen from earlier parts" in p]
    assert later  # the first chosen table is carried into later slices


def test_table_metrics_by_hand() -> None:
    """Q1: G={a,b}, P={a,b}: exact, found, p=1, r=1. Q2: G={a,b}, P={a,c}: p=1/2, r=1/2.
    Q3: G={c}, P={}: p=0, r=0. Means: exact 1/3, all_found 1/3, precision 1/2, recall 1/2."""
    m = table_metrics([{"a", "b"}, {"a", "b"}, {"c"}], [{"A", "b"}, {"a", "c"}, set()])
    assert m["exact"] == 1 / 3 and m["all_found"] == 1 / 3
    assert m["precision"] == 0.5 and m["recall"] == 0.5 and m["n"] == 3


def test_question_scores_by_hand() -> None:
    """G={a,b}, P={a,c}: not exact, not all found, precision 1/2, recall 1/2; G={} P={}:
    exact, recall 1 (nothing to find), precision 0 (nothing named)."""
    from alignsql.eval.tables import question_scores
    assert question_scores({"a", "b"}, {"A", "c"}) == {"exact": 0.0, "all_found": 0.0,
                                                      "precision": 0.5, "recall": 0.5}
    assert question_scores(set(), set()) == {"exact": 1.0, "all_found": 1.0, "precision": 0.0,
                                             "recall": 1.0}
