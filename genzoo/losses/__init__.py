"""Pure loss functions: `genzoo.losses.gan` (GAN objectives, gradient penalties),
`genzoo.losses.likelihood` (reconstruction log-likelihoods, KL divergences, ELBO/IWAE bounds) and
`genzoo.losses.policy` (REINFORCE for generators that pick items).

Everything is importable from here: `from genzoo.losses import ...`.
"""

from genzoo.losses.gan import *  # noqa: F401,F403
from genzoo.losses.gan import __all__ as _gan_all
from genzoo.losses.likelihood import *  # noqa: F401,F403
from genzoo.losses.likelihood import __all__ as _lik_all
from genzoo.losses.policy import *  # noqa: F401,F403
from genzoo.losses.policy import __all__ as _policy_all

__all__ = list(_gan_all) + list(_lik_all) + list(_policy_all)
