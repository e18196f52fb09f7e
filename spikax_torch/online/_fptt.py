r"""Forward propagation through time (FPTT) as a wrapper around a torch optimiser."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from .._errors import check_positive


class FPTTState(NamedTuple):
    """State of [`spikax_torch.online.fptt`][]: the inner optimiser's `state_dict()`, $\\bar W$ and $\\lambda$."""

    inner: Any
    average: list
    lam: list


class FPTT:
    r"""An optimiser wrapper that steps on FPTT's regularised loss; see [`fptt`][spikax_torch.online.fptt]."""

    def __init__(self, inner: torch.optim.Optimizer, alpha: float):
        self.inner = inner
        self.alpha = float(alpha)
        self.average = [p.detach().clone() for p in self._tensors()]
        self.lam = [torch.zeros_like(p) for p in self.average]

    def _tensors(self):
        return [p for group in self.inner.param_groups for p in group["params"]]

    @property
    def param_groups(self):
        return self.inner.param_groups

    @torch.no_grad()
    def step(self):
        """Regularise every tensor's `.grad`, step the inner optimiser, then update $\\lambda$ and $\\bar W$."""
        alpha = self.alpha
        tensors = self._tensors()
        for p, avg, lam in zip(tensors, self.average, self.lam, strict=True):
            if p.grad is not None:
                p.grad = p.grad + alpha * (p - avg) - 0.5 * lam
        self.inner.step()
        for k, (p, avg, lam) in enumerate(zip(tensors, self.average, self.lam, strict=True)):
            lam = lam - alpha * (p - avg)
            self.lam[k] = lam
            self.average[k] = 0.5 * (avg + p) - lam / (2 * alpha)

    def zero_grad(self, set_to_none: bool = True):
        self.inner.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> FPTTState:
        return FPTTState(self.inner.state_dict(), [a.clone() for a in self.average], [m.clone() for m in self.lam])

    def load_state_dict(self, state: FPTTState) -> None:
        self.inner.load_state_dict(state.inner)
        self.average = [a.clone() for a in state.average]
        self.lam = [m.clone() for m in state.lam]


def fptt(inner: torch.optim.Optimizer, alpha: float) -> FPTT:
    r"""Forward propagation through time (Kag & Saligrama, ICML 2021, Alg. 1), around a torch optimiser.

    The torch twin of [`spikax.online.fptt`][]: each step takes the per-step gradient
    $\nabla\ell_t$ and steps `inner` on

    $$g = \nabla\ell_t + \alpha(W - \bar W) - \tfrac12\lambda,$$

    then, with the new weights $W'$, $\lambda \leftarrow \lambda - \alpha(W' - \bar W)$ and
    $\bar W \leftarrow \tfrac12(\bar W + W') - \lambda/(2\alpha)$ ($\bar W$ starts at the weights
    when `fptt` is called, $\lambda$ at 0).

    **Arguments:** `inner`, a `torch.optim.Optimizer` over the model's tensors; `alpha > 0`.

    **Returns:** an optimiser-like object (`step`, `zero_grad`, `param_groups`, `state_dict`,
    `load_state_dict`) for [`spikax_torch.online.train`][].

    **Example:**

    ```python
    net = spikax_torch.Chain([spikax_torch.layers.dense(3, 8, spikax_torch.neurons.LIF(), key=0),
                              spikax_torch.layers.dense(8, 2, spikax_torch.neurons.LI(), key=1)])
    mse = lambda y, target: ((y - target) ** 2).sum()
    opt = spikax_torch.online.fptt(torch.optim.SGD(net.parameters(), lr=1e-2), alpha=0.5)
    params, opt_state, losses = spikax_torch.online.train(spikax_torch.online.ottt(net, mse), opt,
                                                          dict(net.named_parameters()), None, net.init_state((3,)),
                                                          torch.ones(20, 3), torch.zeros(20, 2))
    ```
    """
    owner = "spikax_torch.online.fptt"
    if not isinstance(inner, torch.optim.Optimizer):
        raise TypeError(f"`{owner}`: `inner` must be a torch optimiser (e.g. `torch.optim.SGD(net.parameters(), "
                        f"lr=1e-2)`), got {type(inner).__name__}.")
    check_positive(owner, "alpha", alpha, "Pass the regulariser's strength, e.g. `alpha=0.5`.")
    return FPTT(inner, alpha)
