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


def test_error_driven_loss_by_hand() -> None:
    """One pair, lam = 0.1. log-probs: main(gold) = -2, opp(gold) = -4 -> r(gold) = 2;
    main(gen) = -3, opp(gen) = -1 -> r(gen) = -2.
    Wrong (R = 1): t = 0.1*2 - 0.1*(-2) = 0.4;  l = log(1 + e^-0.4) = 0.5130152524.
    Right (R = 0): t = 0.1*2 = 0.2;             l = log(1 + e^-0.2) = 0.5981388693.
    lam = 1, wrong: t = 2 + 2 = 4;               l = log(1 + e^-4)   = 0.0181499279."""
    from alignsql.train.losses import error_driven_loss, spin_loss
    g, og, y, oy = (torch.tensor([v]) for v in (-2.0, -4.0, -3.0, -1.0))
    assert torch.isclose(error_driven_loss(g, og, y, oy, torch.tensor([1.0])), torch.tensor(0.5130152524))
    assert torch.isclose(error_driven_loss(g, og, y, oy, torch.tensor([0.0])), torch.tensor(0.5981388693))
    assert torch.isclose(error_driven_loss(g, og, y, oy, torch.tensor([1.0]), lam=1.0),
                         torch.tensor(0.0181499279))
    assert torch.isclose(spin_loss(g, og, y, oy), torch.tensor(0.5130152524))
    # mean over pairs: (0.5130152524 + 0.5981388693) / 2
    both = error_driven_loss(g.repeat(2), og.repeat(2), y.repeat(2), oy.repeat(2),
                             torch.tensor([1.0, 0.0]))
    assert torch.isclose(both, torch.tensor(0.5555770609))


def test_error_driven_gradient_directions() -> None:
    """d L / d main(gold) < 0 (raising the gold lowers the loss); for a wrong y', d L / d main(gen)
    > 0 (its probability is pushed down); for a correct y', no gradient reaches main(gen)."""
    from alignsql.train.losses import error_driven_loss
    for wrong, sign in ((1.0, 1), (0.0, 0)):
        g = torch.tensor([-2.0], requires_grad=True)
        y = torch.tensor([-3.0], requires_grad=True)
        error_driven_loss(g, torch.tensor([-4.0]), y, torch.tensor([-1.0]),
                          torch.tensor([wrong])).backward()
        assert g.grad.item() < 0
        assert (y.grad.item() > 0) if sign else y.grad.item() == 0
