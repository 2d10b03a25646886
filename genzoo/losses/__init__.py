"""Pure loss functions: `genzoo.losses.gan` (GAN objectives, gradient penalties),
`genzoo.losses.likelihood` (reconstruction log-likelihoods, KL divergences, ELBO/IWAE bounds) and
`genzoo.losses.policy` (REINFORCE for generators that pick items), `genzoo.losses.translation` (pix2pix's L1,
CycleGAN's cycle consistency).

Everything is importable from here: `from genzoo.losses import ...`.
"""

from genzoo.losses.gan import *  # noqa: F401,F403
from genzoo.losses.gan import __all__ as _gan_all
from genzoo.losses.likelihood import *  # noqa: F401,F403
from genzoo.losses.likelihood import __all__ as _lik_all
from genzoo.losses.policy import *  # noqa: F401,F403
from genzoo.losses.policy import __all__ as _policy_all
from genzoo.losses.translation import *  # noqa: F401,F403
from genzoo.losses.translation import __all__ as _translation_all

__all__ = list(_gan_all) + list(_lik_all) + list(_policy_all) + list(_translation_all)
