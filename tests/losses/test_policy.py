"""REINFORCE: the leave-one-out baseline by hand, and the estimator's mean against the exact gradient."""

from __future__ import annotations

import torch

from genzoo.losses import leave_one_out_baseline, reinforce_loss


def test_leave_one_out_baseline_by_hand():
    r = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 4.0]])
    assert torch.allclose(leave_one_out_baseline(r), torch.tensor([[2.5, 2.0, 1.5], [2.0, 2.0, 0.0]]))
    assert torch.equal(leave_one_out_baseline(torch.tensor([[5.0], [7.0]])), torch.zeros(2, 1))


def estimate(logits, reward, k, rows, baseline, seed):
    """REINFORCE estimates of grad E_p[reward] from `rows` independent batches of k picks each: the gradient
    of minus the surrogate loss, one per chunk of rows (to measure the spread)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(20):
        theta = logits.clone().requires_grad_(True)
        log_p = torch.log_softmax(theta, 0).expand(rows, -1)
        picks = torch.multinomial(log_p.detach().exp(), k, replacement=True, generator=g)
        r = reward[picks]
        loss = reinforce_loss(log_p, picks, r, None if baseline is None else baseline(r))
        (grad,) = torch.autograd.grad(-loss, theta)
        out.append(grad)
    return torch.stack(out)


def test_reinforce_is_unbiased_on_a_toy_softmax():
    """The mean estimate matches the exact gradient p * (r - E_p[r]) within 4 standard errors, while the naive
    baseline (the mean of all K rewards, the pick's own included) shrinks it by (K-1)/K: the test tells them apart."""
    logits = torch.tensor([0.5, -1.0, 0.0, 1.5, 0.2], dtype=torch.float64)
    reward = torch.tensor([1.0, 0.0, 2.0, -1.0, 0.5], dtype=torch.float64)
    p = torch.softmax(logits, 0)
    exact = p * (reward - (p * reward).sum())
    est = estimate(logits, reward, k=2, rows=20000, baseline=None, seed=0)
    mean, se = est.mean(0), est.std(0) / est.shape[0] ** 0.5
    assert ((mean - exact).abs() < 4 * se + 1e-4).all(), (mean, exact, se)
    naive = estimate(logits, reward, k=2, rows=20000, baseline=lambda r: r.mean(1, keepdim=True), seed=1).mean(0)
    assert torch.allclose(naive, exact / 2, atol=4 * float(se.max()) + 1e-4)
    assert (naive - exact).abs().max() > 10 * se.max()
