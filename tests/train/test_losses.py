import torch

from alignsql.train.losses import completion_loss


def test_completion_loss_equals_the_models_own_loss(tiny_model_dir) -> None:
    """Same batch, labels masked on a prompt prefix: the loss computed on target positions only
    must equal the model's full-logits loss (mean over target tokens)."""
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    torch.manual_seed(0)
    ids = torch.randint(5, 300, (2, 12))
    labels = ids.clone()
    labels[:, :7] = -100          # prompt
    labels[1, 10:] = -100         # right padding of the second row
    mask = torch.ones_like(ids)
    mask[1, 10:] = 0
    inputs = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    expected = model(**inputs).loss
    got = completion_loss(model, inputs)
    assert torch.allclose(got, expected, atol=1e-5)
    n = (labels[:, 1:] != -100).sum()
    assert torch.allclose(completion_loss(model, inputs, num_items_in_batch=n * 2), expected / 2,
                          atol=1e-5)
    got.backward()
    assert model.get_output_embeddings().weight.grad is not None
