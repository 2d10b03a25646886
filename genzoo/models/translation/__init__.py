"""Image-to-image translation: pix2pix (paired) and CycleGAN (unpaired), on translation sets (see
genzoo.data.imageset: `ImageSet.sources`)."""

from genzoo.models.translation import cyclegan, pix2pix  # noqa: F401  (register themselves)
from genzoo.models.translation.base import Translator

__all__ = ["Translator"]
