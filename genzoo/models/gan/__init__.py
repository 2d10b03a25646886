"""GAN family: the configurable `GAN` (presets gan, dcgan, lsgan, wgan, wgan-gp, dragan, sngan) and its
networks. Conditional variants subclass `GAN` (see the extension points in `core`)."""

from genzoo.models.gan import conditional  # noqa: F401  (registers cgan, cdcgan, acgan, projection, attr-gan)
from genzoo.models.gan.core import GAN, CriticOut, GANConfig

__all__ = ["GAN", "GANConfig", "CriticOut"]
