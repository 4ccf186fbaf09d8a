"""LR-SQL on Qwen2.5-Coder-0.5B (issue 16, part 4): does slicing cost or buy anything on a
competent model, and does the trained pipeline find the tables and save memory?

On the merged Spider-train schema (150+ tables) and the config's held-out question split:

* ``full_schema_untuned``: untuned Qwen given every table (it fits Qwen's 32k context): a link
  prompt with all tables, SQL over all tables;
* ``sliced_untuned``: untuned Qwen through LR-SQL's walk over the slices, SQL over the tables
  it linked;
* ``lrsql_trained``: the link model trained on every (question, slice) sample (the walk's real
  positive rate) and the SQL generator on the linked tables, one epoch each, prefix-shared.

Each gets table exact match, recall, precision and EX with bootstrap 95% intervals over the
test questions, and paired comparisons against ``full_schema_untuned`` (EX: exact McNemar;
recall: paired bootstrap). Peak training memory of each stage and of full-schema SFT at batch 1
comes from bench/lrsql_probe.py (a fresh process per stage, two steps on the longest samples).

Resumable: every piece is a subprocess writing its own summary, skipped when it exists.

    nohup python bench/lrsql_qwen.py > bench/out/lrsql_qwen.log 2>&1 &
    python bench/lrsql_qwen.py --partial       # summarize what has finished
    python bench/lrsql_qwen.py --smoke         # 8 + 4 questions, 2 steps, no probes: plumbing
    python bench/lrsql_qwen.py --probes-only   # the memory probes alone, added to the committed
                                               # systems (their run folders are gone)
    python bench/lrsql_qwen.py --full-sft      # everything, plus full-schema SFT (the paper's
                                               # baseline, bench/lrsql_full_sft.py) paired
                                               # against the trained LR-SQL run
    python bench/lrsql_qwen.py --table         # the committed result as markdown (docs)
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from precision_probe import cpu  # noqa: E402

from alignsql.eval.significance import mean_interval, paired_bootstrap, paired_comparison
from alignsql.eval.tables import question_scores

OUT = ROOT / "bench" / "out" / "lrsql_qwen"
CONFIG = "configs/lrsql/qwen2.5-coder-0.5b_lora.yaml"
MODEL = "qwen2.5-coder-0.5b"
RUN = "lrsql_fk"  # the name lrsql_probe.py reads linked training tables from
PROBES = [("link", 1), ("sqlgen", 1), ("full", 1)]
TABLE_KEYS = ("exact", "recall", "precision")


SMOKE = ["n_train=8", "n_test=4", "max_steps=2"]
EXTRA: list[str] = []  # SMOKE with --smoke
FULL_SFT = False  # --full-sft: the trained full-schema baseline is part of the result


def cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "alignsql.cli.main", "lrsql", *args, "--config",
                    CONFIG, f"name={RUN}", f"output_dir={OUT}", *EXTRA], check=True, cwd=ROOT)


def probe(stage: str, batch: int) -> None:
    path = OUT / f"probe_{stage}_b{batch}.json"
    if not path.exists():
        proc = subprocess.run([sys.executable, str(ROOT / "bench" / "lrsql_probe.py"), stage,
                               str(OUT), str(batch), "--config", CONFIG], check=False, cwd=ROOT)
        if not path.exists():
            raise SystemExit(f"probe {stage} batch {batch} failed (exit {proc.returncode})")


def _read(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def per_question(folder: Path) -> dict[str, dict] | None:
    """Each test question's table scores and execution outcome (1 correct, 0 otherwise)."""
    if not (folder / "preds.jsonl").exists():
        return None
    rows = {}
    for line in (folder / "preds.jsonl").open():
        r = json.loads(line)
        rows[r["id"]] = question_scores(set(r["gold_tables"]), set(r["tables"]))
    for line in (folder / "results.jsonl").open():
        r = json.loads(line)
        if r["id"] in rows and r["status"] not in ("gold_error", "missing_db"):
            rows[r["id"]]["ex"] = float(r["status"] == "correct")
    return rows


def system(rows: dict[str, dict]) -> dict:
    out: dict = {"n": len(rows)}
    for key in (*TABLE_KEYS, "ex"):
        vals = [r[key] for r in rows.values() if key in r]
        out[key] = sum(vals) / len(vals) if vals else None
        out[f"{key}_ci"] = list(mean_interval(vals)) if vals else None
    out["n_ex_scored"] = sum("ex" in r for r in rows.values())
    return out


def versus(a: dict[str, dict], b: dict[str, dict]) -> dict:
    """b against a on the questions both scored: EX paired (McNemar), recall paired bootstrap."""
    ids = sorted(set(a) & set(b))
    both = [i for i in ids if "ex" in a[i] and "ex" in b[i]]
    ex = paired_comparison([int(a[i]["ex"]) for i in both], [int(b[i]["ex"]) for i in both])
    ra, rb = [a[i]["recall"] for i in ids], [b[i]["recall"] for i in ids]
    return {"ex": ex, "recall": {"a": sum(ra) / len(ra), "b": sum(rb) / len(rb),
                                 "diff": (sum(rb) - sum(ra)) / len(ra),
                                 "ci": list(paired_bootstrap(ra, rb))}}


def summary() -> dict:
    run = OUT / RUN
    folders = {"full_schema_untuned": run / "baseline" / MODEL / "full_schema",
               "sliced_untuned": run / "baseline" / MODEL / "sliced",
               "lrsql_trained": run / "eval", "full_schema_sft": run / "full_sft" / "eval"}
    rows = {name: per_question(f) for name, f in folders.items()}
    wanted = [k for k in folders if FULL_SFT or k != "full_schema_sft"]
    probes = {f"{s}_b{b}": _read(OUT / f"probe_{s}_b{b}.json") for s, b in PROBES}
    peak = lambda s: (probes[f"{s}_b1"] or {}).get("peak_rss_mb")
    mem = {"full_schema_sft": peak("full"), "schema_link": peak("link"),
           "sql_generation": peak("sqlgen")}
    base, trained = _read(run / "baseline" / MODEL / "summary.json"), _read(run / "summary.json")
    ref = rows["full_schema_untuned"]
    return {
        "complete": all(rows[k] for k in wanted) and all(probes.values()),
        "model": MODEL,
        "n_tables": (trained or base or {}).get("n_tables"),
        "n_slices": (trained or {}).get("n_slices"),
        "systems": {k: system(v) for k, v in rows.items() if v},
        "vs_full_schema_untuned": {k: versus(ref, v) for k, v in rows.items()
                                   if v and ref and k != "full_schema_untuned"},
        # the paper's EX claim: LR-SQL against fine-tuning with the whole schema
        "vs_full_schema_sft": ({"lrsql_trained": versus(rows["full_schema_sft"],
                                                        rows["lrsql_trained"])}
                               if rows["full_schema_sft"] and rows["lrsql_trained"] else None),
        "full_schema_sft_run": _read(run / "full_sft" / "summary.json"),
        "peak_mem_mb": mem,
        "larger_lrsql_stage_vs_full": (max(mem["schema_link"], mem["sql_generation"])
                                       / mem["full_schema_sft"] if all(mem.values()) else None),
        "probes": probes,
        "full_schema_prompt_tokens": (base or {}).get("full_schema_prompt_tokens"),
        "lrsql_run": trained,
        "link_samples": (_read(run / "link" / "summary.json") or {}).get("n_records"),
        "sqlgen_samples": (_read(run / "sqlgen" / "summary.json") or {}).get("n_records"),
        # each stage's training time over every process it took (None: an older run's)
        "train_seconds": {"schema_link": (_read(run / "link" / "summary.json") or {}).get(
                              "train_seconds"),
                          "sql_generation": (_read(run / "sqlgen" / "summary.json") or {}).get(
                              "train_seconds"),
                          "full_schema_sft": (_read(run / "full_sft" / "summary.json")
                                              or {}).get("train_wall_s")},
        "machine": {"cpus": os.cpu_count(), "cpu": cpu(), "python": platform.python_version(),
                    "platform": platform.platform(), "load_avg": list(os.getloadavg())},
        "command": "python bench/lrsql_qwen.py" + (" --full-sft" if FULL_SFT else ""),
    }


def with_probes(committed: dict) -> dict:
    """The committed result with the probes' memory: for a checkout whose run folders are gone
    (the systems' per-question files lived in bench/out). The probes train on the base model
    alone; without the trained run's linked_train.json the sqlgen probe fills its prompts to
    the generator's budget (bench/lrsql_probe.py)."""
    fresh = summary()
    out = {**committed, **{k: fresh[k] for k in ("peak_mem_mb", "larger_lrsql_stage_vs_full",
                                                 "probes", "machine")}}
    out["complete"] = set(committed["systems"]) == {"full_schema_untuned", "sliced_untuned",
                                                   "lrsql_trained"} and all(
        fresh["probes"].values())
    out["probes_command"] = "python bench/lrsql_qwen.py --probes-only"
    return out


def main(partial: bool, smoke: bool, probes_only: bool = False, full_sft: bool = False) -> None:
    global OUT, FULL_SFT
    FULL_SFT = full_sft
    if smoke:
        OUT = OUT.with_name("lrsql_qwen_smoke")
        EXTRA.extend(SMOKE)
    OUT.mkdir(parents=True, exist_ok=True)
    if probes_only:
        for stage, batch in PROBES:
            probe(stage, batch)
        path = ROOT / "bench" / "results" / "lrsql_qwen.json"
        result = with_probes(json.loads(path.read_text()))
        path.write_text(json.dumps(result, indent=2))
        print(json.dumps({k: result[k] for k in ("complete", "peak_mem_mb",
                                                 "larger_lrsql_stage_vs_full")}, indent=2))
        return
    if not partial:
        if not (OUT / RUN / "baseline" / MODEL / "summary.json").exists():
            cli("baseline")
        if not (OUT / RUN / "summary.json").exists():
            cli("run", *(["--resume"] if (OUT / RUN).exists() else []))
        for stage, batch in [] if smoke else PROBES:
            probe(stage, batch)
        if FULL_SFT:
            subprocess.run([sys.executable, str(ROOT / "bench" / "lrsql_full_sft.py"), str(OUT),
                            "--config", CONFIG, f"name={RUN}", *EXTRA], check=True, cwd=ROOT)
    result = summary()
    if smoke:  # plumbing, not a result
        print(json.dumps(result["systems"], indent=2))
        return
    (ROOT / "bench" / "results" / "lrsql_qwen.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: result[k] for k in ("complete", "n_tables", "systems", "peak_mem_mb",
                                             "larger_lrsql_stage_vs_full")}, indent=2))


NAMES = {"full_schema_untuned": "untuned, full schema", "sliced_untuned": "untuned, sliced walk",
         "lrsql_trained": "LR-SQL trained (link + SQL generator)",
         "full_schema_sft": "full-schema SFT (LoRA, same questions)"}
STAGES = {"full": "full-schema SFT", "link": "LR-SQL schema link (one slice)",
          "sqlgen": "LR-SQL SQL generation"}


def _cell(value: float | None, ci: list | None) -> str:
    if value is None:
        return ""
    return f"{value:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def _paired(v: dict | None) -> str:
    """"+0.26 [+0.16, +0.36] | 2.6e-06 (29 / 3)": EX difference, interval, p (gained / lost)."""
    if not v:
        return " | "
    ex = v["ex"]
    return (f"{ex['diff']:+.2f} [{ex['ci'][0]:+.2f}, {ex['ci'][1]:+.2f}] | {ex['p_value']:.2g} "
            f"({ex['b_only']} / {ex['a_only']})")


def table(result: dict) -> str:
    """The systems, the paired comparisons and the memory probes as markdown for
    docs/results.md, straight from the result."""
    head = ("| system | n | exact set | recall | precision | EX | EX vs untuned full schema "
            "[95% CI] | p (gained / lost) |")
    rows = [head, "|" + "---|" * 8]
    for key, s in result["systems"].items():
        cells = [_cell(s[k], s.get(f"{k}_ci")) for k in (*TABLE_KEYS, "ex")]
        vs = _paired(result.get("vs_full_schema_untuned", {}).get(key))
        rows.append(f"| {NAMES.get(key, key)} | {s['n']} | {' | '.join(cells)} | {vs} |")
    for key, v in (result.get("vs_full_schema_sft") or {}).items():
        r = v["recall"]
        head = ("| against full-schema SFT | EX difference [95% CI] | p (gained / lost) | "
                "recall difference [95% CI] |")
        rows += ["", head, "|---|---|---|---|",
                 (f"| {NAMES.get(key, key)} | {_paired(v)} | {r['diff']:+.2f} "
                  f"[{r['ci'][0]:+.2f}, {r['ci'][1]:+.2f}] |")]
    rows += ["", "| stage (batch 1) | tokens per sample (mean / probed) | peak RSS MB |",
             "|---|---|---|"]
    for name, p in result.get("probes", {}).items():
        if p:
            rows.append(f"| {STAGES.get(p['stage'], name)} | {p['tokens_per_sample']:,.0f} / "
                        f"{p['probe_tokens_per_sample']:,.0f} | {p['peak_rss_mb']:,.0f} |")
    ratio = result.get("larger_lrsql_stage_vs_full")
    if ratio is not None:
        rows.append(f"\nlarger LR-SQL stage / full-schema SFT: {ratio:.0%}")
    return "\n".join(rows)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--partial", action="store_true", help="summarize finished runs only")
    ap.add_argument("--smoke", action="store_true", help="a tiny run of every step")
    ap.add_argument("--probes-only", action="store_true",
                    help="run the memory probes and add them to the committed result")
    ap.add_argument("--full-sft", action="store_true",
                    help="also train and score full-schema SFT, paired with LR-SQL")
    ap.add_argument("--table", action="store_true",
                    help="print bench/results/lrsql_qwen.json as markdown")
    a = ap.parse_args()
    if a.table:
        print(table(json.loads((ROOT / "bench" / "results" / "lrsql_qwen.json").read_text())))
    else:
        main(a.partial, a.smoke, a.probes_only, a.full_sft)
