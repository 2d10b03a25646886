"""Pure loss functions: `genzoo.losses.gan` (GAN objectives, gradient penalties) and
`genzoo.losses.likelihood` (reconstruction log-likelihoods, KL divergences, ELBO/IWAE bounds).

Everything is importable from here: `from genzoo.losses import ...`.
"""

from genzoo.losses.gan import *  # noqa: F401,F403
from genzoo.losses.gan import __all__ as _gan_all
from genzoo.losses.likelihood import *  # noqa: F401,F403
from genzoo.losses.likelihood import __all__ as _lik_all

__all__ = list(_gan_all) + list(_lik_all)
