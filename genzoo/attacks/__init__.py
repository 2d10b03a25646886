"""Adversarial attacks on image classifiers, in plain torch.

- `fgsm`: the fast gradient sign method (Goodfellow, Shlens & Szegedy 2015, "Explaining and harnessing
  adversarial examples"), its L2 form (the fast gradient method) and its random-start variant for adversarial
  training (Wong, Rice & Kolter 2020, "Fast is better than free: revisiting adversarial training").
- `pgd`: projected gradient descent with random restarts (Madry et al. 2018, "Towards deep learning models
  resistant to adversarial attacks").
- `lbfgs`: the minimal targeted perturbation by box-constrained L-BFGS (Szegedy et al. 2013, "Intriguing
  properties of neural networks").
- `fooling`: confidently classified images grown from noise (Nguyen, Yosinski & Clune 2015, "Deep neural
  networks are easily fooled").
- `robust_accuracy`: clean and attacked accuracy over a stream of batches.

Conventions: `model` is any callable mapping float images in [0, 1] (N x C x H x W) to N x K logits; wrap a
model that expects another input range so that it takes [0, 1] pixels. `y` holds true labels, or the target
classes with `targeted=True`. The loss is cross-entropy on the logits. Attacks return detached images in
[0, 1] within the eps ball around x (linf: per pixel; l2: per image). They leave the model's train/eval mode
and its parameters' .grad and requires_grad alone (gradients are taken w.r.t. the input only), so put the
model in eval mode first, and they work under torch.no_grad(). The same `generator` gives the same result.
"""

from genzoo.attacks._checks import AttackConfigError
from genzoo.attacks.evaluate import robust_accuracy
from genzoo.attacks.gradient import fgsm, pgd, project, random_in_ball
from genzoo.attacks.optimization import fooling, lbfgs

ATTACKS = {"fgsm": fgsm, "pgd": pgd, "lbfgs": lbfgs, "fooling": fooling}

__all__ = ["ATTACKS", "AttackConfigError", "fgsm", "fooling", "lbfgs", "pgd", "project", "random_in_ball",
           "robust_accuracy"]
