"""Ray for batch work: the same results as one process (a local Ray started by the test)."""
import json
from pathlib import Path

import pytest

from alignsql.cluster import by_database, slots


def test_by_database_keeps_databases_whole_and_balances() -> None:
    """Groups a:4, b:3, c:2, d:1 dealt largest first to the lightest of 2 parts:
    a -> part 0 (4), b -> part 1 (3), c -> part 1 (5), d -> part 0 (5)."""
    items = [("a", i) for i in range(4)] + [("b", i) for i in range(3)] + \
            [("c", 0), ("c", 1), ("d", 0)]
    parts = by_database(items, lambda x: x[0], 2)
    assert [sorted({db for db, _ in p}) for p in parts] == [["a", "d"], ["b", "c"]]
    assert [x for x in parts[0] if x[0] == "a"] == [("a", i) for i in range(4)]  # order kept
    assert by_database(items, lambda x: x[0], 10) == [[x for x in items if x[0] == db]
                                                      for db in "abcd"]
    assert by_database([], lambda x: x, 3) == []


def test_slots_one_task_per_gpu_else_per_cpu() -> None:
    assert slots({"CPU": 8.0, "GPU": 4.0}) == (4, 1.0, 1.0)
    assert slots({"CPU": 2.0}) == (2, 1.0, 0.0)
    assert slots({}) == (1, 1.0, 0.0)


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray", reason="the ray extra is not installed")
    try:  # a small object store: the tests pass lists of ids, not tensors
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 configure_logging=False, object_store_memory=100 * 2**20)
    except Exception as err:  # the machine cannot run Ray at all: not this code's failure
        pytest.skip(f"Ray does not start here: {err}")
    yield "local"
    ray.shutdown()


def _by_id(path: Path) -> dict:
    return {r["id"]: r for r in map(json.loads, path.read_text().splitlines())}


def test_predict_on_ray_equals_one_process(local_ray, tiny_model_dir, data_root, tmp_path) -> None:
    from alignsql.models.predict import PredictConfig, run_predict

    common = dict(model=str(tiny_model_dir), dataset="spider:dev", sample=8, with_db=True,
                  max_new_tokens=4, dtype="fp32", device="cpu", backend="hf",
                  data_root=str(data_root))
    one = run_predict(PredictConfig(out=str(tmp_path / "one.jsonl"), **common))
    many = run_predict(PredictConfig(out=str(tmp_path / "ray.jsonl"), ray=local_ray, **common))
    assert many["ray_tasks"] == 2 and many["answered"] == one["answered"] == 8
    assert many["dtype"] == one["dtype"] == "fp32"
    a, b = _by_id(tmp_path / "one.jsonl"), _by_id(tmp_path / "ray.jsonl")
    assert a.keys() == b.keys() and all(a[k]["raw"] == b[k]["raw"] for k in a)
    assert not (tmp_path / "ray.jsonl.parts").exists()


def test_eval_on_ray_equals_one_process(local_ray, data_root, tmp_path) -> None:
    from alignsql.eval.run import EvalConfig, run_eval

    common = dict(dataset="spider:dev", gold_as_pred=True, limit=60, data_root=str(data_root))
    one, s1 = run_eval(EvalConfig(workers=1, **common))
    many, s2 = run_eval(EvalConfig(ray=local_ray, out=str(tmp_path / "e"), **common))
    assert [r.id for r in one] == [r.id for r in many]
    assert [(r.status, r.pred_error) for r in one] == [(r.status, r.pred_error) for r in many]
    assert s1.ex == s2.ex and s1.n_scored == s2.n_scored == 60


def _two_databases(tmp_path: Path) -> str:
    import sqlite3
    rows = []
    for name in ("shop", "zoo"):
        path = tmp_path / f"{name}.sqlite"
        con = sqlite3.connect(path)
        con.executescript(f"""CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, price INT);
            INSERT INTO item VALUES {", ".join(f"({i}, '{name}{i}', {i * 7 % 11})"
                                               for i in range(1, 9))};""")
        con.commit()
        con.close()
        for i, sql in enumerate(["SELECT count(*) FROM item", "SELECT name FROM item WHERE "
                                 "price > 3", "SELECT max(price) FROM item"]):
            rows.append({"question": f"q{i}", "sql": sql, "db_id": name, "db_path": str(path)})
    spec = tmp_path / "dbs.jsonl"
    spec.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return f"file:{spec}"


def test_synth_on_ray_equals_one_process(local_ray, tmp_path) -> None:
    from alignsql.synth.config import SynthConfig
    from alignsql.synth.run import run_synth

    spec = _two_databases(tmp_path)
    common = dict(db=spec, templates_from=spec, n=10, questions=False)
    run_synth(SynthConfig(out=str(tmp_path / "one"), **common))
    run_synth(SynthConfig(out=str(tmp_path / "ray"), ray=local_ray, **common))
    one, many = ((tmp_path / d / "round1_sql.jsonl").read_text() for d in ("one", "ray"))
    assert one == many and len(one.splitlines()) > 2
