"""Iterative feature refinement (ERM-5, SPEC §6; Jastrzębski et al. 2018), per residual block l.

- ``relative_update``: ‖F_l(h)‖ / ‖h‖ for the block's input h (mean over inputs). Small in blocks that
  only refine.
- ``gradient_cosine``: cos(F_l(h), −∂L/∂h). Negative-gradient alignment means the block takes a step
  that lowers the loss, as a gradient step on h would.
- ``drop_accuracy``: test accuracy with block l's branch removed, h ← σ(S h) (S = E, or the learned
  projection where the shape changes; σ the block's output ReLU, which leaves h unchanged for the
  identity since h ≥ 0 there). Blocks that refine can be dropped at little cost.
- ``probe_accuracy``: accuracy of a linear classifier (multinomial logistic regression) trained on the
  (spatially averaged) output of block l.

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


def block_updates(model, x: torch.Tensor, y: torch.Tensor) -> list[dict]:
    """Per block: mean relative update and mean cosine of the update with −∂L/∂h."""
    model.eval()
    inputs, updates = [], []
    h = model.stem(x).detach()
    for block in model.blocks:
        h = h.requires_grad_(True)
        inputs.append(h)
        updates.append(block.branch(h))
        h = block(h)
    loss = F.cross_entropy(_head(model, h), y, reduction="sum")
    grads = torch.autograd.grad(loss, inputs)
    out = []
    for h_in, f, g in zip(inputs, updates, grads):
        f, g, h_in = f.detach().flatten(1), g.flatten(1), h_in.detach().flatten(1)
        same_shape = f.shape == h_in.shape
        rel = (f.norm(dim=1) / h_in.norm(dim=1).clamp_min(1e-12)).mean().item()
        cos = F.cosine_similarity(f, -g, dim=1).mean().item() if same_shape else float("nan")
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
    torch.manual_seed(0)
    lin = torch.nn.Linear(a.shape[1], num_classes)
    opt = torch.optim.LBFGS(lin.parameters(), max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(lin(a), y_train) + weight_decay * lin.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return (lin(b).argmax(1) == y_test).double().mean().item()
