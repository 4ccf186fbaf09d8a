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


def completion_loss(model, inputs: dict, num_items_in_batch=None,
                    logits_only: bool = True) -> torch.Tensor:
    """``logits_only=False`` projects every position (the model's usual forward), for
    comparison; the value is the same."""
    labels = inputs["labels"]
    targets = labels[:, 1:]
    keep = targets != IGNORE
    logits = _logits_where(model, inputs, keep, logits_only)
    total = F.cross_entropy(logits, targets[keep], reduction="sum")
    denom = num_items_in_batch if num_items_in_batch is not None else keep.sum()
    if isinstance(denom, torch.Tensor):
        denom = denom.to(total.device)
    return total / denom


def _mask_kwargs(inputs: dict) -> dict:
    return {k: inputs[k] for k in ("attention_mask", "position_ids") if k in inputs}


def _logits_where(model, inputs: dict, keep: torch.Tensor, logits_only: bool = True
                  ) -> torch.Tensor:
    """fp32 logits predicting the next token at the positions ``keep`` marks ([rows, L-1]),
    flattened. The call goes through ``model`` itself (a DDP / FSDP / DeepSpeed wrapper syncs
    gradients in its forward): with ``logits_only`` the model projects to the vocabulary only
    at positions some row needs (transformers' ``logits_to_keep``), not at every prompt token."""
    kwargs = _mask_kwargs(inputs)
    if not logits_only:
        return model(input_ids=inputs["input_ids"], **kwargs).logits[:, :-1][keep].float()
    cols = keep.any(0).nonzero().squeeze(-1)  # positions t whose logits predict token t+1
    logits = model(input_ids=inputs["input_ids"], logits_to_keep=cols, **kwargs).logits
    return logits[keep[:, cols]].float()


def member_logps(model, inputs: dict) -> torch.Tensor:
    """log p(completion | prompt) of every member of a batch of packed groups
    (alignsql.train.prefix): the sum over a member's labelled tokens of
    log p(token_{t+1} | tokens_<=t), indexed by the collator's ``member`` numbering."""
    targets = inputs["labels"][:, 1:]
    keep = targets != IGNORE
    logits = _logits_where(model, inputs, keep)
    token_logps = logits.log_softmax(-1).gather(-1, targets[keep][:, None]).squeeze(-1)
    member = inputs["member"][:, 1:][keep]
    n = int(inputs["member"].max()) + 1
    return torch.zeros(n, device=token_logps.device).index_add(0, member, token_logps)


def logistic_loss(t: torch.Tensor) -> torch.Tensor:
    """l(t) = log(1 + exp(-t)), computed stably as softplus(-t)."""
    return F.softplus(-t)


def error_driven_loss(main_gold: torch.Tensor, opp_gold: torch.Tensor, main_gen: torch.Tensor,
                      opp_gen: torch.Tensor, wrong: torch.Tensor, lam: float = 0.1) -> torch.Tensor:
    """SPFT-SQL's error-driven self-play loss ("Enhancing Large Language Model for Text-to-SQL
    Parsing by Self-Play Fine-Tuning", EMNLP 2025 Findings), on sequence log-probabilities:

        r(y) = log p_main(y|x) - log p_opp(y|x)
        L = mean over pairs of l( lam * r(y_gold) - R(y') * lam * r(y') ),  l(t) = log(1 + e^-t)

    with R(y') = 1 when the opponent's SQL y' returns a different result from the gold (wrong),
    0 when it matches. A correct y' is not pushed down: its pair only pulls toward the gold.
    ``wrong`` = R(y') as 0/1 floats. SPIN's loss is this with ``wrong`` all ones."""
    r_gold = main_gold - opp_gold
    r_gen = main_gen - opp_gen
    return logistic_loss(lam * r_gold - wrong * lam * r_gen).mean()


def spin_loss(main_gold: torch.Tensor, opp_gold: torch.Tensor, main_gen: torch.Tensor,
              opp_gen: torch.Tensor, lam: float = 0.1) -> torch.Tensor:
    """SPIN (Chen et al. 2024): every generated answer is treated as wrong (R = 1)."""
    return error_driven_loss(main_gold, opp_gold, main_gen, opp_gen,
                             torch.ones_like(main_gen), lam)


def dpo_loss(policy_chosen: torch.Tensor, ref_chosen: torch.Tensor, policy_rejected: torch.Tensor,
             ref_rejected: torch.Tensor, beta: float = 0.1) -> torch.Tensor:
    """DPO (Rafailov et al. 2023): l(beta * r(chosen) - beta * r(rejected)), r = log pi - log
    pi_ref. On (gold, execution-wrong) pairs with the frozen reference as "opponent" it is the
    error-driven loss restricted to wrong samples: the baselines share one code path."""
    return error_driven_loss(policy_chosen, ref_chosen, policy_rejected, ref_rejected,
                             torch.ones_like(policy_rejected), beta)
