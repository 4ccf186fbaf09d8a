import json
import shutil

import numpy as np
import pytest
import torch

from alignsql.errors import AlignSQLError
from alignsql.models.export import ExportConfig, export_gguf, rotary_permute


def test_rotary_permute_interleaves_each_heads_halves() -> None:
    """One head of dimension 4 (rows r0..r3): Hugging Face keeps the rotary halves apart,
    [x0, x1 | y0, y1]; llama.cpp wants the pairs interleaved, [x0, y0, x1, y1] = rows
    0, 2, 1, 3. Two heads permute within each head: rows 0,2,1,3, 4,6,5,7."""
    w = np.arange(8, dtype=np.float32).reshape(8, 1)
    assert rotary_permute(w[:4], 1).ravel().tolist() == [0, 2, 1, 3]
    assert rotary_permute(w, 2).ravel().tolist() == [0, 2, 1, 3, 4, 6, 5, 7]


def _logits(model, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(ids).logits[0]


@pytest.mark.parametrize("quant,tol", [("f32", 1e-5), ("q8_0", 0.05)])
def test_export_reloads_with_the_same_logits_and_tokens(tiny_model_dir, tmp_path, quant, tol) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run = tmp_path / "run"
    shutil.copytree(tiny_model_dir, run / "merged")
    (run / "merged" / "prompt.json").write_text(json.dumps({"sample_values": 2,
                                                           "max_prompt_tokens": 300}))
    info = export_gguf(str(run), ExportConfig(quant=quant))
    out = run / f"run-{quant}.gguf"
    assert info["out"] == str(out) and out.exists()
    assert info["prompt"]["sample_values"] == 2 and info["prompt"]["answer_prefix"] == "```sql\n"

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    back_tok = AutoTokenizer.from_pretrained(run, gguf_file=out.name)
    text = "SELECT name FROM singer WHERE age > 20 <|im_end|>"
    assert back_tok(text)["input_ids"] == tok(text)["input_ids"]
    assert back_tok.chat_template == tok.chat_template

    ids = torch.tensor([tok("Question: How many singers are there?")["input_ids"]])
    original = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    back = AutoModelForCausalLM.from_pretrained(run, gguf_file=out.name, dtype=torch.float32)
    a, b = _logits(original, ids), _logits(back, ids)
    assert (a - b).abs().max().item() < tol * a.abs().max().item() + 1e-6
    assert torch.equal(a.argmax(-1), b.argmax(-1))


def test_gguf_carries_the_prompt_format(tiny_model_dir, tmp_path) -> None:
    import gguf

    out = tmp_path / "m.gguf"
    export_gguf(str(tiny_model_dir), ExportConfig(quant="f16", out=str(out)))
    fields = gguf.GGUFReader(out).fields
    prompt = json.loads(fields["alignsql.prompt"].contents())
    assert prompt["stop"] == ["```", "\n\n"] and "{question}" in prompt["user"]
    assert fields["tokenizer.ggml.pre"].contents() == "default"


def test_export_refuses_a_run_without_merged_model_and_a_bad_quant(tiny_model_dir, tmp_path) -> None:
    run = tmp_path / "r"
    run.mkdir()
    (run / "config.yaml").write_text("model: x\n")
    with pytest.raises(AlignSQLError, match="no merged model"):
        export_gguf(str(run), ExportConfig())
    with pytest.raises(AlignSQLError, match="--quant must be one of"):
        ExportConfig(quant="q4")
