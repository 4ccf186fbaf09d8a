"""Losses shared by the trainers.

``completion_loss``: the causal-LM loss of SFT, with the vocabulary projection computed only at
the positions that carry loss. With completion-only loss most positions are prompt (a schema is
hundreds of tokens, its SQL tens), and for a 150k-word vocabulary (Qwen2.5) the logits of every
position dominate training memory and a good share of the time. The value is the same as the
model's own loss: mean over the target tokens, or sum / ``num_items_in_batch`` when the trainer
passes it (gradient accumulation), of -log p(token_{t+1} | tokens_<=t).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE = -100


def completion_loss(model, inputs: dict, num_items_in_batch=None) -> torch.Tensor:
    labels = inputs["labels"]
    kwargs = {k: inputs[k] for k in ("attention_mask", "position_ids") if k in inputs}
    hidden = model.get_decoder()(input_ids=inputs["input_ids"], **kwargs).last_hidden_state
    targets = labels[:, 1:]
    keep = targets != IGNORE
    logits = model.get_output_embeddings()(hidden[:, :-1][keep]).float()
    total = F.cross_entropy(logits, targets[keep], reduction="sum")
    denom = num_items_in_batch if num_items_in_batch is not None else keep.sum()
    if isinstance(denom, torch.Tensor):
        denom = denom.to(total.device)
    return total / denom
