"""Run by tests/train/test_multiprocess.py, alone or under torchrun: two optimizer steps of
the self-play preference loss on fixed pairs, then the weights saved to OUT.

    python preference_worker.py MODEL_DIR OUT GRAD_ACCUM
"""
import sys

import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainingArguments

from alignsql.train.dist import exit_if_distributed
from alignsql.train.preference import (
    PreferenceCollator,
    question_groups,
    steps,
    tokenize_group,
    trainer_class,
    with_opponent_logps,
)


def pairs() -> list[dict]:
    out = []
    for q in range(4):
        for k, wrong in enumerate((1.0, 0.0)[: 1 + q % 2]):
            out.append({"id": str(q), "prompt": f"Question {q}: how many singers?\n```sql\n",
                        "chosen": f"SELECT count(*) FROM singer WHERE age > {q}\n```",
                        "rejected": f"SELECT {q + k} FROM t\n```", "wrong": wrong})
    return out


def main(model_dir: str, out: str, grad_accum: int) -> None:
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(model_dir)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    collator = PreferenceCollator(tok.pad_token_id, True, "sdpa")
    items = steps([tokenize_group(g, tok) for g in question_groups(pairs())], 1)
    opponent = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    items = with_opponent_logps(items, opponent, collator)
    args = TrainingArguments(output_dir=f"{out}/checkpoints", max_steps=2,
                             per_device_train_batch_size=1, gradient_accumulation_steps=grad_accum,
                             learning_rate=1e-3, lr_scheduler_type="constant", seed=0,
                             data_seed=0, report_to=[], remove_unused_columns=False,
                             use_cpu=True, dataloader_num_workers=0, disable_tqdm=True,
                             save_strategy="no", ddp_find_unused_parameters=False)
    trainer = trainer_class()(model=model, args=args, train_dataset=Dataset.from_list(items),
                              data_collator=collator, processing_class=tok)
    trainer.model_accepts_loss_kwargs = False
    trainer.train()
    trainer.save_model(out)
    exit_if_distributed(0)  # as the CLI does (gloo's teardown can abort or deadlock)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
