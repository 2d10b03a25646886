"""Next-frame prediction with a convolutional LSTM: Shi et al. 2015, "Convolutional LSTM Network: A Machine Learning
Approach for Precipitation Nowcasting".

A ConvLSTM is an LSTM whose states are images and whose matrix products are convolutions (their Eq. 3):

    i_t = sigma(W_xi * X_t + W_hi * H_{t-1} + W_ci o C_{t-1} + b_i)
    f_t = sigma(W_xf * X_t + W_hf * H_{t-1} + W_cf o C_{t-1} + b_f)
    C_t = f_t o C_{t-1} + i_t o tanh(W_xc * X_t + W_hc * H_{t-1} + b_c)
    o_t = sigma(W_xo * X_t + W_ho * H_{t-1} + W_co o C_t + b_o)
    H_t = o_t o tanh(C_t)

(* a convolution, o the elementwise product; the W_c. are the peephole weights, one per channel and pixel). All
four pre-activations come from one convolution over [X_t, H_{t-1}]. The encoding-forecasting structure (their
Sec. 3.3, Fig. 3): a stack of ConvLSTMs reads the `context` frames; a second stack, started from the first one's
states, runs `horizon` more steps, and the hidden states of all its layers, concatenated, give each predicted
frame. Shi et al.'s forecaster has no input (`feedback=false`); genzoo's default feeds it the frame before each
step (the last given frame, then its own prediction, differentiably), a deliberate difference: copying and
shifting what it sees is easier to learn than carrying the digits' shapes in the states alone (on the tiny set
of the learning test, 120 steps: all of seeds 0-2 beat empty frames with feedback, two of them without). Like
the paper's 4 x 4 patches (64 x 64 -> 16 x 16), the ConvLSTMs work on a smaller grid: a frame encoder of
`downsample` stride-2 convolutions before them, a decoder of as many transposed convolutions after; frames on
[0, 1]; the loss is the cross-entropy per pixel, as the paper's on Moving MNIST.

How a frame is made from the forecaster's states (`output`). `pixels`, Shi et al.'s: the decoder draws it (a
sigmoid per pixel). `transform`, genzoo's default, the CDNA of Finn, Goodfellow & Levine 2016 ("Unsupervised
learning for physical interaction through video prediction"): a linear layer on the states gives `motions`
normalised `motion_size` x `motion_size` kernels, each convolved with the frame before (a translation when it is
one-hot), and the decoder gives per-pixel softmax masks that compose the moved copies with one newly drawn frame
(for what no copy explains). Initialised near copying the last frame. Moving pixels keeps the digits sharp for
several frames, where drawing them makes a grey cloud after 3-4. 30 minutes on one core each (seed 0, 1,000 test
sequences, bench/frame_prediction.py; the two runs side by side on the 2-core machine): `transform` 5,667 steps,
MSE per future frame +1 / +5 / +10 / mean 0.0138 / 0.0266 / 0.0317 / 0.0256, SSIM 0.828 / 0.591 / 0.431 / 0.594;
`pixels` 9,838 steps, MSE 0.0216 / 0.0294 / 0.0325 / 0.0289, SSIM 0.730 / 0.490 / 0.399 / 0.507; copying the last
frame MSE 0.0483 / 0.0722 / 0.0749 / 0.0686, SSIM 0.692 / 0.575 / 0.547 / 0.590; empty frames MSE 0.0422 and
SSIM 0.724 at every step (see `evaluate` on why SSIM rates them so).

The paper's Moving MNIST network: 3 layers of 256, 128, 128 hidden channels, 5 x 5 kernels, RMSProp (lr 1e-3).
genzoo's default is far smaller, to learn something in minutes on a CPU: 1 layer of 16 channels, 3 x 3 kernels,
Adam 3e-3, a stride-4 encoder of 16 channels, batches of 8 sequences (paper 16). At 2 minutes on one core
(bench/frame_prediction.py, 200 test sequences, output=pixels) it made 773 steps and reached MSE 0.0228 on the
first future frame (copying the last frame: 0.0482), where 1 layer of 32 channels made 411 steps (0.0266), and 2
layers of 32 with encoder channels 32 made 114 steps and still predicted empty frames (0.0380);
`--set layers=3 hidden=64 kernel=5` is closer to the paper.

Optional adversarial loss (`adversarial` = its weight, 0 = off), in the manner of Mathieu, Couprie & LeCun 2016
("Deep multi-scale video prediction beyond mean square error"), the lectures' "next frame video generation": a
small discriminator judges (last context frame, future frame) pairs, real against predicted, and the predictor
adds weight x the non-saturating GAN loss to its reconstruction loss, which sharpens the blur that regression
alone gives to uncertain motion. Not measured to help here: weight 0.05 with output=pixels made 219 steps in 2
minutes (a second network to train; the run shared the 2-core CPU with another) and a first-frame MSE of 0.0299,
against 773 steps and 0.0228 without; longer budgets are untried.

Data: a sequence set (`moving-mnist`, genzoo.data.moving_mnist). Each training step draws one sequence per digit
of its batch, bouncing in `size` x `size` frames, with a torch.Generator seeded from (the seed the model was built
with, the step): the data of a step depends on those two alone, and resume is exact. Evaluation (`evaluate`) runs
on the fixed test sequences: MSE and SSIM (on [0, 1]) of each future step, and their means, against the baseline
that any predictor must beat, copying the last context frame (`*_copy_last`), and empty frames (`*_blank`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import field
from genzoo.data.grid import make_grid, save_grid
from genzoo.data.imageset import Batch, DataSpec, ImageSet, to_uint8
from genzoo.data.moving_mnist import bouncing_sequences, check_sequence_spec, eval_sequences
from genzoo.errors import ConfigError
from genzoo.losses import d_loss_bce, g_loss_nonsaturating
from genzoo.metrics import EvalOptions
from genzoo.metrics.similarity import ssim
from genzoo.models.base import Model
from genzoo.nn import eval_mode
from genzoo.registry import register

SHOWN = 8  # sequences in the figures written at the end of training


@dataclass
class FramePredictorConfig:
    context: int = field(10, "frames the model reads (Srivastava et al. and Shi et al.: 10)", ge=1)
    horizon: int = field(10, "frames it predicts after them (10)", ge=1)
    size: int = field(64, "frame side in pixels (Moving MNIST: 64)", ge=8)
    hidden: int = field(16, "channels of each ConvLSTM layer (paper 256, 128, 128)", ge=1)
    layers: int = field(1, "ConvLSTM layers in the encoder and in the forecaster (paper 3)", ge=1)
    kernel: int = field(3, "ConvLSTM kernel side, odd (paper 5)", ge=1)
    features: int = field(16, "channels of the frame encoder and decoder", ge=1)
    downsample: int = field(2, "stride-2 convolutions before the ConvLSTMs: 2 = 64 -> 16 (the paper's 4x4 patches)",
                            ge=0, le=5)
    peephole: bool = field(True, "peephole connections W_c o C (Shi et al. Eq. 3)")
    feedback: bool = field(True, "the forecaster reads the frame before each step (the last given, then its own "
                                 "prediction); false: no input, as Shi et al.'s forecaster")
    loss: Literal["bce", "mse"] = field("bce", "per-pixel reconstruction loss: cross-entropy (the paper's) or MSE")
    output: Literal["pixels", "transform"] = field(
        "transform", "pixels: decode each frame from the states (Shi et al.); transform: move the frame before it by "
                  "`motions` predicted kernels and compose them with predicted masks (Finn et al. 2016's CDNA)")
    motions: int = field(2, "transform: motion kernels per frame (one per moving object: 2 digits)", ge=1)
    motion_size: int = field(9, "transform: kernel side, odd; displacements up to motion_size // 2 pixels per frame "
                                "(Moving MNIST moves 3.6)", ge=1)
    adversarial: float = field(0.0, "weight of the adversarial loss on predicted frames (0 = off; Mathieu et al. "
                                    "2016)", ge=0)
    d_width: int = field(32, "discriminator channels of the first layer (with adversarial > 0)", ge=1)
    lr: float = field(3e-3, "Adam learning rate of the predictor", gt=0)
    lr_d: float = field(2e-4, "Adam learning rate of the discriminator", gt=0)
    clip_grad_norm: float = field(1.0, "clip the predictor's gradient norm (0 = off)", ge=0)
    eval_n: int = field(1000, "test sequences scored per evaluation, at most (genzoo eval --n asks for fewer; 10,000 "
                        "take about 40 min on one CPU core)", ge=1)

    def validate(self) -> None:
        if self.kernel % 2 == 0:
            raise ConfigError(f"kernel must be odd (same-size convolutions), got {self.kernel}")
        if self.motion_size % 2 == 0:
            raise ConfigError(f"motion_size must be odd (a kernel centred on no motion), got {self.motion_size}")
        if self.output == "transform" and not self.feedback:
            raise ConfigError("output=transform moves the frame before each step: it needs feedback=true")
        if self.size % (2 ** self.downsample):
            raise ConfigError(f"size {self.size} must be divisible by 2^downsample = {2 ** self.downsample}")


class ConvLSTMCell(nn.Module):
    """One ConvLSTM layer (Shi et al. 2015, Eq. 3): the gates from one convolution over [input, hidden]; the
    peephole weights (one per channel and pixel of a `grid` x `grid` state) where `peephole`."""

    def __init__(self, cin: int, hidden: int, kernel: int, grid: tuple[int, int], peephole: bool = True):
        super().__init__()
        self.hidden = hidden
        self.conv = nn.Conv2d(cin + hidden, 4 * hidden, kernel, padding=kernel // 2)
        self.peephole = nn.Parameter(torch.zeros(3, hidden, *grid)) if peephole else None

    def forward(self, x: torch.Tensor | None, state: tuple[torch.Tensor, torch.Tensor]
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """x: N x cin x h x w (None: no input, as the forecaster's); state (H, C) -> the new (H, C)."""
        h, c = state
        a = self.conv(h if x is None else torch.cat([x, h], 1))
        ai, af, ag, ao = a.chunk(4, 1)
        if self.peephole is not None:
            ai, af = ai + self.peephole[0] * c, af + self.peephole[1] * c
        c = torch.sigmoid(af) * c + torch.sigmoid(ai) * torch.tanh(ag)
        if self.peephole is not None:
            ao = ao + self.peephole[2] * c
        return torch.sigmoid(ao) * torch.tanh(c), c


def frame_encoder(features: int, downsample: int) -> nn.Sequential:
    """1 x S x S frames -> features x S/2^d x S/2^d: d stride-2 4 x 4 convolutions (one 3 x 3 convolution for
    d = 0), each followed by a LeakyReLU."""
    if downsample == 0:
        return nn.Sequential(nn.Conv2d(1, features, 3, padding=1), nn.LeakyReLU(0.2))
    layers: list[nn.Module] = []
    for i in range(downsample):
        layers += [nn.Conv2d(1 if i == 0 else features, features, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
    return nn.Sequential(*layers)


def frame_decoder(cin: int, features: int, downsample: int, out: int = 1) -> nn.Sequential:
    """Concatenated forecaster states -> one frame's logits: a 1 x 1 convolution (Shi et al.'s output layer), then
    d stride-2 4 x 4 transposed convolutions back to S x S, the last to `out` channels (a 3 x 3 convolution for
    d = 0)."""
    layers: list[nn.Module] = [nn.Conv2d(cin, features, 1), nn.LeakyReLU(0.2)]
    if downsample == 0:
        return nn.Sequential(*layers, nn.Conv2d(features, out, 3, padding=1))
    for i in range(downsample):
        last = i == downsample - 1
        layers.append(nn.ConvTranspose2d(features, out if last else features, 4, stride=2, padding=1))
        if not last:
            layers.append(nn.LeakyReLU(0.2))
    return nn.Sequential(*layers)


def frame_discriminator(width: int) -> nn.Sequential:
    """(last context frame, future frame) pairs, 2 x S x S -> one logit each: stride-2 4 x 4 convolutions halving
    down to at most 8 x 8 (or 3 layers), LeakyReLU, global average, linear."""
    return nn.Sequential(
        nn.Conv2d(2, width, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(2 * width, 4 * width, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * width, 1))


@register("frame-predictor", config=FramePredictorConfig, family="sequence",
          description="ConvLSTM encoder-forecaster (Shi et al. 2015) predicting the next frames of Moving MNIST by "
                      "moving the frame before (CDNA kernels, Finn et al. 2016), optionally with an adversarial loss",
          train_defaults={"steps": 5000, "batch_size": 8, "precision": "fp32", "channels_last": False,
                          "eval_samples": 500, "log_every": 25})
class FramePredictor(Model):
    """Reads `context` frames and predicts the next `horizon` (frames as floats on [0, 1])."""

    input_range = (0.0, 1.0)
    val_metric = "mse"
    val_higher_is_better = False
    evaluates_outputs: ClassVar[bool] = True  # scores its predictions in `evaluate`, configured by eval_options
    reads_sequences: ClassVar[bool] = True

    def __init__(self, cfg: FramePredictorConfig, spec: DataSpec):
        check_sequence_spec(spec, "frame-predictor")
        cfg.validate()
        super().__init__(cfg, spec)
        if max(spec.height, spec.width) > cfg.size:
            raise ConfigError(f"frames of size={cfg.size} cannot hold {spec.width}x{spec.height} digits: raise size "
                              "or shrink the digits (--set data.image_size=N)")
        grid = (cfg.size // 2 ** cfg.downsample,) * 2
        self.encoder = frame_encoder(cfg.features, cfg.downsample)
        self.reader = nn.ModuleList(ConvLSTMCell(cfg.features if i == 0 else cfg.hidden, cfg.hidden, cfg.kernel, grid,
                                                 cfg.peephole) for i in range(cfg.layers))
        first = cfg.features if cfg.feedback else 0
        self.forecaster = nn.ModuleList(ConvLSTMCell(first if i == 0 else cfg.hidden, cfg.hidden, cfg.kernel, grid,
                                                     cfg.peephole) for i in range(cfg.layers))
        states = cfg.layers * cfg.hidden
        if cfg.output == "transform":
            # masks over the moved copies and one new-pixel frame, and that frame's logit
            self.decoder = frame_decoder(states, cfg.features, cfg.downsample, out=cfg.motions + 2)
            self.kernels = nn.Linear(states * grid[0] * grid[1], cfg.motions * cfg.motion_size ** 2)
            # start near copying the frame before (the baseline): centre-heavy kernels, not a blur that compounds,
            # and a black new-pixel frame with a small mask, not a grey haze over the background
            nn.init.zeros_(self.kernels.weight)
            with torch.no_grad():
                self.kernels.bias.zero_().view(cfg.motions, cfg.motion_size ** 2)[:, cfg.motion_size ** 2 // 2] = 5.0
                self.decoder[-1].bias[-2:] -= torch.tensor([2.0, 4.0])
        else:
            self.decoder = frame_decoder(states, cfg.features, cfg.downsample)
        self.discriminator = frame_discriminator(cfg.d_width) if cfg.adversarial > 0 else None
        # the seed the registry built the model with (torch.initial_seed() after seeding): with the step, it seeds
        # each step's sequences; in the state dict, so a resumed run draws the same ones
        self.register_buffer("sequence_seed", torch.tensor(torch.initial_seed() % 2 ** 62, dtype=torch.int64))

    # ---- the network --------------------------------------------------------------------------------------
    def forward(self, context: torch.Tensor, horizon: int | None = None) -> torch.Tensor:
        """Context N x T x 1 x S x S on [0, 1] -> the next `horizon` frames on [0, 1], N x horizon x 1 x S x S."""
        horizon = horizon or self.cfg.horizon
        n, t = context.shape[:2]
        feats = self.encoder(context.flatten(0, 1) * 2 - 1)
        feats = feats.reshape(n, t, *feats.shape[1:])
        zeros = feats.new_zeros(n, self.cfg.hidden, *feats.shape[3:])
        states = [(zeros, zeros) for _ in self.reader]
        for k in range(t):  # encoding network: read the context
            x = feats[:, k]
            for i, cell in enumerate(self.reader):
                states[i] = cell(x, states[i])
                x = states[i][0]
        if not self.cfg.feedback:  # Shi et al.'s forecaster: no input, every frame decoded from its states at once
            outs = []
            for _ in range(horizon):
                x = None
                for i, cell in enumerate(self.forecaster):
                    states[i] = cell(x, states[i])
                    x = states[i][0]
                outs.append(torch.cat([h for h, _ in states], 1))
            logits = self.decoder(torch.stack(outs, 1).flatten(0, 1))
            return torch.sigmoid(logits).reshape(n, horizon, *logits.shape[1:])
        # feedback: each step reads the frame before it (the last given, then its own prediction)
        frame, x_prev, out = context[:, -1], feats[:, -1], []
        for k in range(horizon):
            x = x_prev
            for i, cell in enumerate(self.forecaster):
                states[i] = cell(x, states[i])
                x = states[i][0]
            h = torch.cat([h for h, _ in states], 1)
            frame = torch.sigmoid(self.decoder(h)) if self.cfg.output == "pixels" else self.transform(frame, h)
            out.append(frame)
            if k + 1 < horizon:
                x_prev = self.encoder(frame * 2 - 1)
        return torch.stack(out, 1)

    def transform(self, frame: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """CDNA (Finn, Goodfellow & Levine 2016, Sec. 3.1): the frame before (N x 1 x S x S) moved by `motions`
        kernels predicted from the states h (softmax-normalised, so each is a convex combination of nearby pixels:
        a translation when it is one-hot), and the moved copies and one newly decoded frame combined by per-pixel
        softmax masks. Moving pixels, instead of drawing them anew, keeps the digits sharp."""
        c, n = self.cfg, len(frame)
        k = c.motion_size
        kernels = torch.softmax(self.kernels(h.flatten(1)).reshape(n * c.motions, k * k), 1)
        moved = F.conv2d(frame.reshape(1, n, *frame.shape[2:]), kernels.reshape(n * c.motions, 1, k, k),
                         padding=k // 2, groups=n).reshape(n, c.motions, *frame.shape[2:])
        dec = self.decoder(h)
        masks = torch.softmax(dec[:, :-1], 1)  # motions + 1 masks
        candidates = torch.cat([moved, torch.sigmoid(dec[:, -1:])], 1)
        return (masks * candidates).sum(1, keepdim=True)

    @torch.no_grad()
    def predict_frames(self, context: torch.Tensor, horizon: int | None = None, batch_size: int = 100) -> torch.Tensor:
        """uint8 context N x T x 1 x S x S -> uint8 predictions N x horizon x 1 x S x S, in eval mode."""
        self._check_frames(context)
        out = []
        with eval_mode(self):
            for i in range(0, len(context), batch_size):
                x = context[i:i + batch_size].to(self.device).float() / 255
                out.append(to_uint8(self(x, horizon), (0.0, 1.0)).cpu())
        return torch.cat(out) if out else context.new_zeros((0, horizon or self.cfg.horizon, *context.shape[2:]))

    def _check_frames(self, frames: torch.Tensor) -> None:
        s = self.cfg.size
        if frames.dim() != 5 or tuple(frames.shape[2:]) != (1, s, s):
            raise ConfigError(f"{self.name} reads sequences N x T x 1 x {s} x {s}, got {tuple(frames.shape)}")

    # ---- training -----------------------------------------------------------------------------------------
    def sequences(self, digits: torch.Tensor, step: int) -> torch.Tensor:
        """The training sequences of step `step`: one per digit of the batch, context + horizon frames, drawn with
        a generator seeded from (sequence_seed, step)."""
        c = self.cfg
        g = torch.Generator().manual_seed((int(self.sequence_seed) * 1_000_003 + step) % 2 ** 63)
        return bouncing_sequences(digits, len(digits), c.context + c.horizon, c.size, g)

    def configure_optimizers(self, total_steps: int) -> None:
        c = self.cfg
        params = [p for name, p in self.named_parameters() if not name.startswith("discriminator.")]
        self.optimizers = {"net": torch.optim.Adam(params, lr=c.lr)}
        if self.discriminator is not None:
            self.optimizers["d"] = torch.optim.Adam(self.discriminator.parameters(), lr=c.lr_d, betas=(0.5, 0.999))

    def reconstruction_loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """pred, target on [0, 1]; the cross-entropy clamps pred away from 0 and 1 (a moved frame can be exactly 0)."""
        if self.cfg.loss == "bce":
            return F.binary_cross_entropy(pred.clamp(1e-6, 1 - 1e-6), target)
        return F.mse_loss(pred, target)

    def pairs(self, last: torch.Tensor, future: torch.Tensor) -> torch.Tensor:
        """(last context frame, each future frame) as 2-channel images: N*horizon x 2 x S x S."""
        return torch.cat([last[:, None].expand_as(future), future], 2).flatten(0, 1)

    def train_step(self, batch: Batch, step: int) -> dict[str, Any]:
        c = self.cfg
        seq = self.sequences(batch.x, step)  # N x (context + horizon) x 1 x S x S on [0, 1]
        context, future = seq[:, :c.context], seq[:, c.context:]
        pred = self(context)
        rec = self.reconstruction_loss(pred, future)
        logs: dict[str, Any] = {"loss": rec.detach()}
        loss = rec
        if self.discriminator is not None:
            last = context[:, -1]
            d_loss = d_loss_bce(self.discriminator(self.pairs(last, future)),
                                self.discriminator(self.pairs(last, pred.detach())))
            self.optimize("d", d_loss)
            adv = g_loss_nonsaturating(self.discriminator(self.pairs(last, pred)))
            loss = rec + c.adversarial * adv
            logs.update(loss_d=d_loss.detach(), loss_adv=adv.detach())
        self.optimize("net", loss, clip_grad_norm=c.clip_grad_norm or None)
        if self.discriminator is not None:
            self.discriminator.zero_grad(set_to_none=True)  # the predictor's backward reached D too
        with torch.no_grad():
            logs["mse"] = F.mse_loss(pred, future)
        return logs

    # ---- evaluation ---------------------------------------------------------------------------------------
    def evaluate(self, data: ImageSet, batch_size: int = 1000) -> dict[str, Any]:
        """MSE and SSIM (on [0, 1]) of each predicted future frame against the truth, on the first
        min(`eval_options.n`, config `eval_n`) fixed test sequences of `data`'s digits, beside two baselines':
        copying the last given frame (`*_copy_last`) and empty black frames (`*_blank`). The second keeps both
        figures honest on these mostly black frames: empty frames pay once per digit pixel where a wrong copy pays
        twice (MSE), and SSIM's small stabilising constants make any grey haze over a black background cost more
        than leaving out the digits (on 200 test sequences: empty frames 0.72, copying 0.59, a uniform 8/255
        haze 0.07)."""
        check_sequence_spec(data.spec, self.name)
        c = self.cfg
        n = min((getattr(self, "eval_options", None) or EvalOptions()).n, c.eval_n)
        chunk = max(1, min(batch_size, 100))
        sums = {f"{m}{b}": torch.zeros(c.horizon, dtype=torch.float64)
                for b in ("", "_copy_last", "_blank") for m in ("mse", "ssim")}
        for start in range(0, n, chunk):
            seq = eval_sequences(data, min(chunk, n - start), c.context + c.horizon, c.size, start)
            pred = self.predict_frames(seq[:, :c.context], batch_size=chunk)
            truth = seq[:, c.context:]
            copy = seq[:, c.context - 1:c.context].expand_as(truth)
            for name, guess in (("", pred), ("_copy_last", copy), ("_blank", torch.zeros_like(truth))):
                mse, sim = frame_figures(guess, truth)
                sums["mse" + name] += mse.sum(0)
                sums["ssim" + name] += sim.sum(0)
        res: dict[str, Any] = {}
        for k, v in sums.items():
            per_step = (v / max(n, 1)).tolist()
            res[k] = sum(per_step) / len(per_step)
            res[f"{k}_per_step"] = [round(x, 6) for x in per_step]
        res["n"] = n
        return res

    # ---- figures ------------------------------------------------------------------------------------------
    def strip(self, data: ImageSet, n: int = SHOWN) -> tuple[torch.Tensor, torch.Tensor]:
        """The first n test sequences (uint8, n x (context + horizon) x 1 x S x S) and the model's prediction of
        their future (n x horizon x 1 x S x S)."""
        c = self.cfg
        seq = eval_sequences(data, n, c.context + c.horizon, c.size)
        return seq, self.predict_frames(seq[:, :c.context])

    def write_figures(self, data: ImageSet, stem: Path, n: int = SHOWN) -> Path:
        """stem.png, per sequence a row of the truth (context, then future) above a row of the prediction, and
        stem.gif, the same as an animation; returns the PNG's path."""
        seq, pred = self.strip(data, n)
        grid, nrow, labels = prediction_grid(seq, pred)
        png = save_grid(grid, stem.with_suffix(".png"), nrow=nrow, value_range=None, row_labels=labels)
        save_gif(seq, pred, stem.with_suffix(".gif"))
        return png


def frame_figures(guess: torch.Tensor, truth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 frames N x T x 1 x S x S -> MSE and SSIM (on [0, 1]) per sequence and frame, N x T each."""
    x, y = guess.double() / 255, truth.double() / 255
    mse = (x - y).pow(2).flatten(2).mean(2)
    window = min(11, x.shape[-1])
    sim = ssim(x.flatten(0, 1), y.flatten(0, 1), 1.0, window=window).double().reshape(mse.shape)
    return mse, sim


def prediction_grid(seq: torch.Tensor, pred: torch.Tensor) -> tuple[torch.Tensor, int, list[str]]:
    """uint8 sequences n x T x 1 x S x S and predictions n x H x ...: per sequence a row of its T frames and a row of
    blank context cells then the H predicted frames; returns (images, columns, row labels)."""
    n, t = seq.shape[:2]
    h = pred.shape[1]
    blank = torch.full_like(seq[:, :t - h], 255)
    rows = torch.stack([seq, torch.cat([blank, pred], 1)], 1)  # n x 2 x T x ...
    return rows.flatten(0, 2), t, ["truth", "predicted"] * n


def save_gif(seq: torch.Tensor, pred: torch.Tensor, path: Path, ms: int = 200) -> Path:
    """An animated GIF of sequences (uint8 n x T x 1 x S x S) side by side: the top row the truth, the bottom row
    the input frames and then the prediction (a grey frame around predicted frames)."""
    from PIL import Image

    n, t = seq.shape[:2]
    h = pred.shape[1]
    frames = []
    for k in range(t):
        below = seq[:, k] if k < t - h else pred[:, k - (t - h)]
        grid = make_grid(torch.cat([seq[:, k], below]), nrow=n, value_range=None,
                         pad_value=128 if k >= t - h else 255)
        frames.append(Image.fromarray(grid[0].numpy()))
    path.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=ms, loop=0)
    return path
