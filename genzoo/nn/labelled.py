"""The labelled part of a semi-supervised run, collected from the training stream itself.

Semi-supervised models (CatGAN, AAE) see ordinary labelled batches from the Trainer but may use only
`size` labels. The pool keeps the first `size` examples that arrive, class-balanced (size / K per
class), and the model draws its supervised minibatches from it; every other label is ignored. The
examples live in buffers, so checkpoints and resume keep exactly the same labelled set.
"""

from __future__ import annotations

import torch
from torch import nn


class LabelledPool(nn.Module):
    def __init__(self, size: int, num_classes: int, shape: tuple[int, ...]):
        super().__init__()
        self.size, self.num_classes = size, num_classes
        quota = torch.full((num_classes,), size // num_classes, dtype=torch.long)
        quota[: size % num_classes] += 1  # the remainder goes to the first classes
        self.register_buffer("quota", quota, persistent=False)
        self.register_buffer("x", torch.zeros(size, *shape))
        self.register_buffer("y", torch.zeros(size, dtype=torch.long))
        self.register_buffer("count", torch.zeros(num_classes, dtype=torch.long))

    @property
    def full(self) -> bool:
        return int(self.count.sum()) >= self.size

    @torch.no_grad()
    def add(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Keep the examples of the batch whose class still has room (a no-op once full)."""
        if self.full:
            return
        for c in range(self.num_classes):  # K small loops per batch, only until the pool is full
            room = int(self.quota[c] - self.count[c])
            if room <= 0:
                continue
            idx = (y == c).nonzero().flatten()[:room]
            if len(idx):
                start = int(self.count.sum())
                self.x[start:start + len(idx)] = x[idx].to(self.x.dtype)
                self.y[start:start + len(idx)] = c
                self.count[c] += len(idx)

    def draw(self, n: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        """n labelled examples drawn with replacement from those collected so far (None while empty)."""
        have = int(self.count.sum())
        if have == 0:
            return None
        idx = torch.randint(0, have, (n,), device=self.x.device)
        return self.x[idx], self.y[idx]
