import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("ALIGNSQL_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Caches go to a temp folder so tests neither read nor pollute the user's cache."""
    monkeypatch.setenv("ALIGNSQL_HOME", str(tmp_path_factory.mktemp("home")))


@pytest.fixture
def data_root() -> Path:
    if not (SHARED / "spider" / "tables.json").exists():
        pytest.skip(f"shared data not found at {SHARED}")
    return SHARED


TINY_CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def build_tiny_model(path: Path, seed: int = 0, init_range: float = 0.02,
                     hidden_size: int = 64, heads: int = 4) -> Path:
    """A 2-layer random Llama (hidden 64) and a BPE tokenizer trained here in milliseconds:
    the real generation and training code paths, no download. A larger ``init_range`` makes
    attention sharp, so outputs depend on positions and padding (for exactness tests)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    corpus = ["SELECT name FROM singer WHERE age > 20", "CREATE TABLE singer (id INT, name TEXT)",
              "Question: How many singers are there?", "```sql\nSELECT count(*) FROM t\n```",
              "You are an expert in SQLite. Answer with one SQL query only."] * 20
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<unk>", "<|im_start|>",
                                                                  "<|im_end|>", "<pad>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token="<|im_end|>",
                                   pad_token="<pad>", bos_token="<|im_start|>")
    fast.chat_template = TINY_CHAT_TEMPLATE
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(fast), hidden_size=hidden_size,
                      intermediate_size=2 * hidden_size, num_hidden_layers=2,
                      num_attention_heads=heads, num_key_value_heads=max(1, heads // 2),
                      max_position_embeddings=2048, eos_token_id=fast.eos_token_id,
                      pad_token_id=fast.pad_token_id, bos_token_id=fast.bos_token_id,
                      initializer_range=init_range)
    model = LlamaForCausalLM(cfg)
    model.save_pretrained(path)
    fast.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def sharp_model_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("sharp") / "model", init_range=0.5)


@pytest.fixture(scope="session")
def wide_model_dir(tmp_path_factory) -> Path:
    """Heads of size 64 (two of them): vLLM's CPU attention has no kernel for size 16."""
    return build_tiny_model(tmp_path_factory.mktemp("wide") / "model", hidden_size=128, heads=2)
