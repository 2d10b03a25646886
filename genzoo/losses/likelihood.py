"""Likelihood-model losses: reconstruction log-likelihoods, KL divergences, ELBO and IWAE bounds."""

__all__: list[str] = []
