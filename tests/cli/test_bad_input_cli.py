"""Every user mistake is one line on stderr and exit code 2: never a traceback, never
accepted with a wrong meaning. Each case runs the real CLI in-process (nothing heavy runs:
every mistake is caught before a model loads or a file is written)."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from alignsql.cli.main import build_parser, main


@pytest.fixture(scope="module")
def files(tmp_path_factory, tiny_model_dir) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad")
    db = d / "shop.sqlite"
    con = sqlite3.connect(db)
    con.executescript("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, price REAL);"
                      "INSERT INTO item VALUES (1, 'pen', 1.5), (2, 'cup', 4.0);")
    con.commit()
    con.close()
    good = d / "good.jsonl"
    good.write_text(json.dumps({"question": "how many items?", "sql": "SELECT count(*) FROM item",
                                "db_id": "shop", "db_path": "shop.sqlite"}) + "\n")
    configs = Path(__file__).resolve().parents[2] / "configs"
    out = {"db": db, "good": good, "blocker": d / "a_file", "dir": d, "tiny": tiny_model_dir,
           "sft": configs / "sft" / "smollm2-135m_lora.yaml",
           "selfplay": configs / "selfplay" / "smollm2-135m_lora.yaml",
           "lrsql": configs / "lrsql" / "smollm2-135m_lora.yaml"}
    out["blocker"].write_text("x")
    (d / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    (d / "unknown.yaml").write_text("no_such_key: 1\n")
    (d / "list.yaml").write_text("- 1\n- 2\n")
    (d / "broken.yaml").write_text("a: [1, 2\n")
    (d / "empty.jsonl").write_text("")
    (d / "bad.jsonl").write_text("{oops\n")
    (d / "notjson.json").write_text("[1, 2")
    (d / "mixed.jsonl").write_text('{"id": "1", "sql": "SELECT 1"}\n{"sql": "SELECT 2"}\n')
    (d / "x.parquet").write_text("not parquet")
    (d / "x.xlsx").write_text("?")
    (d / "nodb.jsonl").write_text(json.dumps({"question": "q", "sql": "SELECT 1"}) + "\n")
    return out


def _cases() -> list[tuple[str, list[str]]]:
    """(what, argv) with {db}, {good}, {blocker}, {dir} filled from the fixture."""
    c: list[tuple[str, list[str]]] = []

    def add(what: str, *argv: str) -> None:
        c.append((what, list(argv)))
    spec = "file:{good}"
    # eval
    for opt, val in [("--timeout", "0"), ("--timeout", "nan"), ("--timeout", "inf"),
                     ("--timeout", "-1"), ("--max-rows", "0"), ("--max-rows", "-5"),
                     ("--workers", "0"), ("--limit", "0"), ("--ves-repeats", "0"),
                     ("--n-boot", "0"), ("--timeout", "abc"), ("--max-rows", "1.5")]:
        add(f"eval {opt} {val}", "eval", "--dataset", spec, "--gold-as-pred", opt, val)
    add("eval no preds", "eval", "--dataset", spec)
    add("eval preds missing", "eval", "--dataset", spec, "--preds", "{dir}/none.jsonl")
    add("eval preds malformed", "eval", "--dataset", spec, "--preds", "{dir}/bad.jsonl")
    add("eval preds ids mixed", "eval", "--dataset", spec, "--preds", "{dir}/mixed.jsonl")
    add("eval unwritable out", "eval", "--dataset", spec, "--gold-as-pred", "--out",
        "{blocker}/out")
    add("eval unknown dataset", "eval", "--dataset", "nosuch:dev", "--gold-as-pred")
    add("eval unknown split", "eval", "--dataset", "spider:nosplit", "--gold-as-pred")
    add("eval missing file", "eval", "--dataset", "file:{dir}/none.jsonl", "--gold-as-pred")
    add("eval empty file", "eval", "--dataset", "file:{dir}/empty.jsonl", "--gold-as-pred")
    add("eval bad parquet", "eval", "--dataset", "file:{dir}/x.parquet", "--gold-as-pred")
    add("eval unknown type", "eval", "--dataset", "file:{dir}/x.xlsx", "--gold-as-pred")
    add("eval malformed json", "eval", "--dataset", "file:{dir}/notjson.json", "--gold-as-pred")
    add("eval compare one", "eval", "--dataset", spec, "--compare", "{good}")
    add("eval compare missing", "eval", "--dataset", spec, "--compare", "{dir}/n1.jsonl",
        "--compare", "{dir}/n2.jsonl")
    add("eval config latin-1", "eval", "--config", "{dir}/latin1.yaml")
    add("eval unknown option", "eval", "--no-such-option", "1")
    add("eval ray nothing there", "eval", "--dataset", spec, "--gold-as-pred", "--ray",
        "127.0.0.1:1")
    add("eval ray malformed", "eval", "--dataset", spec, "--gold-as-pred", "--ray", "nonsense")
    add("export bad quant", "models", "export", "{tiny}", "--quant", "q3")
    add("export not a model", "models", "export", "{dir}")
    # predict (caught before a model loads)
    for opt, val in [("--sample", "-1"), ("--sample", "0"), ("--limit", "0"),
                     ("--limit", "-3"), ("--batch-size", "0"), ("--num-samples", "0"),
                     ("--temperature", "-0.5"), ("--temperature", "nan"),
                     ("--max-new-tokens", "0"), ("--max-prompt-tokens", "8"),
                     ("--dtype", "int3"), ("--device", "tpu"), ("--sample-values", "-1"),
                     ("--backend", "tgi"), ("--base-url", "http://127.0.0.1:9")]:
        add(f"predict {opt} {val}", "predict", "--dataset", spec, "--out", "{dir}/p.jsonl",
            opt, val)
    add("predict model path missing", "predict", "--model", "{dir}/no_model", "--dataset", spec,
        "--out", "{dir}/p2.jsonl")
    add("predict unknown model name", "predict", "--model", "gpt-17", "--dataset", spec,
        "--out", "{dir}/p3.jsonl")
    add("predict unwritable out", "predict", "--dataset", spec, "--out", "{blocker}/p.jsonl")
    add("predict unknown dataset", "predict", "--dataset", "nosuch:x", "--out", "{dir}/p4.jsonl")
    add("predict cuda without gpu", "predict", "--dataset", spec, "--device", "cuda",
        "--out", "{dir}/p5.jsonl")
    # align / select / template
    for opt, val in [("--n-boot", "0"), ("--target-sample", "-1"), ("--kl-scale", "0"),
                     ("--kl-scale", "-1"), ("--max-n", "0"), ("--eps", "-1"),
                     ("--eps", "nan"), ("--workers", "0"), ("--direction", "sideways"),
                     ("--bootstrap", "maybe"), ("--top", "-1")]:
        add(f"align {opt} {val}", "align", "--train", spec, "--target", spec, opt, val)
    add("align no train", "align", "--target", spec)
    add("align no target", "align", "--train", spec)
    add("align unwritable out", "align", "--train", spec, "--target", spec, "--out",
        "{blocker}/a")
    add("align preds missing", "align", "--train", spec, "--target", spec, "--preds",
        "{dir}/none.jsonl")
    for opt, val in [("--k", "0"), ("--k", "-1"), ("--target-sample", "0"), ("--max-n", "0"),
                     ("--workers", "0")]:
        add(f"select {opt} {val}", "select", "--pool", spec, "--target", spec, "--out",
            "{dir}/s.jsonl", opt, val)
    add("select no pool", "select", "--target", spec, "--out", "{dir}/s.jsonl")
    add("select unwritable out", "select", "--pool", spec, "--target", spec, "--out",
        "{blocker}/s.jsonl")
    add("select pool is the target", "select", "--pool", spec, "--target", spec, "--out",
        "{dir}/s2.jsonl")
    add("template bad dialect", "template", "--dialect", "foo", "SELECT 1")
    add("template empty", "template", "")
    # train sft (caught when the config is built)
    for kv in ["batch_size=0", "grad_accum=0", "learning_rate=-1", "learning_rate=nan",
               "lora_r=0", "lora_targets=[nonexistent_proj]", "lora_targets=nonexistent_proj", "epochs=0", "warmup_ratio=5",
               "val_fraction=0.99", "logging_steps=0", "save_steps=0", "group_size=0",
               "lora_dropout=1.0", "max_length=0", "method=half", "no_such_key=1",
               "train=[]", "optimizer=sgdx", "batch_size=abc", "max_prompt_tokens=5000"]:
        add(f"train sft {kv}", "train", "sft", "--config", "{sft}", "output_dir={dir}/runs",
            "model={tiny}", kv)
    add("train sft config latin-1", "train", "sft", "--config", "{dir}/latin1.yaml")
    add("train sft config unknown key", "train", "sft", "--config", "{dir}/unknown.yaml")
    add("train sft config not a mapping", "train", "sft", "--config", "{dir}/list.yaml")
    add("train sft config broken yaml", "train", "sft", "--config", "{dir}/broken.yaml")
    add("train sft config missing", "train", "sft", "--config", "{dir}/none.yaml")
    add("train sft override not k=v", "train", "sft", "--config", "{sft}", "batch_size")
    add("train sft unwritable output", "train", "sft", "--config", "{sft}", "train=[file:{good}]",
        "val_fraction=0", "eval=null", "output_dir={blocker}/runs")
    for kv in ["k=0", "rounds=0", "beta=-1", "loss=magic", "no_such_key=1"]:
        add(f"train selfplay {kv}", "train", "selfplay", "--config", "{selfplay}",
            "output_dir={dir}/sp", kv)
    # synth
    for opt, val in [("--n", "0"), ("--rounds", "0"), ("--mode", "random"),
                     ("--target-limit", "-1")]:
        add(f"synth {opt} {val}", "synth", "--db", "{db}", "--out", "{dir}/syn", opt, val)
    add("synth db missing", "synth", "--db", "{dir}/none.sqlite", "--out", "{dir}/syn2")
    add("synth unwritable out", "synth", "--db", "{db}", "--out", "{blocker}/syn")
    # lrsql
    add("lrsql run unknown key", "lrsql", "run", "--config", "{lrsql}", "no_such_key=1")
    add("lrsql run bad slice", "lrsql", "run", "--config", "{lrsql}", "slice_tokens=0")
    # adapt
    add("adapt db missing", "adapt", "--db", "{dir}/none.sqlite", "--workload", "{good}",
        "--out", "{dir}/ad1")
    add("adapt workload missing", "adapt", "--db", "{db}", "--workload", "{dir}/none.sql",
        "--out", "{dir}/ad2")
    add("adapt no db", "adapt", "--workload", "{good}", "--out", "{dir}/ad3")
    add("adapt budget 0", "adapt", "--db", "{db}", "--workload", "{good}", "--budget-min", "0",
        "--out", "{dir}/ad4")
    add("adapt method", "adapt", "--db", "{db}", "--workload", "{good}", "--method", "half",
        "--out", "{dir}/ad5")
    add("adapt learning rate", "adapt", "--db", "{db}", "--workload", "{good}",
        "--learning-rate", "-1", "--out", "{dir}/ad6")
    add("adapt unwritable out", "adapt", "--db", "{db}", "--workload", "{good}", "--out",
        "{blocker}/ad")
    # serve
    for opt, val in [("--port", "0"), ("--port", "70000"), ("--batch-size", "0"),
                     ("--timeout", "nan"), ("--max-rows", "0"), ("--max-new-tokens", "0")]:
        add(f"serve {opt} {val}", "serve", "--db", "{db}", opt, val)
    add("serve db missing", "serve", "--db", "{dir}/none.sqlite")
    add("serve no db", "serve")
    add("serve db is not sqlite", "serve", "--db", "{good}")
    # models / data / demo
    add("models prepare unknown", "models", "prepare", "gpt-17")
    add("data unknown action", "data", "nope")
    add("demo sample 0", "demo", "--sample", "0", "--out", "{dir}/demo")
    add("demo unwritable out", "demo", "--out", "{blocker}/demo", "--sample", "1")
    return c


CASES = _cases()


def test_the_suite_is_large_enough() -> None:
    assert len(CASES) >= 100


def test_every_command_has_working_help(capsys) -> None:
    """argparse %-formats help text: one stray '%' in a docstring made --help a traceback."""
    parser = build_parser()
    commands = [a for a in parser._subparsers._group_actions[0].choices]  # noqa: SLF001
    for name in commands:
        with pytest.raises(SystemExit) as done:
            main([name, "--help"])
        assert done.value.code == 0, name
    capsys.readouterr()


@pytest.mark.parametrize("what,argv", CASES, ids=[w for w, _ in CASES])
def test_bad_input_is_one_line(files, capsys, what: str, argv: list[str]) -> None:
    argv = [a.format(**files) for a in argv]
    before = set(files["dir"].rglob("*"))
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: usage line + one error line
        code = exc.code
    # a mistake leaves nothing behind (an empty predictions file once stayed after a typo)
    assert set(files["dir"].rglob("*")) == before, f"{what}: wrote {set(files['dir'].rglob('*')) - before}"
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, f"{what}: accepted (exit {code})"
    assert err and "error:" in err[-1] and "Traceback" not in "\n".join(err), err
    errors = [line for line in err if "error:" in line]
    assert len(errors) == 1 and len(err) <= 2, err
