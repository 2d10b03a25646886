"""A buffer of past generated images, shown to the discriminator again ("historical replay").

Shrivastava et al. 2017, "Learning from Simulated and Unsupervised Images through Adversarial
Training", Sec. 3.2: half of each fake batch the discriminator sees comes from a buffer of earlier
generator outputs, so it does not forget what older generators did and the generator cannot
oscillate back to them; after each step, half a batch of fresh images replaces random entries.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class ReplayBuffer(nn.Module):
    """Holds up to `capacity` images of shape `shape`; contents and fill level are in the state_dict."""

    def __init__(self, capacity: int, shape: tuple[int, ...]):
        super().__init__()
        self.register_buffer("images", torch.zeros(capacity, *shape))
        self.capacity = capacity
        self.filled = 0

    @torch.no_grad()
    def mix(self, fresh: torch.Tensor) -> torch.Tensor:
        """Return `fresh` (N x ...) with its last N//2 rows replaced by stored images, then store N//2
        fresh ones. Until the buffer holds N//2 images the batch is returned unchanged."""
        fresh = fresh.detach()
        n = fresh.shape[0]
        k = n // 2
        out = fresh
        if k and self.filled >= k:
            idx = torch.randint(self.filled, (k,), device=fresh.device)
            out = torch.cat([fresh[:n - k], self.images[idx].to(fresh.dtype)])
        self.push(fresh[:k])
        return out

    @torch.no_grad()
    def push(self, x: torch.Tensor) -> None:
        """Fill free slots first, then overwrite random ones."""
        take = min(self.capacity - self.filled, x.shape[0])
        if take:
            self.images[self.filled:self.filled + take] = x[:take].to(self.images.dtype)
            self.filled += take
        rest = x[take:]
        if rest.shape[0]:
            idx = torch.randperm(self.capacity, device=x.device)[:rest.shape[0]]
            self.images[idx] = rest.to(self.images.dtype)

    def get_extra_state(self) -> dict[str, Any]:
        return {"filled": self.filled}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.filled = int(state["filled"])
