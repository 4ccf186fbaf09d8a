"""Two ways to compute a group's shared prefix once, against not sharing it: one LoRA step
(forward + backward, bf16 autocast) of 8 members on a 392-token prefix (Spider's average
with the Qwen tokenizer; member = 26 question + 38 SQL tokens), Qwen2.5-Coder-0.5B.

- ``packed``: one row, block attention mask (alignsql.train.prefix, what training uses);
- ``kv``: the prefix run once with a cache kept in the autograd graph, its keys and values
  expanded over a batch of the 8 suffixes;
- ``unshared``: the 8 examples as 8 full rows.

Each layout runs in its own process (peak RSS is that process's): one warm-up step, then the
mean of 3 steps.

    python bench/prefix_layout_probe.py   -> bench/results/prefix_layout_probe.json
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = "qwen2.5-coder-0.5b"
P, REST, SQL, K, STEPS = 392, 26, 38, 8, 3


def _records():
    import torch
    g = torch.Generator().manual_seed(0)
    ids = lambda n: torch.randint(100, 5000, (n,), generator=g).tolist()  # noqa: E731
    prefix = ids(P)
    return [{"prefix_ids": prefix, "rest_ids": ids(REST), "completion_ids": ids(SQL)}
            for _ in range(K)]


def _kv_loss(model, recs):
    import torch
    dec = model.get_decoder()
    cache = dec(input_ids=torch.tensor([recs[0]["prefix_ids"]]), use_cache=True).past_key_values
    cache.batch_repeat_interleave(K)
    ids = torch.tensor([r["rest_ids"] + r["completion_ids"] for r in recs])
    labels = torch.tensor([[-100] * REST + r["completion_ids"] for r in recs])
    pos = torch.arange(P, P + ids.shape[1])[None].expand(K, -1)
    mask = torch.ones(K, P + ids.shape[1], dtype=torch.long)
    hidden = dec(input_ids=ids, position_ids=pos, attention_mask=mask, past_key_values=cache,
                 use_cache=True).last_hidden_state
    targets = labels[:, 1:]
    keep = targets != -100
    logits = model.get_output_embeddings()(hidden[:, :-1][keep]).float()
    return torch.nn.functional.cross_entropy(logits, targets[keep])


def measure(layout: str) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model

    from alignsql.models.loading import load
    from alignsql.train.losses import completion_loss
    from alignsql.train.prefix import GroupCollator, batch_item
    lm = load(MODEL, dtype="fp32", device="cpu")
    model = get_peft_model(lm.model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0,
                                                target_modules="all-linear")).train()
    recs = _records()
    item = batch_item(recs, [list(range(K))])

    def step() -> None:
        with torch.autocast("cpu", torch.bfloat16):
            if layout == "kv":
                loss = _kv_loss(model, recs)
            else:
                batch = GroupCollator(0, layout == "packed")([item])
                loss = completion_loss(model, {k: v for k, v in batch.items()
                                               if k not in ("n_tokens", "member")})
        loss.backward()
        model.zero_grad()
    step()
    start = time.perf_counter()
    for _ in range(STEPS):
        step()
    return {"layout": layout, "s_per_step": (time.perf_counter() - start) / STEPS,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    if len(sys.argv) > 1:
        print(json.dumps(measure(sys.argv[1])))
        return
    runs = []
    for layout in ("packed", "kv", "unshared"):
        uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        done = subprocess.run([sys.executable, __file__, layout], check=True, text=True,
                              capture_output=True, cwd=ROOT)
        runs.append({**json.loads(done.stdout.strip().splitlines()[-1]), "uptime_before": uptime})
        print(json.dumps(runs[-1]), flush=True)
    out = {"model": MODEL, "prefix_tokens": P, "member_tokens": REST + SQL, "members": K,
           "runs": runs, "cpus": os.cpu_count(), "command": "python bench/prefix_layout_probe.py"}
    (ROOT / "bench" / "results" / "prefix_layout_probe.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
