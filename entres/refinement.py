"""Iterative feature refinement (ERM-5, SPEC §6; Jastrzębski et al. 2018), per residual block l.

- ``relative_update``: ‖F_l(h)‖ / ‖h‖ for the block's input h (mean over inputs). Small in blocks that
  only refine.
- ``gradient_cosine``: cos(F_l(h), −∂L/∂a) with a = E h + F_l(h), the sum the update is added into. The
  block computes h' = σ(E h + F_l(h)): it *carries* E h and *adds* the update F_l(h), so F_l lives in the
  coordinates after E, and the gradient it is compared with must too. ∂L/∂a (taken at the forward pass) is the
  gradient of the loss with respect to the state the update moves, so F_l · ∂L/∂a is the first-order change of the
  loss the update makes (Jastrzębski et al.'s Taylor argument), and a positive cosine with −∂L/∂a means the block
  steps downhill, as a gradient step on that state would. Any relabelling of features that the network carries
  along (a permutation skip is one) maps F_l and ∂L/∂a by the same orthogonal matrix, so the cosine is
  coordinate-free (tests/test_relabelling.py). It is defined for every block, the stage changes included (there
  E h is the learned projection of h).

  Version 1 of ``erm_refinement`` compared F_l with ∂L/∂h, the gradient at the block *input*, before E: for
  E ≠ I the two vectors sit in different coordinates (a permutation network, an exact relabelling of an identity
  network, scored ≈ 0), and even for E = I that gradient adds the branch's own Jacobian, ∂L/∂h = (E + ∂F/∂h)ᵀ ∂L/∂a.
- ``drop_accuracy``: test accuracy with block l's branch removed, h ← σ(S h) (S = E, or the learned
  projection where the shape changes; σ the block's output ReLU, which leaves h unchanged for the
  identity since h ≥ 0 there). Blocks that refine can be dropped at little cost.
- ``probe_accuracy``: accuracy of a linear classifier (multinomial logistic regression, started at zero so
  that a relabelling of the features relabels every iterate) trained on the (spatially averaged) output of block l.

Works for any model with ``stem``, ``blocks`` (each with ``branch`` and ``skip``) and ``head`` acting on
the spatial mean (conv) or the features (MLP / RNN-free nets).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _pool(h: torch.Tensor) -> torch.Tensor:
    return h.mean(dim=(2, 3)) if h.dim() == 4 else h


def _head(model, h: torch.Tensor) -> torch.Tensor:
    return model.head(_pool(h))


@torch.no_grad()
def _forward(model, x: torch.Tensor, dropped: int | None = None) -> torch.Tensor:
    h = model.stem(x)
    for l, block in enumerate(model.blocks):
        h = torch.relu(block.skip(h)) if l == dropped else block(h)
    return _head(model, h)


def block_parts(block, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(carried, update) of a post-activation residual block at input h: the block computes
    σ(carried + update), carried = S h (S = E, or the learned projection where the shape changes) and
    update = F_l(h)."""
    return block.skip(h), block.branch(h)


def block_updates(model, x: torch.Tensor, y: torch.Tensor) -> list[dict]:
    """Per block: mean relative update ‖F_l(h)‖/‖h‖ and mean cosine of F_l(h) with −∂L/∂(S h + F_l(h))."""
    model.eval()
    inputs, updates, sums = [], [], []
    h = model.stem(x).detach().requires_grad_(True)  # so every sum is in the graph, frozen weights or not
    for block in model.blocks:
        inputs.append(h)
        carried, update = block_parts(block, h)
        a = carried + update
        updates.append(update)
        sums.append(a)
        h = torch.relu(a)
    loss = F.cross_entropy(_head(model, h), y, reduction="sum")
    grads = torch.autograd.grad(loss, sums)
    out = []
    for h_in, f, g in zip(inputs, updates, grads):
        f, g, h_in = f.detach().flatten(1), g.flatten(1), h_in.detach().flatten(1)
        rel = (f.norm(dim=1) / h_in.norm(dim=1).clamp_min(1e-12)).mean().item()
        cos = F.cosine_similarity(f, -g, dim=1).mean().item()
        out.append({"relative_update": rel, "gradient_cosine": cos})
    return out


def accuracy(model, x: torch.Tensor, y: torch.Tensor, dropped: int | None = None, batch: int = 1000) -> float:
    """Accuracy of the model on (x, y), with block ``dropped``'s branch removed if given."""
    model.eval()
    correct = sum((_forward(model, x[i:i + batch], dropped).argmax(1) == y[i:i + batch]).sum().item()
                  for i in range(0, len(x), batch))
    return correct / len(x)


def drop_accuracies(model, x: torch.Tensor, y: torch.Tensor, batch: int = 1000) -> list[float]:
    """Test accuracy with each block's branch removed in turn."""
    return [accuracy(model, x, y, l, batch) for l in range(len(model.blocks))]


@torch.no_grad()
def block_features(model, x: torch.Tensor, batch: int = 1000) -> list[torch.Tensor]:
    """Pooled output of the stem and of every block: L+1 tensors (N, c_l)."""
    model.eval()
    feats: list[list[torch.Tensor]] = []
    for i in range(0, len(x), batch):
        h = model.stem(x[i:i + batch])
        row = [_pool(h)]
        for block in model.blocks:
            h = block(h)
            row.append(_pool(h))
        feats.append(row)
    return [torch.cat(col) for col in zip(*feats)]


def probe_accuracy(train: torch.Tensor, y_train: torch.Tensor, test: torch.Tensor, y_test: torch.Tensor,
                   num_classes: int, steps: int = 100, weight_decay: float = 1e-4) -> float:
    """Test accuracy of a multinomial logistic regression fitted by L-BFGS on standardised features."""
    mean, std = train.mean(0), train.std(0).clamp_min(1e-6)
    a, b = (train - mean) / std, (test - mean) / std
    lin = torch.nn.Linear(a.shape[1], num_classes)
    with torch.no_grad():  # a convex problem: start at zero, where no feature is singled out
        lin.weight.zero_()
        lin.bias.zero_()
    opt = torch.optim.LBFGS(lin.parameters(), max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(lin(a), y_train) + weight_decay * lin.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return (lin(b).argmax(1) == y_test).double().mean().item()
