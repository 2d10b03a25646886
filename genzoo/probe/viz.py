"""`genzoo viz RUN` and `genzoo list-layers RUN`: feature visualization of a run's networks.

- classifier (and GAN discriminators with class outputs): one image per class that the net scores highest;
- any network: the channels of a layer (`--layer`), single units (`--target neuron:...`);
- GAN discriminator: the images it finds most real (`logit`);
- GAN generator (`--ablate LAYER`): zero one channel of a layer at a time and show what disappears (Radford
  et al. 2016, section 6.3, removed the "window" filters this way; Bau et al. 2019, GAN Dissection).

Each grid goes into RUN/viz/ with a JSON file beside it: per target, the activation the optimised image
reaches against that of real test images (how far above the data the visualization drives the unit).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genzoo import visualize
from genzoo.data.grid import save_grid
from genzoo.errors import ConfigError, GenzooError
from genzoo.probe.attack import caption_scale
from genzoo.probe.views import NetView, net_views
from genzoo.runs import RunDir, load_model, load_split

DEFAULT_CHANNELS = 16
REAL_IMAGES = 500  # test images whose activations the visualizations are compared with


@dataclass
class VizOptions:
    targets: list[str] | None = None
    layer: str | None = None
    channels: list[int] | None = None
    net: str = "auto"
    ablate: str | None = None
    n: int = 1
    steps: int = 256
    lr: float = 0.05
    param: str = "auto"
    tv: float = 0.0
    l2: float = 0.0
    blur_every: int = 0
    jitter: int = 2
    seed: int = 0
    out: str | None = None
    data_dir: str | None = None  # where the run's data lives now (for the comparison with real images)


def pick_view(model, name: str, run_name: str) -> NetView:
    views = net_views(model)
    if name == "auto":
        name = "classifier" if "classifier" in views else "discriminator" if "discriminator" in views else "generator"
    if name not in views:
        raise ConfigError(f"{run_name} ({model.name}) has no {name}; it has: {', '.join(views)}")
    return views[name]


def print_layers(run_dir, which: str = "best", net: str = "auto", log=print) -> None:
    model = load_model(run_dir, which=which)
    views = net_views(model) if net == "auto" else {net: pick_view(model, net, str(run_dir))}
    for view in views.values():
        log(f"{view.name} ({type(view.net).__name__}):")
        for name, kind, channels in visualize.layer_names(view.net):
            log(f"  {name:<28} {kind:<20} {'' if channels is None else f'{channels} channels'}")


def default_targets(view: NetView, opts: VizOptions) -> list[str]:
    if opts.targets:
        return opts.targets
    if opts.layer:
        chans = opts.channels or list(range(DEFAULT_CHANNELS))
        known = dict((n, c) for n, _, c in visualize.layer_names(view.net))
        if opts.channels is None and known.get(opts.layer):
            chans = chans[:known[opts.layer]]
        return [f"channel:{opts.layer}:{c}" for c in chans]
    if view.classes:
        return [f"class:{k}" for k in range(len(view.classes))]
    return ["logit"]


def translate(view: NetView, spec: str) -> str:
    """A discriminator's class K is its output 1 + K (output 0 is the realness score)."""
    m = re.fullmatch(r"class:(\d+)", spec)
    if view.name == "discriminator" and m:
        return f"logit:{int(m.group(1)) + 1}"
    return spec


def label(view: NetView, spec: str) -> str:
    m = re.fullmatch(r"class:(\d+)", spec)
    if m and view.classes and int(m.group(1)) < len(view.classes):
        return view.classes[int(m.group(1))]
    return spec.split(":", 1)[1] if spec.startswith("channel:") else spec


def _real_images(run: RunDir, device, data_dir: str | None) -> torch.Tensor | None:
    try:
        data = load_split(run.read_config()["data"], "test", data_dir)
    except (GenzooError, OSError):  # comparison figures are a bonus: a run whose data moved still gets its grid
        return None
    images = next(iter(data.iter_ordered(REAL_IMAGES)))[0]
    return images.to(device).float() / 255


def maximize_targets(model, view: NetView, opts: VizOptions, run: RunDir, device) -> dict[str, Any]:
    specs = default_targets(view, opts)
    if view.forward is None:
        raise ConfigError(f"the {view.name} makes images instead of scoring them: use --ablate LAYER to see what "
                          "its channels do, or --net discriminator")
    targets = [visualize.parse_target(translate(view, s)) for s in specs]
    shape = (model.spec.channels, model.spec.height, model.spec.width)
    kw = dict(steps=opts.steps, lr=opts.lr, param=opts.param, jitter=opts.jitter, tv=opts.tv, l2=opts.l2,
              blur_every=opts.blur_every)
    g = torch.Generator(device=device).manual_seed(opts.seed)
    images = visualize.maximize_many(view.net, view.forward, [t for t in targets for _ in range(opts.n)], shape,
                                     generator=g, **kw)
    real = _real_images(run, device, opts.data_dir)
    figures = []
    for i, (spec, t) in enumerate(zip(specs, targets)):
        mine = visualize.activation(view.net, view.forward, t, images[i * opts.n:(i + 1) * opts.n])
        row = {"target": spec, "activation": float(mine.mean())}
        if real is not None:
            act = visualize.activation(view.net, view.forward, t, real)
            row.update(real_mean=float(act.mean()), real_max=float(act.max()))
        figures.append(row)
    return {"images": images, "labels": [label(view, s) for s in specs], "figures": figures}


def ablation(model, view: NetView, opts: VizOptions, device) -> dict[str, Any]:
    """Rows: the generator's samples, then the same samples with one channel of `opts.ablate` zeroed."""
    g = torch.Generator(device="cpu").manual_seed(opts.seed)
    n = opts.n if opts.n > 1 else 8
    z = model.sample_latent(n, generator=g).to(device)
    labels = torch.arange(n, device=device) % model.spec.num_classes if getattr(model, "conditional", False) else None
    g_in = model.g_input(z, labels)
    if opts.channels:
        ranked = [(c, None) for c in opts.channels]
    else:
        ranked = visualize.channel_effect(view.net, opts.ablate, g_in, top=8)
    rows, names = [], ["samples"]
    base = None
    for c, effect in ranked:
        images, ablated = visualize.ablate_channel(view.net, opts.ablate, [c], g_in)
        base = images if base is None else base
        rows.append(ablated)
        names.append(f"ch {c} off" + ("" if effect is None else f" ({effect:.3f})"))
    return {"images": torch.cat([base, *rows]), "labels": names, "nrow": n,
            "figures": [{"channel": c, "mean_abs_change": e} for c, e in ranked]}


def check_options(opts: VizOptions) -> None:
    """Refuse combinations where an option would be silently ignored."""
    given = [flag for flag, value in (("--ablate", opts.ablate), ("--target", opts.targets), ("--layer", opts.layer))
             if value]
    if len(given) > 1:
        raise ConfigError(f"{' and '.join(given)} each choose what to show; give one of them")
    if opts.channels and not (opts.layer or opts.ablate):
        raise ConfigError("--channels picks channels of --layer LAYER (or --ablate LAYER); give the layer "
                          "(`genzoo list-layers RUN`)")


def viz_run(run_dir, opts: VizOptions, which: str = "best", device="cpu", log=print) -> dict[str, Any]:
    check_options(opts)
    run = RunDir(run_dir)
    model = load_model(run.path, which=which, device=device)
    out_dir = run.path / "viz"
    if opts.ablate:
        view = pick_view(model, "generator", str(run.path))
        res = ablation(model, view, opts, device)
        name = f"ablate-{opts.ablate}"
        path = save_grid(res["images"].detach().cpu(), opts.out or out_dir / f"{name}.png", nrow=res["nrow"],
                         value_range=model.input_range, row_labels=res["labels"])
        for r in res["figures"]:
            change = "" if r["mean_abs_change"] is None else f": mean |change| {r['mean_abs_change']:.4f}"
            log(f"{opts.ablate} channel {r['channel']}{change}")
    else:
        view = pick_view(model, opts.net, str(run.path))
        res = maximize_targets(model, view, opts, run, device)
        what = opts.layer or ("classes" if not opts.targets and view.classes else "targets")
        name = f"{view.name}-{what}"
        images = res["images"].detach().cpu()
        if opts.n == 1:
            path = save_grid(images, opts.out or out_dir / f"{name}.png", nrow=min(len(images), 10),
                             value_range=(0.0, 1.0), captions=res["labels"], scale=caption_scale(images.shape[-1]))
        else:
            path = save_grid(images, opts.out or out_dir / f"{name}.png", nrow=opts.n, value_range=(0.0, 1.0),
                             row_labels=res["labels"])
        for r in res["figures"]:
            extra = "" if "real_mean" not in r else \
                f" (real test images: mean {r['real_mean']:.3g}, max {r['real_max']:.3g})"
            log(f"{r['target']}: activation {r['activation']:.3g}{extra}")
    meta = Path(path).with_suffix(".json")
    meta.write_text(json.dumps({"options": {k: v for k, v in vars(opts).items()}, "figures": res["figures"],
                                "checkpoint_step": getattr(model, "checkpoint_step", None)}, indent=2))
    log(f"wrote {path}")
    return res
