"""Losses whose gradient is a plasticity update (mirrors `spikax.plasticity`)."""

from __future__ import annotations

import torch


def surrogate_loss(params, updates):
    r"""$L = -\sum \mathrm{sg}(\Delta\theta)\odot\theta$: its gradient is $-\Delta\theta$, so `torch.optim.SGD(lr=1)`
    applies the rule's update. `params`/`updates`: tensors or matching sequences of tensors.

    **Example:**

    ```python
    w = torch.zeros(2, 3, requires_grad=True)
    dw = torch.ones(2, 3)
    spikax_torch.plasticity.surrogate_loss(w, dw).backward()  # w.grad == -dw
    ```
    """
    if isinstance(params, torch.Tensor):
        params, updates = [params], [updates]
    return -sum((u.detach() * p).sum() for p, u in zip(params, updates, strict=True))


def hebbian_loss(connection, x, post):
    r"""$L = -\sum_i \mathrm{sg}(y_i) f_W(x)_i$ through the connection's own forward pass (Miconi 2021); its
    gradient with respect to the weight is minus the Hebbian update summed over positions.

    **Example:**

    ```python
    conv = torch.nn.Conv2d(1, 2, 3)
    spikax_torch.plasticity.hebbian_loss(conv, torch.ones(1, 5, 5), torch.ones(2, 3, 3)).backward()
    ```
    """
    y = connection(x)
    if tuple(y.shape) != tuple(post.shape):
        raise ValueError(f"`spikax_torch.plasticity.hebbian_loss`: `post` has shape {tuple(post.shape)} but the "
                         f"connection's output has shape {tuple(y.shape)}.")
    return -(post.detach() * y).sum()
