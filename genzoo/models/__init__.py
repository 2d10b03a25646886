"""Every model module is imported here so that it registers itself (see genzoo.registry)."""

from genzoo.models import autoencoder, classifier, gan, semisupervised, vae  # noqa: F401
from genzoo.models.base import Model

__all__ = ["Model"]
