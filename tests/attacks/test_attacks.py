"""genzoo.attacks on hand-set models: closed forms, bounds, seeding, side effects, argument errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from genzoo import attacks
from genzoo.errors import ConfigError
from tests.attacks.conftest import BinaryLinear, linear_model, small_conv

SHAPE = (2, 4, 4)


def signed_weights(seed=0, shape=SHAPE):
    """Weights of magnitude 0.1..1 with random signs: no gradient entry is near zero."""
    g = torch.Generator().manual_seed(seed)
    mag = torch.rand(shape, generator=g) * 0.9 + 0.1
    return torch.where(torch.rand(shape, generator=g) < 0.5, -mag, mag)


def mid_images(n=8, seed=1, shape=SHAPE):
    """Images in [0.3, 0.7]: steps up to 0.3 stay inside [0, 1], so nothing is clamped."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, *shape, generator=g) * 0.4 + 0.3


def edge_images(n=8, seed=2, shape=SHAPE):
    """Images with every pixel within 0.03 of 0 or 1, some exactly 0 or 1: most steps leave the box."""
    g = torch.Generator().manual_seed(seed)
    near = torch.rand(n, *shape, generator=g) * 0.03
    x = torch.where(torch.rand(n, *shape, generator=g) < 0.5, near, 1 - near)
    x[:, 0, 0] = 0.0
    x[:, 0, 1] = 1.0
    return x


def labels(n, classes=10, seed=3):
    return torch.randint(0, classes, (n,), generator=torch.Generator().manual_seed(seed))


# ---- closed forms --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("targeted", [False, True])
def test_fgsm_linf_is_the_closed_form_on_a_linear_model(targeted):
    w = signed_weights()
    model = BinaryLinear(w, b=0.1)
    x, y = mid_images(), labels(8, classes=2)
    # d CE(y) / dx = (p1 - y) * w: the sign is sign(w) for label 0 and -sign(w) for label 1
    toward = w.sign() * (1 - 2 * y.float()).view(-1, 1, 1, 1)
    expected = x + 0.1 * (-toward if targeted else toward)
    x_adv = attacks.fgsm(model, x, y, 0.1, targeted=targeted)
    assert torch.equal(x_adv, expected)  # bit for bit: textbook FGSM
    assert not x_adv.requires_grad


def test_fgsm_linf_matches_the_analytic_gradient_sign_with_many_classes():
    model = linear_model()
    x, y = mid_images(16), labels(16)
    W = model[1].weight.double()
    p = torch.softmax(x.flatten(1).double() @ W.T + model[1].bias.double(), dim=1)
    g = ((p - F.one_hot(y, 10).double()) @ W).view_as(x)  # W^T (softmax - onehot(y)) per image
    x_adv = attacks.fgsm(model, x, y, 0.05)
    expected = (x.double() + 0.05 * g.sign()).float()
    clear = g.abs() > 1e-6  # a float32 sign of a gradient within rounding of 0 may go either way
    assert clear.float().mean() > 0.99
    assert torch.allclose(x_adv[clear], expected[clear], atol=1e-7, rtol=0)


def test_fgm_l2_steps_along_the_weights():
    w = signed_weights()
    model = BinaryLinear(w)
    x, y = mid_images(), labels(8, classes=2)
    toward = (w / w.norm()) * (1 - 2 * y.float()).view(-1, 1, 1, 1)
    x_adv = attacks.fgsm(model, x, y, 0.5, norm="l2")
    assert torch.allclose(x_adv, x + 0.5 * toward, atol=1e-6, rtol=0)


def test_fgsm_random_start_is_one_step_from_a_random_point():
    w = signed_weights()
    model = BinaryLinear(w)
    x, y = mid_images(), labels(8, classes=2)
    eps, alpha = 0.1, 0.125
    x_adv = attacks.fgsm(model, x, y, eps, random_start=True, generator=torch.Generator().manual_seed(4))
    u = torch.rand(x.shape, generator=torch.Generator().manual_seed(4))
    x0 = x + (u * 2 - 1) * eps  # the start: uniform in the eps box around x (no clamping needed mid-range)
    toward = w.sign() * (1 - 2 * y.float()).view(-1, 1, 1, 1)  # the gradient sign does not depend on the point
    expected = torch.minimum(torch.maximum(x0 + alpha * toward, x - eps), x + eps)
    assert torch.allclose(x_adv, expected, atol=1e-7, rtol=0)
    # a step of 1.25 eps from anywhere in [-eps, eps] ends in [0.25 eps, eps] along the gradient sign
    along = (x_adv - x) * toward
    assert along.min() >= 0.25 * eps - 1e-6 and along.max() <= eps + 1e-6


def test_pgd_on_a_linear_model_reaches_the_corner():
    w = signed_weights()
    model = BinaryLinear(w)
    x, y = mid_images(), labels(8, classes=2)
    toward = w.sign() * (1 - 2 * y.float()).view(-1, 1, 1, 1)
    for random_start in (False, True):
        x_adv = attacks.pgd(model, x, y, 0.1, steps=10, random_start=random_start,
                            generator=torch.Generator().manual_seed(0))
        assert torch.allclose(x_adv, x + 0.1 * toward, atol=1e-6)  # the maximiser of a linear loss on the box
    x_adv = attacks.pgd(model, x, y, 0.5, norm="l2", steps=10, random_start=False)
    along = (w / w.norm()) * (1 - 2 * y.float()).view(-1, 1, 1, 1)
    assert torch.allclose(x_adv, x + 0.5 * along, atol=1e-6)  # the L2 maximiser: the ball's point along +-w


def test_lbfgs_finds_the_minimal_l2_crossing_of_a_linear_boundary():
    w = signed_weights()
    z_target = torch.tensor([-0.8, -0.5, -0.3, -1.0, 0.4])  # w.x + b for each image; the last is class 1 already
    x = mid_images(5)
    b = 0.0
    model = BinaryLinear(w, b)
    # shift each image along w so that w.x + b takes the chosen value
    z = x.flatten(1) @ w.flatten()
    x = x + ((z_target - z) / w.norm() ** 2).view(-1, 1, 1, 1) * w
    assert 0 < x.min() and x.max() < 1
    target = torch.ones(5, dtype=torch.long)
    x_adv = attacks.lbfgs(model, x, target, search_steps=12)
    assert (model(x_adv).argmax(1) == target).all()
    dist = (x_adv - x).flatten(1).norm(dim=1)
    minimal = z_target.clamp(max=0).abs() / w.norm()  # the distance to the hyperplane w.x + b = 0
    assert torch.equal(x_adv[4], x[4])  # already the target: left alone
    assert (dist[:4] >= minimal[:4] * (1 - 1e-4)).all()  # nothing beats the closed form
    assert (dist[:4] <= minimal[:4] * 1.05).all(), (dist, minimal)  # measured 1.001..1.02 of it
    cos = F.cosine_similarity((x_adv - x)[:4].flatten(1), w.flatten()[None], dim=1)
    assert (cos > 0.999).all()


def test_lbfgs_respects_the_box():
    # the boundary is only reachable by saturating pixels: the result must sit on the box's faces, not outside
    w = signed_weights()
    model = BinaryLinear(w, b=-0.6 * float(w.clamp(min=0).sum()))
    x = edge_images(4)
    target = torch.ones(4, dtype=torch.long)
    x_adv = attacks.lbfgs(model, x, target, search_steps=4, max_iter=30)
    assert 0 <= x_adv.min() and x_adv.max() <= 1
    ok = model(x_adv).argmax(1) == target
    assert torch.equal(x_adv[~ok], x[~ok])  # failures return x itself


def test_fooling_reaches_confidence_on_a_random_model():
    model = linear_model(scale=10.0)  # weights large enough that the box holds a 0.99 image of every class
    target = torch.arange(10)
    imgs = attacks.fooling(model, target, (10, *SHAPE), generator=torch.Generator().manual_seed(0))
    assert imgs.shape == (10, *SHAPE) and 0 <= imgs.min() and imgs.max() <= 1
    conf = model(imgs).softmax(1)[torch.arange(10), target]
    assert (conf > 0.99).all(), conf


def test_fooling_stops_early_and_can_start_gray():
    model = linear_model()
    calls = []

    def counted(x):
        calls.append(1)
        return model(x)

    imgs = attacks.fooling(counted, torch.tensor([3, 7]), (2, *SHAPE), steps=500, confidence=0.6, init="gray")
    assert len(calls) < 500  # stopped as soon as both passed 0.6
    assert (model(imgs).softmax(1)[[0, 1], [3, 7]] > 0.6).all()


# ---- bounds --------------------------------------------------------------------------------------------------------
RUNS = {
    "fgsm": lambda m, x, y, eps, norm, g: attacks.fgsm(m, x, y, eps, norm=norm),
    "fgsm-rs": lambda m, x, y, eps, norm, g: attacks.fgsm(m, x, y, eps, norm=norm, random_start=True, generator=g),
    "fgsm-targeted": lambda m, x, y, eps, norm, g: attacks.fgsm(m, x, y, eps, norm=norm, targeted=True),
    "pgd": lambda m, x, y, eps, norm, g: attacks.pgd(m, x, y, eps, norm=norm, steps=5, generator=g),
    "pgd-big-steps": lambda m, x, y, eps, norm, g: attacks.pgd(m, x, y, eps, norm=norm, steps=3, alpha=eps,
                                                                 generator=g),
    "pgd-restarts": lambda m, x, y, eps, norm, g: attacks.pgd(m, x, y, eps, norm=norm, steps=3, restarts=3,
                                                                generator=g),
    "pgd-targeted": lambda m, x, y, eps, norm, g: attacks.pgd(m, x, y, eps, norm=norm, steps=5, targeted=True,
                                                                random_start=False),
}


@pytest.mark.parametrize("name", RUNS)
@pytest.mark.parametrize("norm,eps", [("linf", 0.05), ("linf", 0.5), ("l2", 0.3), ("l2", 3.0)])
@pytest.mark.parametrize("where", ["edge", "mid"])
def test_perturbation_within_eps_and_images_in_box(name, norm, eps, where):
    model = small_conv().eval()
    x = edge_images(6) if where == "edge" else mid_images(6)
    y = labels(6)
    x_adv = RUNS[name](model, x, y, eps, norm, torch.Generator().manual_seed(0))
    assert x_adv.shape == x.shape and x_adv.dtype == x.dtype and not x_adv.requires_grad
    assert 0 <= x_adv.min() and x_adv.max() <= 1
    delta = x_adv.double() - x.double()
    if norm == "linf":
        assert delta.abs().max() <= eps + 1e-6
    else:
        assert delta.flatten(1).norm(dim=1).max() <= eps + 1e-6
    assert delta.abs().max() > 0  # it did move


def test_optimisation_attacks_stay_in_box():
    model = small_conv().eval()
    x = edge_images(4)
    x_adv = attacks.lbfgs(model, x, labels(4), search_steps=2, max_iter=10)
    assert x_adv.shape == x.shape and 0 <= x_adv.min() and x_adv.max() <= 1 and not x_adv.requires_grad
    imgs = attacks.fooling(model, labels(4), (4, *SHAPE), steps=20)
    assert imgs.shape == (4, *SHAPE) and 0 <= imgs.min() and imgs.max() <= 1 and not imgs.requires_grad


def test_eps_zero_returns_the_input():
    model = small_conv().eval()
    x, y = mid_images(4), labels(4)
    assert torch.equal(attacks.fgsm(model, x, y, 0.0), x)
    assert torch.equal(attacks.pgd(model, x, y, 0.0, generator=torch.Generator().manual_seed(0)), x)
    assert torch.equal(attacks.pgd(model, x, y, 0.0, norm="l2", steps=3), x)


# ---- restarts ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("targeted", [False, True])
def test_restarts_keep_the_first_success_else_the_best_loss(targeted):
    model = small_conv(seed=5).eval()
    x = mid_images(64, seed=6)
    with torch.no_grad():
        ranked = model(x).argsort(1)
    y = ranked[:, -2] if targeted else ranked[:, -1]  # the runner-up class / the model's own answer
    # small steps: the random start decides much of the outcome, so the restarts differ
    kw = dict(eps=0.03, steps=2, alpha=0.003, targeted=targeted)
    got = attacks.pgd(model, x, y, restarts=4, generator=torch.Generator().manual_seed(8), **kw)
    # reference: four single runs drawing the same starts, every image through every restart
    g = torch.Generator().manual_seed(8)
    runs = torch.stack([attacks.pgd(model, x, y, restarts=1, generator=g, **kw) for _ in range(4)])
    with torch.no_grad():
        logits = torch.stack([model(r) for r in runs])  # restarts x N x K
    loss = F.cross_entropy(logits.flatten(0, 1), y.repeat(4), reduction="none").view(4, -1)
    pred = logits.argmax(2)
    hit = pred == y if targeted else pred != y
    score = -loss if targeted else loss
    first_hit = torch.where(hit.any(0), hit.float().argmax(0), -1)
    best_score = score.argmax(0)  # ties: the first maximum
    pick = torch.where(first_hit >= 0, first_hit, best_score)
    expected = runs[pick, torch.arange(64)]
    assert ((first_hit > 0).any() and (first_hit == 0).any() and (first_hit < 0).any()), first_hit  # all 3 cases
    assert ((first_hit < 0) & (best_score > 0)).any()  # the best loss was not always the first
    assert torch.allclose(got, expected, atol=1e-6, rtol=0)
    # a restart can only add successes
    with torch.no_grad():
        p = model(got).argmax(1)
    assert torch.equal(p == y if targeted else p != y, hit.any(0))


def test_restarts_run_only_on_images_not_yet_fooled():
    model = small_conv(seed=5).eval()
    x, y = mid_images(64, seed=6), labels(64, seed=7)
    sizes = []

    def spy(t):
        sizes.append(t.shape[0])
        return model(t)

    attacks.pgd(spy, x, y, 0.03, steps=2, restarts=3, generator=torch.Generator().manual_seed(8))
    assert sizes[0] == 64 and min(sizes) < 64


# ---- seeding and side effects --------------------------------------------------------------------------------------
SEEDED = {
    "fgsm-rs": lambda m, x, y, g: attacks.fgsm(m, x, y, 0.1, random_start=True, generator=g),
    "fgsm-rs-l2": lambda m, x, y, g: attacks.fgsm(m, x, y, 1.0, norm="l2", random_start=True, generator=g),
    "pgd": lambda m, x, y, g: attacks.pgd(m, x, y, 0.1, steps=3, restarts=2, generator=g),
    "pgd-l2": lambda m, x, y, g: attacks.pgd(m, x, y, 1.0, norm="l2", steps=3, generator=g),
    "fooling": lambda m, x, y, g: attacks.fooling(m, y, x.shape, steps=3, generator=g),
}


@pytest.mark.parametrize("name", SEEDED)
def test_same_generator_same_result(name):
    model = small_conv().eval()
    x, y = mid_images(6), labels(6)
    run = SEEDED[name]
    a = run(model, x, y, torch.Generator().manual_seed(11))
    b = run(model, x, y, torch.Generator().manual_seed(11))
    c = run(model, x, y, torch.Generator().manual_seed(12))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


ALL = {
    "fgsm": lambda m, x, y: attacks.fgsm(m, x, y, 0.1),
    "fgsm-rs": lambda m, x, y: attacks.fgsm(m, x, y, 0.1, random_start=True),
    "pgd": lambda m, x, y: attacks.pgd(m, x, y, 0.1, steps=2, restarts=2),
    "pgd-l2": lambda m, x, y: attacks.pgd(m, x, y, 1.0, norm="l2", steps=2),
    "lbfgs": lambda m, x, y: attacks.lbfgs(m, x, y, search_steps=2, max_iter=5),
    "fooling": lambda m, x, y: attacks.fooling(m, y, x.shape, steps=3),
}


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("training", [True, False])
def test_model_mode_grads_and_requires_grad_untouched(name, training):
    model = small_conv(dropout=0.0).train(training)  # p=0: deterministic even in train mode
    model[0].bias.requires_grad_(False)
    flags = [p.requires_grad for p in model.parameters()]
    modes = [m.training for m in model.modules()]
    x, y = mid_images(4), labels(4)
    out = ALL[name](model, x, y)
    assert [m.training for m in model.modules()] == modes
    assert [p.requires_grad for p in model.parameters()] == flags
    assert all(p.grad is None for p in model.parameters())
    with torch.no_grad():  # also works when the caller has gradients off
        again = ALL[name](model, x, y)
    assert again.shape == out.shape


def test_robust_accuracy_counts():
    model = BinaryLinear(signed_weights(), b=0.0)
    x = mid_images(20)
    with torch.no_grad():
        y = model(x).argmax(1)
    y[:5] = 1 - y[:5]  # five wrong from the start
    batches = [(x[:8], y[:8]), (x[8:], y[8:], None)]  # extra items (attributes) are ignored
    res = attacks.robust_accuracy(model, batches, "fgsm", eps=0.0)
    assert res["clean"] == res["robust"] == 0.75 and res["n"] == 20
    assert res["seconds"] > 0 and res["images_per_s"] > 0
    res = attacks.robust_accuracy(model, batches, attacks.fgsm, eps=0.3)
    assert res["clean"] == 0.75 and res["robust"] < 0.75
    uint8 = [((x * 255).round().to(torch.uint8), y)]
    assert attacks.robust_accuracy(model, uint8, "pgd", eps=0.0, steps=1)["n"] == 20
    assert set(attacks.ATTACKS) == {"fgsm", "pgd", "lbfgs", "fooling"}


# ---- argument errors -----------------------------------------------------------------------------------------------
def bad_calls():
    m = small_conv().eval()
    x, y = mid_images(3), labels(3)
    return [
        (lambda: attacks.fgsm(m, x, y, 3.0), r"eps must be in \[0, 1\] \(pixels are scaled to \[0, 1\]\); got 3"),
        (lambda: attacks.pgd(m, x, y, -0.1), r"eps must be in \[0, 1\]"),
        (lambda: attacks.pgd(m, x, y, 99.0, norm="l2"), r"eps must be in \[0, 5\.657\] for norm='l2'"),
        (lambda: attacks.fgsm(m, x, y, 0.1, norm="l3"), r"unknown norm 'l3': use one of 'linf', 'l2'"),
        (lambda: attacks.lbfgs(m, x, y, norm="linf"), r"unknown norm 'linf': use one of 'l2'"),
        (lambda: attacks.fgsm(m, x * 255, y, 0.1), r"attacks take images in \[0, 1\].*divide by 255"),
        (lambda: attacks.pgd(m, x - 0.5, y, 0.1), r"attacks take images in \[0, 1\]"),
        (lambda: attacks.fgsm(m, (x * 255).to(torch.uint8), y, 0.1), r"float tensor.*x.float\(\) / 255"),
        (lambda: attacks.fgsm(m, x, y[:2], 0.1), r"y must have shape \(3,\)"),
        (lambda: attacks.fgsm(m, x, y.float(), 0.1), r"integer class indices"),
        (lambda: attacks.lbfgs(m, x, y[:, None]), r"target must have shape \(3,\)"),
        (lambda: attacks.fgsm(m, x, y + 10, 0.1), r"y holds class 1\d but the model has 10 classes"),
        (lambda: attacks.pgd(m, x, y, 0.1, steps=0), r"steps must be an integer >= 1, got 0"),
        (lambda: attacks.pgd(m, x, y, 0.1, restarts=0), r"restarts must be an integer >= 1, got 0"),
        (lambda: attacks.pgd(m, x, y, 0.1, restarts=2, random_start=False), r"needs random_start=True"),
        (lambda: attacks.pgd(m, x, y, 0.1, alpha=-1), r"alpha \(the step size\) must be a finite number >= 0"),
        (lambda: attacks.fgsm(lambda t: m(t)[:, :, None], x, y, 0.1), r"N x K logits"),
        (lambda: attacks.fgsm(lambda t: m(t).detach(), x, y, 0.1), r"no gradient w.r.t. its input"),
        (lambda: attacks.lbfgs(m, x, y, c=-1.0), r"c \(the weight"),
        (lambda: attacks.fooling(m, y, (2, *SHAPE)), r"target must have shape \(2,\)"),
        (lambda: attacks.fooling(m, y, (3, *SHAPE), confidence=1.5), r"confidence must be a probability"),
        (lambda: attacks.fooling(m, y, (3, *SHAPE), init="zeros"), r"unknown init 'zeros'"),
        (lambda: attacks.robust_accuracy(m, [(x, y)], "lbfgs"), r"untargeted attack"),
        (lambda: attacks.robust_accuracy(m, [], "fgsm", eps=0.1), r"no images"),
    ]


@pytest.mark.parametrize("case", range(len(bad_calls())))
def test_bad_arguments_say_what_to_do(case):
    call, message = bad_calls()[case]
    with pytest.raises(ValueError, match=message) as info:
        call()
    assert isinstance(info.value, ConfigError)  # the CLI prints these as messages


def test_float_rounding_outside_the_box_is_accepted():
    model = small_conv().eval()
    x, y = mid_images(2), labels(2)
    x[0, 0, 0, 0] = 1 + 1e-7
    x_adv = attacks.fgsm(model, x, y, 0.1)
    assert x_adv.max() <= 1
