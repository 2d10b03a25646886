"""Policy-gradient (REINFORCE) losses for generators that pick discrete items, as IRGAN's does.

A generator with a softmax p_theta over N items cannot pass gradients through its picks, so it is
trained with the score-function estimator (Williams 1992): for K picks d_1..d_K ~ p_theta with
rewards r_k,

    grad E_p[r] = E_p[r grad log p(d)]  ~=  1/K sum_k (r_k - b_k) grad log p(d_k).

Any baseline b_k that does not depend on pick k leaves the estimate unbiased and lowers its
variance. IRGAN (Wang et al. 2017) subtracts a baseline; the leave-one-out mean of the other K-1
rewards (Kool et al. 2019, "Buy 4 REINFORCE samples, get a baseline for free") is such a baseline,
whereas the plain mean of all K includes r_k itself and shrinks the gradient by (K-1)/K.
"""

from __future__ import annotations

import torch

__all__ = ["leave_one_out_baseline", "reinforce_loss"]


def leave_one_out_baseline(rewards: torch.Tensor) -> torch.Tensor:
    """B x K rewards -> B x K baselines: for each pick, the mean reward of the other K-1 picks
    (zero when K = 1: there is nothing else to compare with)."""
    k = rewards.shape[-1]
    if k == 1:
        return torch.zeros_like(rewards)
    return (rewards.sum(-1, keepdim=True) - rewards) / (k - 1)


def reinforce_loss(log_probs: torch.Tensor, picks: torch.Tensor, rewards: torch.Tensor,
                   baseline: torch.Tensor | None = None) -> torch.Tensor:
    """Surrogate loss whose gradient is minus the REINFORCE estimate of grad E_p[reward].

    log_probs: B x N log-probabilities over the items (with grad); picks: B x K item indices drawn
    from them; rewards: B x K (no grad needed: they are detached); baseline: B x K or None (the
    leave-one-out mean). Minimising the returned scalar climbs the expected reward.
    """
    if baseline is None:
        baseline = leave_one_out_baseline(rewards)
    advantage = (rewards - baseline).detach()
    picked = log_probs.gather(1, picks)
    return -(advantage * picked).mean()
