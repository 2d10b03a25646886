"""Every model module is imported here so that it registers itself (see genzoo.registry)."""

from genzoo.models import (  # noqa: F401
    aae,
    autoencoder,
    captioner,
    classifier,
    dbn,
    frame_predictor,
    gan,
    irgan,
    pixelcnn,
    pixelrnn,
    rbm,
    semisupervised,
    translation,
    vae,
)
from genzoo.models.base import Model
from genzoo.models.gan import bigan, catgan, energy, infogan, lapgan, progan, text  # noqa: F401  (register themselves)

__all__ = ["Model"]
