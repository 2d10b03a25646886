"""The `genzoo` command: train, eval, sample, report, compare, serve, attack, viz, list-layers, list, data.

User errors (unknown model, bad option, missing or corrupt data, damaged run folder, diverged
training) print one line `genzoo: error: ...` and exit with status 2; Ctrl-C during training saves
a checkpoint and exits with status 130.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import os
import re
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

from genzoo.errors import ConfigError, GenzooError, SplitUnavailable

EPILOG_MAIN = """\
examples:
  genzoo list                                   models and their families
  genzoo train dcgan                            train on the embedded default data (mnist-mini)
  genzoo train classifier --data mnist --data-dir ~/data --epochs 6
  genzoo train --resume runs/classifier-mnist-20260101-120000
  genzoo eval runs/classifier-mnist-20260101-120000
  genzoo report runs/classifier-mnist-20260101-120000      one HTML page: curves, samples, figures, cost
  genzoo compare RUN_A RUN_B                               side by side
  genzoo serve RUN                                         explore a model in the browser
  genzoo attack RUN --method pgd --eps 0.1,0.2,0.3         robust accuracy of a classifier
  genzoo viz RUN                                           what each class looks like to the net
  genzoo data list
"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


class _Parser(argparse.ArgumentParser):
    """An argument error is a ConfigError: `main` prints it as one line and exits with status 2."""

    def error(self, message: str):
        raise ConfigError(f"{message} (see {self.prog} --help)")


# ---- argument types: a bad value is an argparse error that names the argument ------------------
def _count(text: str) -> int:
    """A whole number >= 1 (steps, sizes, sample counts)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive(text: str) -> float:
    """A finite number > 0 (learning rates, timeouts)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number greater than 0, got {text!r}")
    return value


def _scale(text: str) -> int | str:
    """auto, or a whole number >= 1 (grid upscaling)."""
    if text == "auto":
        return text
    try:
        return _count(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"use auto or a whole number of at least 1, got {text!r}") from None


def _numbers(text: str) -> list[float]:
    """Comma-separated finite numbers (attack budgets)."""
    values = []
    for part in text.split(","):
        try:
            v = float(part)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid number {part.strip()!r} in {text!r} (give e.g. 0.1,0.2,0.3)") \
                from None
        if not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"must be finite numbers, got {text!r}")
        values.append(v)
    return values


def _index_range(text: str) -> list[int]:
    """Channel indices: 0-15, 3,7,9 or a mix (3,8-11)."""
    out: list[int] = []
    try:
        for part in text.split(","):
            a, _, b = part.partition("-")
            lo, hi = int(a), int(b) if b else int(a)
            if lo < 0 or hi < lo:
                raise ValueError
            out.extend(range(lo, hi + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"give channels as 0-15, 3,7 or 3,8-11 (whole numbers >= 0), got {text!r}") \
            from None
    return out


def _device(text: str) -> str:
    from genzoo.training.trainer import device_problem

    problem = device_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def _parser() -> argparse.ArgumentParser:
    import genzoo

    p = _Parser(prog="genzoo", formatter_class=_Formatter, epilog=EPILOG_MAIN,
                description="Train, sample and evaluate classic deep image models.")
    p.add_argument("--version", action="version", version=f"genzoo {genzoo.__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    # list -------------------------------------------------------------------------------------
    pl = sub.add_parser("list", help="list models (or one model's config keys)", formatter_class=_Formatter,
                        epilog="examples:\n  genzoo list\n  genzoo list classifier")
    pl.add_argument("model", nargs="?", help="show this model's config keys and defaults")
    pl.set_defaults(func=cmd_list)

    # train ------------------------------------------------------------------------------------
    pt = sub.add_parser("train", help="train a model (or resume a run)", formatter_class=_Formatter,
                        epilog=textwrap.dedent("""\
        examples:
          genzoo train classifier                          embedded mnist-mini, default settings
          genzoo train classifier --data mnist --data-dir ../shared/data --epochs 6
          genzoo train classifier --set width=48 dropout=0.1 train.val_fraction=0.1
          genzoo train --resume runs/classifier-mnist-mini-20260101-120000

        --set KEY=VALUE sets a model config key (see `genzoo list MODEL`); prefix `train.` for
        trainer settings (log_every, eval_every, checkpoint_every, val_fraction, ...), `data.` for
        data options (image_size, limit, crop, per_class: a class-balanced training subset of that
        many images per class, e.g. data.per_class=10 for semi-supervised learning from 100 labels)."""))
    pt.add_argument("model", nargs="?", help="model name (see `genzoo list`)")
    pt.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint")
    pt.add_argument("--data", help="dataset name (default: the embedded mnist-mini; see `genzoo data list`)")
    pt.add_argument("--data-dir", help="folder holding the dataset files (or set GENZOO_DATA_DIR)")
    g = pt.add_mutually_exclusive_group()
    g.add_argument("--epochs", type=_count, help="passes over the training data")
    g.add_argument("--steps", type=_count, help="training steps")
    pt.add_argument("--batch-size", type=_count)
    pt.add_argument("--lr", type=_positive, help="learning rate (sets the model's lr key(s))")
    pt.add_argument("--seed", type=int, help="random seed (default 0)")
    pt.add_argument("--device", type=_device, help="auto, cpu, cuda, cuda:1 ...")
    pt.add_argument("--precision", choices=["fp32", "bf16"])
    pt.add_argument("--compile", action="store_true", default=None,
                    help="torch.compile the networks (opt-in; on CPU it did not pay for the default GAN)")
    pt.add_argument("--out", metavar="RUN_DIR", help="run folder (default runs/<model>-<data>-<time>)")
    pt.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                    help="config overrides (several after one --set, or --set repeated)")
    pt.add_argument("--quiet", action="store_true", help="no progress output")
    pt.set_defaults(func=cmd_train)

    # eval -------------------------------------------------------------------------------------
    pe = sub.add_parser("eval", help="evaluate a trained run, or a folder of generated images; writes metrics.json",
                        formatter_class=_Formatter, epilog=textwrap.dedent("""\
        examples:
          genzoo eval runs/classifier-mnist-20260101-120000          accuracy, confusion matrix
          genzoo eval runs/dcgan-mnist-20260101-120000               FID, KID, precision/recall, ... (10,000 samples)
          genzoo eval RUN --n 10000 --metrics fid,kid,pr --seeds 3   mean +/- std over 3 sample seeds
          genzoo eval --real mnist --data-dir ../shared/data --fake samples/   images from any tool
          genzoo eval --real folder:real_pngs/ --fake fake_pngs/ --features inception

        metrics: fid, kid, pr (precision, recall), dc (density, coverage), is (Inception-style score with
        the domain classifier), cls (class-histogram KL), cacc (conditional accuracy), modes (stacked
        MNIST), nn (memorization: nearest training image). Default: fid,kid,pr,dc,is,cls + cacc for
        conditional models, modes for stacked-mnist, nn for runs. Features: the dataset's own
        classifier (auto), or --features inception / a classifier RUN_DIR."""))
    pe.add_argument("run", nargs="?", help="run folder (or give --real and --fake)")
    pe.add_argument("--which", choices=["best", "last"], help="checkpoint (default best; falls back to last)")
    pe.add_argument("--split", help="real split to compare with (default test; 'all' for folders)")
    pe.add_argument("--data-dir", help="where the dataset lives now, if it moved since training")
    pe.add_argument("--batch-size", type=_count, default=500)
    pe.add_argument("--device", type=_device, default="auto")
    pe.add_argument("--n", type=_count, help="generative models: samples per seed (default 10000)")
    pe.add_argument("--metrics", help="comma-separated metrics (default: all that apply)")
    pe.add_argument("--seeds", type=_count, help="sample seeds; figures are mean +/- std over them (default 1)")
    pe.add_argument("--seed", type=int, default=0, help="first sample seed")
    pe.add_argument("--features", default="auto",
                    help="auto (the dataset's classifier), mnist, stacked-mnist, fashion-mnist, cifar10, "
                         "inception, or a classifier RUN_DIR")
    pe.add_argument("--real", metavar="DATASET|DIR", help="real images: a dataset name or an image folder")
    pe.add_argument("--fake", metavar="DIR", help="generated images: a folder (class subfolders = requested labels)")
    pe.add_argument("--out", help="with --fake: JSON file to write (default FAKE_DIR/metrics.json)")
    pe.add_argument("--k", type=_count, help="importance samples for a likelihood model's log-likelihood estimate "
                    "(the published VAE/IWAE figures use 5000; default: the model's eval_k)")
    pe.set_defaults(func=cmd_eval)

    # sample -----------------------------------------------------------------------------------
    ps = sub.add_parser("sample", help="draw samples from a trained generative model",
                        formatter_class=_Formatter,
                        epilog="examples:\n  genzoo sample runs/dcgan-mnist-mini-20260101-1200 --n 64 --out grid.png\n"
                               "  genzoo sample RUN --n 10000 --out-dir samples/  (one PNG per image)")
    ps.add_argument("run", help="run folder")
    ps.add_argument("--n", type=_count, help="number of samples (default 64; frames: sequences, at most 8)")
    ps.add_argument("--out", help="grid PNG path (default RUN/samples/sample.png)")
    ps.add_argument("--out-dir", help="write one PNG per sample into this folder")
    ps.add_argument("--seed", type=int, default=0)
    ps.add_argument("--which", choices=["best", "last"], default="last")
    ps.add_argument("--labels", help="comma-separated class labels for conditional models")
    ps.add_argument("--device", type=_device, default="auto")
    views = ps.add_argument_group("views (one at a time)").add_mutually_exclusive_group()
    views.add_argument("--interpolate", action="store_true", help="rows interpolating between random latents")
    views.add_argument("--arithmetic", metavar="SPEC", help="latent vector arithmetic (see the model family docs)")
    views.add_argument("--class-grid", action="store_true",
                       help="one row per class (or per --labels entry), columns share a latent (conditional models)")
    views.add_argument("--attrs", metavar="A=1,B=0", help="attribute-conditioned samples (attr-gan); attributes left "
                       "out are drawn from the training data's joint distribution given the ones set")
    views.add_argument("--codes", action="store_true", help="sweep each latent code (InfoGAN)")
    views.add_argument("--manifold", action="store_true", help="2-D latent manifold grid")
    views.add_argument("--reconstruct", action="store_true", help="test images and their reconstructions")
    views.add_argument("--levels", action="store_true",
                       help="pyramid models (lapgan): each sample at every scale, a row per scale, coarse to fine")
    views.add_argument("--scatter", action="store_true", help="test-set codes in 2-D, coloured by class")
    views.add_argument("--filters", action="store_true", help="the weights of the first --n hidden units (rbm)")
    views.add_argument("--query", metavar="IMAGE", help="retrieval models (irgan): an image file or folder of "
                       "images; a row per ranker shows the query and its --top retrieved database images")
    views.add_argument("--input", metavar="IMAGE", help="translation models (pix2pix, cyclegan): translate an image "
                       "file or a folder of images (rows: input, output); without it, --n test images with their "
                       "targets")
    views.add_argument("--frames", action="store_true", help="frame predictors (frame-predictor, the default view): "
                       "test sequences and their predicted continuation, also as an animated GIF")
    ps.add_argument("--text", action="append", metavar="CAPTION",
                    help="text-to-image models (text-gan): --n samples for a caption, e.g. --text \"a thick seven "
                         "leaning right\"; several --text: a row per caption (columns share a latent); two --text "
                         "with --interpolate: a row per --steps step from the first caption's embedding to the "
                         "second's")
    ps.add_argument("--steps", type=_count, help="--interpolate, --codes, --manifold: steps per row (default 10)")
    ps.add_argument("--slerp", action="store_true", help="--interpolate: spherical instead of linear")
    ps.add_argument("--top", type=_count, help="--query: database images retrieved per ranker (default 8)")
    ps.add_argument("--reverse", action="store_true", help="translation models with both directions (cyclegan): "
                    "translate domain B to A")
    ps.add_argument("--classifier", metavar="RUN_DIR", help="a trained classifier run (to pick samples by class)")
    ps.add_argument("--scale", type=_scale,
                    help="grid cells upscaled N times by nearest neighbour (default auto: at least 64 px per cell)")
    ps.set_defaults(func=cmd_sample)

    # report, compare --------------------------------------------------------------------------
    pr = sub.add_parser("report", help="write RUN/report.html: curves, samples, figures, cost (one offline page)",
                        formatter_class=_Formatter, epilog=textwrap.dedent("""\
        examples:
          genzoo report runs/dcgan-mnist-mini-20260101-1200            writes RUN/report.html
          genzoo report RUN --watch                                    rewrite it every 30 s while RUN trains
          genzoo report RUN --watch 5 --out /tmp/live.html

        The page is one self-contained file (images and plots inline): it opens offline, from anywhere.
        Training writes it at the end of every run."""))
    pr.add_argument("run", help="run folder")
    pr.add_argument("--watch", type=_positive, nargs="?", const=30.0, metavar="SECONDS",
                    help="rewrite the report every SECONDS (default 30) while the run trains; the page reloads "
                         "itself. Stops when the run ends, or on Ctrl-C")
    pr.add_argument("--out", metavar="PATH", help="where to write the page (default RUN/report.html)")
    pr.set_defaults(func=cmd_report)
    pc = sub.add_parser("compare", help="compare runs: a table here and an HTML page with overlaid curves",
                        formatter_class=_Formatter, epilog=textwrap.dedent("""\
        examples:
          genzoo compare runs/dcgan-a runs/wgan-gp-b                   table + compare.html in this folder
          genzoo compare runs/* --out cmp.html

        Runs of any model families: only the final figures and logged keys they all have are compared;
        the rest is listed as left out."""))
    pc.add_argument("runs", nargs="+", metavar="RUN", help="two or more run folders")
    pc.add_argument("--out", metavar="PATH", default="compare.html", help="HTML page to write (default compare.html)")
    pc.set_defaults(func=cmd_compare)

    # serve ------------------------------------------------------------------------------------
    pv = sub.add_parser("serve", help="explore trained runs in the browser (latent sliders, classes, morphing)",
                        formatter_class=_Formatter, epilog=textwrap.dedent("""\
        examples:
          genzoo serve runs/dcgan-mnist-mini-20260101-1200              then open http://127.0.0.1:8000/
          genzoo serve runs/cdcgan-a runs/vae-frey-b --port 8080        several runs; the page switches between them

        Binds 127.0.0.1 (this machine only) unless --host says otherwise. Needs the extra:
        pip install -e '.[serve]'"""))
    pv.add_argument("runs", nargs="+", metavar="RUN", help="run folders (the only ones the server can reach)")
    pv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    pv.add_argument("--port", type=_port, default=8000, help="TCP port (default 8000)")
    pv.add_argument("--device", type=_device, default="cpu", help="device for the models (default cpu)")
    pv.set_defaults(func=cmd_serve)

    # attack, viz, list-layers -----------------------------------------------------------------
    pa = sub.add_parser("attack", help="attack a classifier run (FGSM, PGD, L-BFGS, fooling images): robust "
                        "accuracy against eps, grids of adversarial examples", formatter_class=_Formatter,
                        epilog=textwrap.dedent("""\
        examples:
          genzoo attack RUN                                      PGD-50 (L-inf) at the data's usual eps ladder
          genzoo attack RUN --method fgsm --eps 0.1,0.2,0.3      FGSM (Goodfellow et al. 2015)
          genzoo attack RUN --method pgd --restarts 10 --eps 0.3 PGD with random restarts (Madry et al. 2018)
          genzoo attack RUN --method pgd --norm l2 --eps 1,2     L2 ball
          genzoo attack RUN --method pgd --targeted 3            push every image towards class 3
          genzoo attack RUN --method lbfgs -n 100                smallest perturbation to a target (Szegedy et al.)
          genzoo attack RUN --method fooling                     images from noise the net is >99% sure of

        eps is in pixels scaled to [0, 1] (MNIST's usual 0.3 is 77 grey levels). Figures go into
        RUN/metrics.json (attack_<method>_<norm>), grids and a plot into RUN/attacks/."""))
    pa.add_argument("run", help="a classifier run folder")
    pa.add_argument("--method", choices=["fgsm", "pgd", "lbfgs", "fooling"], default="pgd")
    pa.add_argument("--eps", type=_numbers, help="comma-separated budgets (default: the data's usual ladder, "
                    "e.g. 0.1,0.2,0.3 for MNIST)")
    pa.add_argument("--norm", choices=["linf", "l2"], default="linf")
    pa.add_argument("--targeted", type=int, metavar="K", help="a target class (default: untargeted)")
    pa.add_argument("--steps", type=_count,
                    help="pgd steps (default 50), lbfgs iterations (50), fooling steps (at most 1000)")
    pa.add_argument("--restarts", type=_count, default=1, help="pgd random restarts (the strongest counts)")
    pa.add_argument("--alpha", type=_positive, help="pgd step size (default 2.5 * eps / steps)")
    pa.add_argument("-n", "--n", type=_count, help="images to attack (default: the whole split; lbfgs 100; "
                    "fooling: images per class, 4)")
    pa.add_argument("--split", default="test", help="split to attack (default test)")
    pa.add_argument("--which", choices=["best", "last"], default="best", help="checkpoint (best falls back to last)")
    pa.add_argument("--data-dir", help="where the dataset lives now, if it moved since training")
    pa.add_argument("--batch-size", type=_count, default=500)
    pa.add_argument("--seed", type=int, default=0, help="random starts")
    pa.add_argument("--device", type=_device, default="auto")
    pa.set_defaults(func=cmd_attack)

    pz = sub.add_parser("viz", help="feature visualization: images that maximise a class, a channel or a neuron "
                        "(classifiers, discriminators); channel ablation in a GAN generator",
                        formatter_class=_Formatter, epilog=textwrap.dedent("""\
        examples:
          genzoo viz RUN                                    one image per class (classifier), the realness
                                                            score (GAN discriminator)
          genzoo viz RUN --target class:3 -n 8              eight images for class 3
          genzoo viz RUN --layer body.3                     the first 16 channels of a layer
          genzoo viz RUN --target neuron:body.3:5:3:3       one unit of a layer's feature map
          genzoo viz RUN --ablate G.net.4                   GAN generator: what zeroing each channel changes
          genzoo list-layers RUN                            layer names to target

        Priors (Olah et al. 2017): random jitter and scaling, optional blur / total variation / L2, and a
        decorrelated Fourier parameterisation for colour images. Grids go into RUN/viz/."""))
    pz.add_argument("run", help="a run folder (classifier, GAN, ...)")
    pz.add_argument("--target", action="append", metavar="SPEC",
                    help="class:K | logit[:K] | channel:LAYER:C | neuron:LAYER:C:Y:X (repeatable)")
    pz.add_argument("--layer", help="visualize channels of this layer (see --channels)")
    pz.add_argument("--channels", type=_index_range, help="channels for --layer / --ablate, e.g. 0-15 or 3,7 "
                    "(default the first 16; --ablate: the 8 that change the output most)")
    pz.add_argument("--net", choices=["auto", "classifier", "discriminator", "generator"], default="auto",
                    help="which network of the run (auto: the classifier, else the discriminator)")
    pz.add_argument("--ablate", metavar="LAYER", help="GAN generator layer whose channels to zero, one at a time")
    pz.add_argument("-n", "--n", type=_count, default=1, help="images per target (ablation: latents, default 8)")
    # the image optimisation's options (VizOptions holds their defaults; --ablate optimises no image)
    pz.add_argument("--steps", type=_count, help="optimisation steps (default 256)")
    pz.add_argument("--lr", type=_positive, help="optimisation step size (default 0.05)")
    pz.add_argument("--param", choices=["auto", "pixel", "fourier"],
                    help="image parameterisation (default auto: fourier for colour, pixel for grey)")
    pz.add_argument("--tv", type=float, help="total-variation penalty weight (default 0)")
    pz.add_argument("--l2", type=float, help="L2 penalty weight (default 0)")
    pz.add_argument("--blur-every", type=int, help="blur the image every N steps (default 0: never)")
    pz.add_argument("--jitter", type=int, help="random translation in pixels per step (default 2)")
    pz.add_argument("--layers", action="store_true", help="list the layers that can be targeted, and exit")
    pz.add_argument("--which", choices=["best", "last"], default="best")
    pz.add_argument("--seed", type=int, default=0)
    pz.add_argument("--out", help="grid PNG path (default RUN/viz/<what>.png)")
    pz.add_argument("--data-dir", help="where the run's dataset lives now (to compare with real test images)")
    pz.add_argument("--device", type=_device, default="auto")
    pz.set_defaults(func=cmd_viz)

    pll = sub.add_parser("list-layers", help="the layers of a run's networks that genzoo viz can target",
                         formatter_class=_Formatter, epilog="examples:\n  genzoo list-layers RUN")
    pll.add_argument("run", help="a run folder")
    pll.add_argument("--which", choices=["best", "last"], default="best")
    pll.set_defaults(func=cmd_list_layers)

    pj = sub.add_parser("project", help="project real images into a generator's latent space, edit and morph them "
                        "(iGAN)", formatter_class=_Formatter, epilog=textwrap.dedent("""\
        examples:
          genzoo project RUN digit.png more/                            codes whose images match these
          genzoo project RUN --against train 100 --against test 100     memorised? train vs test error
          genzoo project RUN a.png --stroke mask.png --color 255        pull the white mask pixels to white
          genzoo project RUN a.png --target-class 7                     conditional GAN / InfoGAN: the nearest 7
          genzoo project RUN --morph a.png b.png --steps 10 --slerp     walk between two projections

        Zhu et al. 2016 (iGAN): Adam on z from --starts random codes, loss = pixel distance + feature distance in
        the dataset's domain classifier. IMAGEs go right after RUN. Writes a grid, the codes (.npy) and
        projection.json into RUN/projections/ (or --out)."""))
    pj.add_argument("run", help="a GAN (or VAE / AAE) run folder")
    pj.add_argument("images", nargs="*", metavar="IMAGE", help="image files or folders of images")
    pj.add_argument("--label", type=int, metavar="K", help="conditional models: project under class (code) K "
                    "(default: try every class, keep the best)")
    pj.add_argument("--starts", type=_count, default=8, help="random starts per image (default 8)")
    pj.add_argument("--iters", type=_count, default=300, help="optimisation steps per projection and edit")
    pj.add_argument("--lr", type=_positive, default=0.05, help="Adam step size on z")
    pj.add_argument("--pixel-loss", choices=["mse", "l1"], default="mse")
    pj.add_argument("--feature-weight", type=float, default=0.1, help="weight of the feature distance (0: pixels "
                    "only)")
    pj.add_argument("--norm-penalty", type=float, default=0.0, help="normal priors: keep |z| near sqrt(dim) "
                    "(e.g. 0.01)")
    pj.add_argument("--encoder", action="store_true", help="one start from the model's encoder (bigan, vae, aae)")
    pj.add_argument("--resize", action="store_true", help="convert and resize images (and the mask) to the model's")
    pj.add_argument("--against", nargs=2, action="append", default=[], metavar=("SPLIT", "N"),
                    help="also project N images of the run's train or test split (repeatable) and report the mean")
    pj.add_argument("--stroke", metavar="MASK", help="edit: a mask image, white where the colour should go")
    pj.add_argument("--color", metavar="R,G,B", help="edit: the stroke's colour, or one grey intensity (0-255)")
    pj.add_argument("--edit-weight", type=_positive, help="lambda: the stroke against the rest "
                    "(default 0.3)")
    pj.add_argument("--target-class", type=int, metavar="K", help="edit: change the class (InfoGAN: code value)")
    pj.add_argument("--edit-steps", type=_count, help="intermediate edit results shown (default 4)")
    pj.add_argument("--morph", nargs=2, metavar=("A", "B"), help="project two images and walk between their codes")
    pj.add_argument("--steps", type=_count, help="--morph: frames (default 8)")
    pj.add_argument("--slerp", action="store_true", help="--morph: spherical instead of linear interpolation")
    pj.add_argument("--out", metavar="DIR", help="output folder (default RUN/projections)")
    pj.add_argument("--which", choices=["best", "last"], default="best")
    pj.add_argument("--seed", type=int, default=0)
    pj.add_argument("--data-dir", help="where the run's dataset lives now (for --against)")
    pj.add_argument("--device", type=_device, default="auto")
    pj.set_defaults(func=cmd_project)

    pcap = sub.add_parser("caption", help="caption images with a trained captioner run (Show and Tell)",
                          formatter_class=_Formatter, epilog=textwrap.dedent("""\
        examples:
          genzoo caption RUN digit.png more/          one line per image: the file, then its caption
          genzoo caption RUN digit.png --beam 1       greedy decoding instead of the run's beam width

        Images must have the run's size and channels (grey or colour)."""))
    pcap.add_argument("run", help="a captioner run folder")
    pcap.add_argument("images", nargs="+", metavar="IMAGE", help="image files or folders of images")
    pcap.add_argument("--beam", type=_count, help="beam width (default: the run's, see `genzoo list captioner`; "
                      "1 = greedy)")
    pcap.add_argument("--which", choices=["best", "last"], default="best")
    pcap.add_argument("--device", type=_device, default="auto")
    pcap.set_defaults(func=cmd_caption)

    # data -------------------------------------------------------------------------------------
    pd = sub.add_parser("data", help="list, describe or download datasets", formatter_class=_Formatter,
                        epilog="examples:\n  genzoo data list\n  genzoo data info mnist --data-dir ~/data\n"
                               "  genzoo data fetch fashion-mnist --data-dir ~/data")
    dsub = pd.add_subparsers(dest="data_command", metavar="ACTION")
    d1 = dsub.add_parser("list", help="the named datasets and whether their files are present",
                         formatter_class=_Formatter, epilog="examples:\n  genzoo data list --data-dir ~/data")
    d1.add_argument("--data-dir")
    d1.set_defaults(func=cmd_data_list)
    d2 = dsub.add_parser("info", help="load a dataset and describe it", formatter_class=_Formatter,
                         epilog="examples:\n  genzoo data info mnist-mini\n"
                                "  genzoo data info cifar10 --data-dir ~/data")
    d2.add_argument("name")
    d2.add_argument("--data-dir")
    d2.set_defaults(func=cmd_data_info)
    d3 = dsub.add_parser("fetch", help="download (with checksums) and unpack a dataset",
                         formatter_class=_Formatter,
                         epilog="examples:\n  genzoo data fetch mnist --data-dir ~/data\n"
                                "  genzoo data fetch celeba   (checks and unpacks files downloaded by hand)")
    d3.add_argument("name")
    d3.add_argument("--data-dir")
    d3.add_argument("--timeout", type=_positive, default=60.0, help="seconds to wait for a server")
    d3.set_defaults(func=cmd_data_fetch)
    pd.set_defaults(func=lambda a: (pd.print_help(), 0)[1])
    return p


# ---- helpers ---------------------------------------------------------------------------------
def _resolve_device(name: str):
    from genzoo.training.distributed import from_env
    from genzoo.training.trainer import resolve_device

    return resolve_device(name, from_env())


def _default_precision(model: str, device: str) -> str:
    """A model's default bf16, unless training runs on a CPU without native bf16, where it would be over 10x slower
    than fp32 (`cpu_has_native_bf16`); the user's --precision is never changed."""
    from genzoo.training.trainer import cpu_has_native_bf16

    if _resolve_device(device).type != "cpu" or cpu_has_native_bf16():
        return "bf16"
    _print(f"precision: fp32, not {model}'s default bf16: this CPU has no native bf16 (AVX-512 BF16 or AMX), where "
           f"bf16 products are emulated and train over 10x slower; --precision bf16 forces it")
    return "fp32"


def _split_overrides(entry, items: list[str]) -> tuple[dict, dict, dict]:
    """--set KEY=VALUE items -> (model overrides, trainer overrides, data options)."""
    from genzoo.config import field_names, parse_assignments, unknown_key_error
    from genzoo.runs import DATA_OPTS
    from genzoo.training import TrainConfig

    model_keys, train_keys = field_names(entry.config_cls), field_names(TrainConfig)
    data_keys = [*DATA_OPTS, "per_class"]
    model, train, data = {}, {}, {}
    for key, value in parse_assignments(items).items():
        if key.startswith("train."):
            k = key[6:]
            if k not in train_keys:
                raise unknown_key_error(k, train_keys, "trainer")
            train[k] = value
        elif key.startswith("data."):
            k = key[5:]
            if k not in data_keys:
                raise unknown_key_error(k, data_keys, "data")
            data[k] = value
        elif key.startswith("model."):
            model[key[6:]] = value
        elif key in model_keys:
            model[key] = value
        elif key in train_keys:
            train[key] = value
        else:
            raise unknown_key_error(key, model_keys + [f"train.{k}" for k in train_keys], f"{entry.name} config")
    return model, train, data


def _lr_keys(entry) -> list[str]:
    from genzoo.config import field_names

    keys = field_names(entry.config_cls)
    if "lr" in keys:
        return ["lr"]
    found = [k for k in keys if k.startswith("lr_")]
    if not found:
        raise ConfigError(f"{entry.name} has no learning-rate setting for --lr")
    return found


def _print(msg: str) -> None:
    from genzoo.training.distributed import from_env

    if from_env().is_main:
        print(msg, flush=True)


def _settings_text(settings: dict[str, Any]) -> str:
    """KEY=VALUE, ... as --set takes them (a tuple as comma-separated values)."""
    return ", ".join(f"{k}={','.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in settings.items())


# ---- commands --------------------------------------------------------------------------------
def cmd_list(args) -> int:
    from genzoo import registry
    from genzoo.config import describe

    if args.model:
        entry = registry.get(args.model)
        print(f"{entry.name} ({entry.family}): {entry.description}\n")
        doc = (entry.model_cls.__doc__ or "").strip()
        if doc:
            print(textwrap.indent(doc, "  ") + "\n")
        print("config keys (set with --set KEY=VALUE):")
        defaults = entry.default_config()
        for name, tp, _default, help_ in describe(entry.config_cls):
            print(f"  {name:<18} {tp:<22} {getattr(defaults, name)!r:<14} {help_}")
        if entry.train_defaults:
            print("\ntrainer defaults: " + _settings_text(entry.train_defaults))
        for dataset in dict.fromkeys([*entry.dataset_defaults, *entry.dataset_train_defaults]):
            over = {**entry.dataset_defaults.get(dataset, {}), **entry.dataset_train_defaults.get(dataset, {})}
            print(f"defaults on {dataset} (instead of the above): {_settings_text(over)}")
        return 0
    rows = registry.entries()
    fam_w = max(len(e.family) for e in rows)
    name_w = max(len(e.name) for e in rows)
    for e in sorted(rows, key=lambda e: (e.family, e.name)):
        print(f"{e.name:<{name_w}}  {e.family:<{fam_w}}  {e.description}")
    return 0


def cmd_train(args) -> int:
    from genzoo import registry
    from genzoo.config import from_dict, replace
    from genzoo.runs import RunDir, eval_split, load_split
    from genzoo.training import TrainConfig, Trainer
    from genzoo.training import distributed as dist

    if args.resume:  # these were silently ignored: a resumed run is the saved one, continued exactly
        ignored = [flag for flag, given in (("--data", args.data), ("--epochs", args.epochs), ("--steps", args.steps),
                                            ("--batch-size", args.batch_size), ("--lr", args.lr), ("--seed", args.seed),
                                            ("--precision", args.precision), ("--compile", args.compile),
                                            ("--set", args.set), ("--out", args.out)) if given not in (None, [])]
        if ignored:
            raise ConfigError(f"{', '.join(ignored)}: a resumed run goes on exactly as saved in "
                              f"{Path(args.resume) / 'config.json'}, in its own folder (only --device, --data-dir "
                              "and --quiet apply); to train it otherwise, start a new run")
    if args.out:  # before the data loads (a minute for some sets); the run folder's lock checks it again
        _check_folder(args.out, "--out", args.out)
    if args.resume:
        if args.model:
            raise ConfigError("give either a model name or --resume RUN_DIR, not both")
        run = RunDir(args.resume)
        if not run.path.is_dir():
            raise ConfigError(f"run folder {run.path} does not exist")
        saved = run.read_config()
        entry = registry.get(saved["model"])
        tcfg = from_dict(TrainConfig, saved["train"])
        if args.device:
            tcfg = replace(tcfg, {"device": args.device})
        if args.quiet:
            tcfg = replace(tcfg, {"progress": False})
        data_args = saved["data"]
        if args.data_dir:
            data_args = {**data_args, "data_dir": args.data_dir}
        data = load_split(data_args, "train")
        from genzoo.data.imageset import DataSpec

        if DataSpec.from_dict(saved["data_spec"]).shape != data.spec.shape:
            raise ConfigError(f"the data now loaded has shape {data.spec.shape}, but {run.path} was trained "
                              f"on {tuple(saved['data_spec'].values())[:3]}")
        # seeded as a new run: a run killed before its first checkpoint starts again from step 0, identically
        model = registry.build(entry.name, data.spec, config=from_dict(entry.config_cls, saved["model_config"]),
                               seed=tcfg.seed)
        trainer = Trainer(model, data, tcfg, run_dir=run.path, eval_data=eval_split(data_args),
                          data_args=data_args, log=_print)
        trainer.check_resumable()  # an ended run is refused before anything is written, the lock included
        summary = trainer.fit(resume=True)
        return _finish(trainer, summary)

    if not args.model:
        raise ConfigError("name a model to train (see `genzoo list`), or --resume RUN_DIR")
    entry = registry.get(args.model)
    model_over, train_over, data_over = _split_overrides(entry, args.set)
    if args.lr is not None:
        for k in _lr_keys(entry):
            model_over[k] = args.lr
    from genzoo.config import coerce
    from genzoo.data import DEFAULT_DATASET
    from genzoo.data.catalog import is_embedded

    data_name = args.data or DEFAULT_DATASET
    flags = {key: getattr(args, key) for key in ("epochs", "steps", "batch_size", "seed", "device", "precision",
                                                 "compile") if getattr(args, key) is not None}
    train_settings: dict[str, Any] = registry.with_settings(entry.trainer_defaults(data_name), flags)
    if args.quiet:
        train_settings["progress"] = False
    train_settings.update(train_over)
    tcfg = replace(TrainConfig(), train_settings, what="trainer")
    if tcfg.precision == "bf16" and "precision" not in flags and "precision" not in train_over:
        tcfg = replace(tcfg, {"precision": _default_precision(entry.name, tcfg.device)}, what="trainer")
    if tcfg.epochs is None and tcfg.steps is None:
        tcfg = replace(tcfg, {"epochs": 1})

    data_args: dict[str, Any] = {"name": data_name}
    if args.data_dir:
        data_args["data_dir"] = str(Path(args.data_dir).expanduser().resolve())
        if is_embedded(data_name):
            print(f"note: --data-dir is unused: {data_name} is embedded in genzoo"
                  + ("" if args.data else "; to train on the files there, name them, e.g. --data mnist"),
                  file=sys.stderr)
    for k, v in data_over.items():
        data_args[k] = coerce(v, int, f"data.{k}")
    data = load_split(data_args, "train")
    eval_data = eval_split(data_args)

    info = dist.from_env()
    out = args.out
    if out is None:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = str(Path("runs") / f"{entry.name}-{data_args['name'].replace('folder:', '').replace('/', '_')}-{stamp}")
        if info.enabled:  # every process must write to the same folder: take rank 0's name
            dist.init(info, _resolve_device(tcfg.device))
            out = dist.gather_objects(out)[0]
    model = registry.build(entry.name, data.spec, model_over, seed=tcfg.seed)
    dataset_defaults = {k: v for k, v in entry.dataset_defaults.get(data.spec.name, {}).items() if k not in model_over}
    dataset_defaults.update({k: v for k, v in entry.dataset_train_defaults.get(data_name, {}).items()
                             if getattr(tcfg, k) == v})  # the trainer's, where the user's flags left them
    if dataset_defaults:
        _print(f"{entry.name}'s defaults on {data.spec.name}: {_settings_text(dataset_defaults)} "
               f"(`genzoo list {entry.name}`; --set KEY=VALUE overrides)")
    trainer = Trainer(model, data, tcfg, run_dir=out, eval_data=eval_data, data_args=data_args, log=_print)
    _print(f"training {entry.name} on {data.name} ({len(data)} images {'x'.join(map(str, data.shape))}) "
           f"for {trainer.total_steps} steps -> {out}")
    summary = trainer.fit()
    return _finish(trainer, summary)


def _finish(trainer, summary: dict[str, Any]) -> int:
    run = trainer.run.path
    if summary["status"] == "interrupted":
        _print(f"interrupted at step {summary['step']}; checkpoint saved. Resume with: "
               f"genzoo train --resume {run}")
        return 130
    grids = sorted((run / "samples").glob("*.png")) if (run / "samples").is_dir() else []
    share = summary["eval_seconds"] / max(summary["wall_seconds"], 1e-9)
    _print(f"done: {summary['step']} steps in {summary['train_seconds']:.1f} s "
           f"({summary['images_per_s']:.0f} images/s), status {summary['status']}; evaluation took "
           f"{summary['eval_seconds']:.1f} s, {share:.0%} of {summary['wall_seconds']:.0f} s wall time")
    _print(f"run folder: {run}")
    if grids:
        _print(f"samples: {grids[-1]}")
    _write_report(run)
    return 0


def _write_report(run: Path) -> None:
    """The run's report.html at the end of training; a failure is one warning line, never a failed run."""
    from genzoo.training.distributed import from_env

    if not from_env().is_main:
        return
    try:
        from genzoo.report.page import write_report

        _print(f"report: {write_report(run)}")
    except Exception as e:  # the run is done and saved; the report is only a view of it
        text = _one_line(e) if isinstance(e, GenzooError) else f"{type(e).__name__}: {e}"
        print(f"genzoo: warning: report not written ({text}); try `genzoo report {run}`", file=sys.stderr)


def _check_folder(folder: str | os.PathLike, flag: str, given: str) -> None:
    """Refuse, before any work, an output folder that cannot be made because a file stands at it or above it
    (`--out-dir notes.txt` sampled, then failed with FileExistsError's traceback)."""
    for where in (Path(folder).expanduser(), *Path(folder).expanduser().parents):
        if where.exists():
            if not where.is_dir():
                raise ConfigError(f"{flag} {given}: {where} is a file, not a folder; choose another {flag}")
            return


def _check_page_path(out: str | None) -> None:
    """A page is HTML: refuse an --out that names another type (`compare A B --out cmp.png` wrote HTML into a
    file that image viewers then failed to open)."""
    if out and Path(out).suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"--out {out}: the page is HTML; name it .html (a grid picture comes from genzoo sample)")
    if out:
        _check_folder(Path(out).parent, "--out", out)


def cmd_report(args) -> int:
    from genzoo.report.page import write_report
    from genzoo.report.watch import watch

    _check_page_path(args.out)
    if args.watch is not None:
        watch(args.run, args.watch, args.out)
        return 0
    print(f"wrote {write_report(args.run, args.out)}")
    return 0


def cmd_compare(args) -> int:
    from genzoo.report.compare import table_text, write_compare

    _check_page_path(args.out)
    path, comparison = write_compare(args.runs, args.out)
    print(table_text(comparison))
    print(f"wrote {path}")
    return 0


MAX_EVAL_SAMPLES = 1_000_000  # 20x the 50k of FID papers: 10k take seconds on 2 cores, this many minutes


def cmd_eval(args) -> int:
    if args.fake or args.real:  # scores the folder's images as they are; these were silently ignored there
        unused = [flag for flag, value in (("--n", args.n), ("--seeds", args.seeds), ("--which", args.which),
                                           ("--k", args.k)) if value is not None]
        if unused:
            raise ConfigError(f"{', '.join(unused)}: for a run folder; --real/--fake scores the images in --fake "
                              "as they are")
        return _eval_folder(args)
    if args.out:
        raise ConfigError(f"--out {args.out}: for --real/--fake; a run's figures go into RUN/metrics.json")
    args.n, args.seeds, args.which = args.n or 10000, args.seeds or 1, args.which or "best"
    if args.n > MAX_EVAL_SAMPLES:  # more would run for hours and then fail for memory
        raise ConfigError(f"--n {args.n}: sample-quality metrics take at most {MAX_EVAL_SAMPLES:,} samples per seed "
                          "(papers use 10,000-50,000); ask for fewer")
    if not args.run:
        raise ConfigError("give a run folder (genzoo eval RUN_DIR), or --real DATASET|DIR and --fake DIR")
    from genzoo.metrics import EvalOptions, parse_metrics
    from genzoo.runs import RunDir, load_model, load_split

    metrics = parse_metrics(args.metrics)
    run = RunDir(args.run)
    device = _resolve_device(args.device)
    model = load_model(run.path, which=args.which, device=device)
    saved = run.read_config()
    run.read_metrics()  # a damaged metrics.json fails now, not after the evaluation
    split = args.split or "test"
    data = load_split(saved["data"], split, args.data_dir)
    kwargs = {}
    if args.k is not None:
        import inspect

        if "k" not in inspect.signature(model.evaluate).parameters:
            raise ConfigError(f"--k is for likelihood models (vae, iwae, cvae); {saved['model']} takes no k")
        kwargs["k"] = args.k
    # sample metrics the user asked for must be computed; by default a dataset without a feature network (Frey
    # faces) still gets the model's own figures (an RBM's or VAE's log-likelihood), with a note
    explicit = args.metrics is not None or args.features != "auto"
    if model.evaluates_outputs:  # a translator: its outputs scored as samples are
        model.eval_options = EvalOptions(n=args.n, metrics=metrics, seeds=args.seeds, seed=args.seed,
                                         features=args.features, batch_size=args.batch_size, strict=explicit)
    if not model.can_sample():
        res = model.evaluate(data, batch_size=args.batch_size, **kwargs)
        if not res:
            raise ConfigError(f"{saved['model']} has no evaluation of its own yet")
        figures = {f"{split}_{k}": v for k, v in res.items()}
        figures[f"{split}_checkpoint_step"] = getattr(model, "checkpoint_step", None)
        run.update_metrics(figures)
        _print_figures(res, split, data)
        print(f"wrote {run.path / 'metrics.json'}")
        return 0
    # a generative model: its own figures (e.g. a VAE's ELBO) and sample quality against the real split
    # (keys fid, kid, ...)
    train = None
    if metrics is None or "nn" in metrics:
        train = _train_split_for_nn(saved["data"], split, args.data_dir, required=metrics is not None)
    model.eval_options = EvalOptions(n=args.n, metrics=metrics, seeds=args.seeds, seed=args.seed,
                                     features=args.features, batch_size=args.batch_size, strict=explicit, train=train)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = model.evaluate(data, batch_size=args.batch_size, **kwargs)
    for w in caught:
        if not str(w.message).startswith("sample-quality metrics skipped"):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        elif not res:  # nothing else to show: the missing network is the answer
            raise ConfigError(str(w.message).removeprefix("sample-quality metrics skipped: "))
        else:
            print(f"note: {w.message}", file=sys.stderr)
    figures = {**res, "eval_split": split, "eval_checkpoint": args.which,
               "eval_checkpoint_step": getattr(model, "checkpoint_step", None)}
    run.update_metrics(figures)
    _print_table(res, f"{model.name} ({args.which} checkpoint) vs {data.name} {split} ({len(data)} images)")
    print(f"wrote {run.path / 'metrics.json'}")
    return 0


def _train_split_for_nn(data_args: dict[str, Any], split: str, data_dir: str | None, required: bool):
    """The training images for the memorization check (None, with a note, when they cannot be loaded)."""
    from genzoo.runs import load_split

    if split == "train":
        if required:
            raise ConfigError("metric nn compares samples with the training images; evaluate against another "
                              "--split (e.g. test)")
        return None
    try:
        return load_split(data_args, "train", data_dir)
    except GenzooError as e:
        if required:
            raise
        print(f"note: memorization check (nn) skipped, training images unavailable: {e}", file=sys.stderr)
        return None


def _eval_folder(args) -> int:
    """genzoo eval --real DATASET|DIR --fake DIR: score any folder of generated images."""
    import json

    from genzoo.data import load
    from genzoo.data.folder import load_folder
    from genzoo.metrics import evaluate_images, parse_metrics

    if not (args.real and args.fake):
        raise ConfigError("--real and --fake go together: genzoo eval --real DATASET|DIR --fake DIR")
    if args.run:
        raise ConfigError("give either a run folder or --real/--fake, not both")
    if args.out:
        _check_folder(Path(args.out).parent, "--out", args.out)
    name = args.real
    if Path(name).expanduser().is_dir():
        name = "folder:" + str(Path(name).expanduser())
    split = args.split or ("all" if name.startswith("folder:") else "test")
    real = load(name, split=split, data_dir=args.data_dir)
    channels, h, w = real.shape
    x, y, class_names = load_folder(Path(args.fake).expanduser(), channels=channels)
    if len(x) < 2:  # before the size note below, which would otherwise come first
        raise ConfigError(f"--fake {args.fake} holds 1 image; the metrics compare two sets of images: give at least 2 "
                          "(FID is usually taken on 10000)")
    if tuple(x.shape[2:]) != (h, w):
        print(f"note: generated images are {x.shape[2]}x{x.shape[3]}, real ones {h}x{w}; the feature network "
              "resizes both to its input size", file=sys.stderr)
    metrics = parse_metrics(args.metrics)
    labels = _fake_labels(y, class_names, real, required=metrics is not None and "cacc" in metrics)
    res = evaluate_images(x, real, metrics=metrics, features=args.features, fake_labels=labels,
                          seed=args.seed, batch_size=args.batch_size, device=_resolve_device(args.device))
    out = Path(args.out) if args.out else Path(args.fake) / "metrics.json"
    out.write_text(json.dumps({**res, "real": args.real, "real_split": split, "fake": str(args.fake)}, indent=2) + "\n")
    _print_table(res, f"{args.fake} ({len(x)} images) vs {real.name} {split} ({len(real)} images)")
    print(f"wrote {out}")
    return 0


def _fake_labels(y, class_names: tuple[str, ...], real, required: bool):
    """Class subfolders of the fake folder as requested labels, matched to the real class names."""
    if y is None:
        if required:
            raise ConfigError("metric cacc needs the fake images in one subfolder per class (named like the "
                              "real classes)")
        return None
    names = list(real.class_names) or [str(i) for i in range(real.num_classes)]
    missing = [c for c in class_names if c not in names]
    if missing:
        if required:
            raise ConfigError(f"fake class folders {missing[:5]} are not classes of {real.name} "
                              f"({', '.join(names[:12])}...)")
        return None
    import torch

    return torch.tensor([names.index(c) for c in class_names])[y]


def _print_table(res: dict[str, Any], title: str) -> None:
    """metric  value [+/- std over seeds]; also the run-size figures."""
    print(title)
    for k, v in res.items():
        if k.endswith("_std") and k[:-4] in res or not isinstance(v, (int, float)):
            continue
        std = res.get(f"{k}_std")
        text = f"{v:.4f}" if isinstance(v, float) else str(v)
        if isinstance(std, float):
            text += f" +/- {std:.4f}"
        print(f"  {k:<18} {text}")
    if "features" in res:
        print(f"  features: {res['features']}")


def _print_figures(res: dict[str, Any], prefix: str, data) -> None:
    for k, v in res.items():
        if isinstance(v, float):
            print(f"{prefix}_{k:<24} {v:.4f}")
        elif isinstance(v, int):
            print(f"{prefix}_{k:<24} {v}")
    if "per_class_accuracy" in res:
        names = data.class_names or [str(i) for i in range(len(res["per_class_accuracy"]))]
        print("\nper-class accuracy:")
        for name, acc in zip(names, res["per_class_accuracy"]):
            print(f"  {name:<14} {acc:.4f}")
    if "confusion_matrix" in res:
        cm = res["confusion_matrix"]
        w = max(len(str(v)) for row in cm for v in row) + 1
        print("\nconfusion matrix (rows: true class, columns: predicted):")
        for row in cm:
            print("  " + "".join(f"{v:>{w}}" for v in row))


def _check_grid_path(out: str | None) -> None:
    """Refuse, before any work, an --out grid file type that no image writer takes (it would fail at the end)."""
    if out:
        from PIL import Image

        ext = Path(out).suffix.lower()
        if Image.registered_extensions().get(ext) not in Image.SAVE:
            raise ConfigError(f"--out {out}: {repr(ext) if ext else 'a name without an extension'} is not an "
                              "image file type; name the grid .png (or .jpg, .webp)")
        _check_folder(Path(out).parent, "--out", out)


def _check_sample_outputs(args) -> None:
    """Refuse, before any sampling, what would fail after it: a grid file type no image writer takes, and a grid
    too large to be one picture."""
    _check_grid_path(args.out)
    if args.out_dir:
        _check_folder(args.out_dir, "--out-dir", args.out_dir)
        if args.scale is not None and not args.out:  # was silently ignored: the PNGs keep the model's size
            raise ConfigError("--scale upscales the grid, and --out-dir alone writes no grid (its PNGs keep the "
                              "model's image size); add --out GRID.png or drop --scale")
    from genzoo.data.grid import MAX_GRID_IMAGES

    if (args.out or not args.out_dir) and (args.n or 0) > MAX_GRID_IMAGES:
        raise ConfigError(f"--n {args.n}: a grid picture holds at most {MAX_GRID_IMAGES} images; write one PNG per "
                          "sample with --out-dir DIR (and no --out), or ask for fewer")


# the sample options that shape one view only, and the views they shape (elsewhere they were silently ignored)
VIEW_OPTIONS = {"steps": ("interpolate", "codes", "manifold"), "slerp": ("interpolate",), "top": ("query",),
                "reverse": ("input",), "classifier": ("arithmetic",)}
# the views whose grids other things size (they ignored --n silently)
SIZED_WITHOUT_N = {"codes": "the model's codes and --steps", "manifold": "--steps (a steps x steps grid)",
                   "scatter": "the test set (up to 10000 codes)", "query": "the --query images and --top"}


def _check_view_options(args, view: str | None) -> None:
    for key, views in VIEW_OPTIONS.items():
        shaped = view in views or (key == "steps" and view == "text" and args.interpolate)
        if getattr(args, key) not in (None, False) and not shaped:
            flags = " or ".join(f"--{v}" for v in views)
            raise ConfigError(f"--{key} is for {flags}, and {f'--{view}' if view else 'plain samples'} would ignore "
                              "it" + (" (--text interpolates by lerp)" if key == "slerp" and view == "text" else "")
                              + f": drop --{key}, or ask for {flags}")
    sized_by = "the --input images" if view == "input" and args.input else SIZED_WITHOUT_N.get(view)
    if args.n is not None and sized_by:
        raise ConfigError(f"--n {args.n}: --{view} draws as many images as {sized_by} call for, and would ignore "
                          "--n: drop it")


def cmd_sample(args) -> int:
    import torch

    from genzoo import sampling
    from genzoo.data.grid import save_grid
    from genzoo.runs import RunDir, load_model

    _check_sample_outputs(args)
    run = RunDir(args.run)
    model = load_model(run.path, which=args.which, device=_resolve_device(args.device))
    g = torch.Generator().manual_seed(args.seed)
    view = next((v for v in sampling.VIEWS if getattr(args, v) not in (None, False)), None)
    if getattr(args, "text", None):  # captions for a text-to-image model (with --interpolate: between two)
        view = "text"
    if view is None and hasattr(model, "predict_frames"):
        view = "frames"  # a frame predictor's samples are continuations of test sequences
    if view is None and hasattr(model, "translate_uint8"):
        view = "input"  # a translator's samples are translations of test images
    _check_view_options(args, view)
    args.steps, args.top = args.steps or 10, args.top or 8  # the defaults of the views that use them
    args.n = 64 if args.n is None else args.n
    if not model.can_sample() and view not in sampling.ENCODER_VIEWS:
        offers = ("retrieval models offer --query IMAGE" if hasattr(model, "rank")
                  else "captioners describe images: genzoo caption RUN IMAGE..." if hasattr(model, "caption")
                  else "autoencoders offer --reconstruct and --scatter")
        raise ConfigError(f"{model.name} is not a generative model: it cannot sample ({offers})")
    x, nrow, *captions = (sampling.VIEWS[view] if view else sampling.plain)(model, args, g)
    if args.out_dir:
        from genzoo.data.images import write_png
        from genzoo.data.imageset import to_uint8

        out = Path(args.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        imgs = to_uint8(x, model.input_range)
        for i, img in enumerate(imgs):
            write_png(out / f"{i:06d}.png", img)
        print(f"wrote {len(imgs)} images to {out}")
    if args.out or not args.out_dir:
        default = run.samples / f"{view or 'sample'}.png"
        rows, cols = sampling.grid_labels(view, model, args)
        path = save_grid(x, args.out or default, nrow=nrow, value_range=model.input_range, scale=args.scale or "auto",
                         row_labels=rows, col_labels=cols, captions=captions[0] if captions else None)
        print(f"wrote {path}")
    return 0


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port: {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a number in 1..65535, got {value}")
    return value


def cmd_serve(args) -> int:
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise ConfigError(f"genzoo serve needs FastAPI and uvicorn ({e.name} is missing): "
                          "pip install -e '.[serve]'") from None
    from genzoo.serve.server import serve

    serve(args.runs, host=args.host, port=args.port, device=_resolve_device(args.device))
    return 0


def cmd_attack(args) -> int:
    from genzoo.probe.attack import AttackOptions, attack_run

    opts = AttackOptions(method=args.method, eps=args.eps, norm=args.norm, targeted=args.targeted, steps=args.steps,
                         restarts=args.restarts, alpha=args.alpha, n=args.n, batch_size=args.batch_size,
                         seed=args.seed)
    attack_run(args.run, opts, split=args.split, which=args.which, device=_resolve_device(args.device),
               data_dir=args.data_dir)
    return 0


def cmd_viz(args) -> int:
    from genzoo.probe.viz import VizOptions, print_layers, viz_run

    if args.layers:
        print_layers(args.run, which=args.which, net=args.net)
        return 0
    _check_grid_path(args.out)
    image_options = {k: getattr(args, k) for k in ("steps", "lr", "param", "tv", "l2", "blur_every", "jitter")
                     if getattr(args, k) is not None}
    if args.ablate and (image_options or args.net not in ("auto", "generator")):  # they were silently ignored
        flags = [f"--{k.replace('_', '-')}" for k in image_options] or ["--net " + args.net]
        raise ConfigError(f"{', '.join(flags)}: --ablate zeroes channels of the generator and optimises no image; "
                          "drop " + ("them" if len(flags) > 1 else "it"))
    opts = VizOptions(targets=args.target, layer=args.layer, channels=args.channels, net=args.net,
                      ablate=args.ablate, n=args.n, seed=args.seed, out=args.out, data_dir=args.data_dir,
                      **image_options)
    viz_run(args.run, opts, which=args.which, device=_resolve_device(args.device))
    return 0


def cmd_list_layers(args) -> int:
    from genzoo.probe.viz import print_layers

    print_layers(args.run, which=args.which)
    return 0


def cmd_project(args) -> int:
    from genzoo.probe.project import ProjectOptions, project_run

    if args.out:
        _check_folder(args.out, "--out", args.out)
    if not args.morph and (args.slerp or args.steps is not None):  # they were silently ignored
        raise ConfigError(f"{'--slerp' if args.slerp else '--steps'} shapes the walk of --morph A B; give --morph")
    edit_options = {k: getattr(args, k) for k in ("edit_weight", "edit_steps") if getattr(args, k) is not None}
    if edit_options and args.stroke is None and args.target_class is None:
        raise ConfigError(f"{', '.join('--' + k.replace('_', '-') for k in edit_options)}: for an edit; give "
                          "--stroke MASK --color C or --target-class K")
    against = []
    for split, n in args.against:
        try:
            against.append((split, _count(n)))
        except argparse.ArgumentTypeError:
            raise ConfigError(f"--against {split} {n}: N must be a whole number of at least 1") from None
    opts = ProjectOptions(starts=args.starts, iters=args.iters, lr=args.lr, pixel_loss=args.pixel_loss,
                          feature_weight=args.feature_weight, norm_penalty=args.norm_penalty, encoder=args.encoder,
                          label=args.label, resize=args.resize, against=against, stroke=args.stroke,
                          color=args.color, target_class=args.target_class, **edit_options,
                          morph=tuple(args.morph) if args.morph else None, frames=args.steps or 8, slerp=args.slerp,
                          seed=args.seed, out=args.out, data_dir=args.data_dir)
    project_run(args.run, args.images, opts, which=args.which, device=_resolve_device(args.device))
    return 0


def cmd_caption(args) -> int:
    from genzoo.probe.caption import caption_run

    for path, text in caption_run(args.run, args.images, beam=args.beam, which=args.which,
                                  device=_resolve_device(args.device)):
        print(f"{path}\t{text}")
    return 0


def cmd_data_list(args) -> int:
    from genzoo.data.catalog import DATASETS, FAMILIES, is_embedded, locate

    families = [fam.usage.partition(" for ")[::2] for fam in FAMILIES.values()]  # ("folder:PATH", "an image folder")
    width = max(len(n) for n in [*DATASETS, *(what for what, _ in families)]) + 1
    for name, ds in DATASETS.items():
        if is_embedded(name):
            where = "embedded"
        else:
            try:
                where = str(locate(name, args.data_dir))
            except GenzooError:
                where = "not present (genzoo data fetch " + name + ")"
        print(f"{name:<{width}} {ds.description}\n{'':<{width}} files: {where}")
    for what, words in families:
        print(f"{what:<{width}} {words}")
    return 0


def cmd_data_info(args) -> int:
    from genzoo.data import info, load
    from genzoo.data.moving_mnist import describe_sequences, is_sequence_set

    ds = info(args.name)
    print(f"{ds.name}: {ds.description}")
    if ds.license:
        print(f"license: {ds.license}")
    for split in ds.splits:
        try:
            d = load(args.name, split=split, data_dir=args.data_dir)
        except SplitUnavailable as e:  # absent from this copy (damaged files are an error)
            print(f"  {split}: unavailable ({e})")
            continue
        x = d.images.float()
        b = " (domain B)" if d.sources is not None else ""  # a translation set: the images are its output domain
        line = (f"  {split}: {len(d)} images{b} {'x'.join(map(str, d.shape))}, pixel mean {x.mean():.1f} "
                f"std {x.std():.1f}")
        if d.labels is not None:
            counts = d.labels.bincount(minlength=d.num_classes).tolist()
            line += f", {d.num_classes} classes, per class {counts}"
        if d.attrs is not None:
            line += f", {len(d.attr_names)} attributes"
        print(line)
        if d.sources is not None:  # a translation set: domain A, the input
            s = d.sources.float()
            how = "paired (sources[i] is the input of images[i])" if d.paired else "unpaired (independent collections)"
            line = (f"    domain A (sources): {len(d.sources)} images {'x'.join(map(str, d.sources.shape[1:]))}, pixel "
                    f"mean {s.mean():.1f} std {s.std():.1f}")
            if d.source_labels is not None:
                k = int(d.source_labels.max()) + 1 if len(d.source_labels) else 0
                line += f", {k} source classes, per class {d.source_labels.bincount(minlength=k).tolist()}"
            print(f"{line}; {how}")
        if is_sequence_set(d.name) and split == "test":  # a sequence set: the fixed evaluation videos of these digits
            for text in describe_sequences(d):
                print(f"    {text}")
        if d.attrs is not None and split == ds.splits[0]:  # names with their frequency in this split
            freq = d.attrs.float().mean(0).tolist()
            print("    attributes (fraction set): " + ", ".join(f"{a} {p:.2f}" for a, p in zip(d.attr_names, freq)))
        if d.captions is not None and split == ds.splits[0]:  # a captioned set: examples and the vocabulary
            _print_captions(d)
    return 0


def _print_captions(d) -> None:
    from genzoo.data.text import SPECIALS, decode

    words = [w for w in d.vocab if w not in SPECIALS]
    print(f"    captions: {d.captions.shape[1]} per image, at most {d.captions.shape[2] - 1} words; vocabulary of "
          f"{len(words)} words: {' '.join(words)}")
    for i in range(min(3, len(d))):
        label = f" ({d.class_names[int(d.labels[i])]})" if d.labels is not None and d.class_names else ""
        texts = " | ".join(decode(c, d.vocab) for c in d.captions[i])
        print(f"    image {i}{label}: {texts}")


def cmd_data_fetch(args) -> int:
    from genzoo.data import fetch

    fetch(args.name, args.data_dir, timeout=args.timeout)
    return 0


def _one_line(e: GenzooError) -> str:
    """The message on one line (a message quoting a multi-line library error is joined with '; ')."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return "; ".join(lines) or type(e).__name__


OUT_OF_MEMORY_FIX = {
    "train": "make the model smaller (its width keys: `genzoo list MODEL`), or lower --batch-size or "
             "data.image_size, or use a machine with more memory (a run under way keeps its last checkpoint: "
             "`genzoo train --resume RUN_DIR`)",
    "sample": "ask for fewer samples (--n), or use a machine with more memory",
    "eval": "evaluate fewer samples (--n), or use a machine with more memory",
    "attack": "lower --batch-size (default 500), or use a machine with more memory",
    "viz": "ask for fewer images (-n, --target, --channels), or use a machine with more memory",
    "project": "project fewer images at once, or with fewer --starts, or use a machine with more memory",
    "caption": "caption fewer images at once, or with a smaller --beam, or use a machine with more memory",
}
OUT_OF_MEMORY_ANY = "use a machine with more memory"  # commands with no size knob of their own (data info, serve)


def _out_of_memory(e: BaseException) -> str | None:
    """What could not be allocated, when `e` is running out of memory, else None. torch's CPU allocator raises a
    plain RuntimeError ("DefaultCPUAllocator: can't allocate memory: you tried to allocate N bytes"), CUDA's
    torch.OutOfMemoryError ("Tried to allocate 20.00 GiB"), and Python and NumPy a MemoryError."""
    text = str(e)
    if not (isinstance(e, MemoryError) or type(e).__name__ == "OutOfMemoryError" or "can't allocate memory" in text
            or "out of memory" in text.lower()):
        return None
    size = re.search(r"allocate (\d+) bytes", text)
    if size:
        return f"could not allocate {_bytes(int(size.group(1)))}"
    size = re.search(r"allocate ([\d.]+ ?[KMGTP]i?B)", text, re.IGNORECASE)
    return f"could not allocate {size.group(1)}" if size else "an allocation failed"


def _machine_error(e: OSError) -> str | None:
    """One line for an OSError that the machine caused (a full disk, no permission, a read-only or failing disk),
    naming the file; None for any other OSError, which is a bug and keeps its traceback. Checkpoints, configs and
    metrics are written atomically (a failed write leaves the old file), so this is what reaches the user from
    the other writes: sample grids and folders, pages, plots, decoded-data caches."""
    import errno

    from genzoo.checkpoint import write_failure

    where = f"{e.filename}: " if e.filename else ""
    if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        what, todo = write_failure(Path(e.filename).expanduser().absolute() if e.filename else None, e)
    elif e.errno in (errno.EACCES, errno.EPERM):
        what, todo = "permission denied", "check its permissions, or choose another place (--out, --data-dir)"
    elif e.errno == errno.EROFS:
        what, todo = "the filesystem is read-only", "choose a writable place (--out)"
    elif e.errno == errno.EIO:
        what, todo = "input/output error (a failing disk or network filesystem)", "check the disk, then retry"
    else:
        return None
    return f"{where}{what}; {todo}"


def _bytes(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n} bytes" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def run() -> int:
    """The `genzoo` command (console script and `python -m genzoo`): `main` in a process whose float32 denormals
    are flushed to zero.

    x86 computes on denormals (magnitudes below 1.2e-38) many times slower, and training produces them: the VAE's
    always-black border pixels drive logits and Adam statistics there. Flushing them ran the MNIST VAE at 3,334
    images/s against 1,900 (README "Denormal floats"). Set before torch starts its thread pool, because only then do
    the pool's threads inherit it (set later, inside training, the same run gave 1,900-2,200). Python users who
    want it call `torch.set_flush_denormal(True)` first thing: a library does not change a process's float mode on
    import. `main` itself leaves it alone (tests call it in-process).
    """
    import torch

    torch.set_flush_denormal(True)
    return main()


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = None
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 0
        return int(args.func(args) or 0)
    except GenzooError as e:
        print(f"genzoo: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as e:
        failed = _out_of_memory(e)
        if failed is None:
            raise
        print(f"genzoo: error: out of memory: {failed}; "
              f"{OUT_OF_MEMORY_FIX.get(getattr(args, 'command', None), OUT_OF_MEMORY_ANY)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("genzoo: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os._exit(0)
    except OSError as e:
        said = _machine_error(e)
        if said is None:
            raise
        print(f"genzoo: error: {said}", file=sys.stderr)
        return 2
    finally:
        from genzoo.training.distributed import shutdown

        shutdown()
