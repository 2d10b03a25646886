"""GAN objectives and penalties, as pure functions of discriminator logits / critic scores."""

__all__: list[str] = []
