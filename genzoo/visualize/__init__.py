"""Feature visualisation: what a trained net responds to, and what a generator's channels draw.

- `maximize` / `maximize_many`: activation maximisation (Erhan et al. 2009; Simonyan et al. 2014;
  Yosinski et al. 2015; Olah et al. 2017, "Feature Visualization", Distill) with the priors and the
  decorrelated Fourier parameterisation of Mordvintsev et al. 2018;
- `activation`: a target's activation for given images (how far a visualisation beats real images);
- `ablate_channel` / `channel_effect`: zero feature maps of a generator layer (Radford et al. 2016,
  DCGAN section 6.3; Bau et al. 2019, GAN Dissection);
- `layer_names`, `parse_target`, `Target`, `objective`: naming what to look at.

Pure torch: nets are plain `nn.Module`s, images are floats in [0, 1] and `forward` maps them to the
net's output (the caller handles the model's input range).
"""

from genzoo.visualize.ablation import ablate_channel, channel_effect
from genzoo.visualize.optimize import maximize, maximize_many
from genzoo.visualize.targets import Target, activation, layer_names, objective, parse_target

__all__ = ["Target", "ablate_channel", "activation", "channel_effect", "layer_names", "maximize", "maximize_many",
           "objective", "parse_target"]
