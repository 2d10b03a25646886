"""What to maximise: targets, layer lookup, forward hooks and the activation of a target.

A target is an output unit (a class logit, Simonyan et al. 2014; a discriminator's realness score), the
mean of one channel of a layer's feature map (Erhan et al. 2009; Olah et al. 2017, "Feature
Visualization", Distill) or one spatial position of one channel (a "neuron" in Olah et al.'s terms).
Layers are named as `net.named_modules()` names them.

Everything here leaves the net as it found it: hooks are removed in `finally` blocks, each module's
train/eval flag is restored, and nothing is written to the parameters' `.grad`.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.errors import ConfigError

KINDS = ("class", "logit", "channel", "neuron")
FORMS = "class:K, logit, logit:K, channel:LAYER:C or neuron:LAYER:C:Y:X"

# modules whose output has the same channels as their input: a ReLU after a conv has the conv's channels
_KEEPS_CHANNELS = (
    nn.ReLU, nn.LeakyReLU, nn.PReLU, nn.ReLU6, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Sigmoid, nn.Tanh, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus, nn.Identity,
    nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
    nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
    nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d,
    nn.Upsample, nn.UpsamplingNearest2d, nn.UpsamplingBilinear2d,
    nn.ZeroPad2d, nn.ReflectionPad2d, nn.ReplicationPad2d, nn.ConstantPad2d,
)


@dataclass(frozen=True)
class Target:
    """kind: class | logit | channel | neuron. `channel` is the unit for class/logit targets."""

    kind: str
    layer: str | None = None
    channel: int = 0
    y: int | None = None
    x: int | None = None

    def __str__(self) -> str:
        if self.kind in ("class", "logit"):
            return f"{self.kind}:{self.channel}"
        if self.kind == "channel":
            return f"channel:{self.layer}:{self.channel}"
        return f"neuron:{self.layer}:{self.channel}:{self.y}:{self.x}"

    @property
    def on_output(self) -> bool:
        return self.kind in ("class", "logit")


def parse_target(text: str | Target) -> Target:
    """"class:K" | "logit" | "logit:K" | "channel:LAYER:C" | "neuron:LAYER:C:Y:X" -> Target."""
    if isinstance(text, Target):
        return text
    if not isinstance(text, str):
        raise ConfigError(f"a target is text of the form {FORMS}; got {text!r}")
    parts = [p.strip() for p in text.strip().split(":")]
    kind = parts[0].lower()

    def bad(why: str) -> ConfigError:
        return ConfigError(f"bad target {text!r}: {why} (targets: {FORMS}; layer names as "
                           "`genzoo list-layers RUN` prints them)")

    def number(s: str, what: str) -> int:
        if not s.isdigit():  # digits only: no sign, no spaces, no "c" for centre
            raise bad(f"{what} must be a whole number >= 0, got {s!r}")
        return int(s)

    if kind not in KINDS:
        raise bad(f"unknown kind {parts[0]!r}")
    if kind == "logit" and len(parts) == 1:
        return Target("logit", channel=0)
    if kind in ("class", "logit"):
        if len(parts) != 2:
            raise bad(f"{kind} takes one unit number")
        return Target(kind, channel=number(parts[1], "the unit"))
    want = 3 if kind == "channel" else 5
    if len(parts) != want:
        raise bad(f"{kind} takes {'LAYER:C' if kind == 'channel' else 'LAYER:C:Y:X'}")
    if not parts[1]:
        raise bad("the layer name is empty")
    if kind == "channel":
        return Target("channel", parts[1], number(parts[2], "the channel"))
    return Target("neuron", parts[1], number(parts[2], "the channel"), number(parts[3], "y"), number(parts[4], "x"))


def _targetable(module: nn.Module) -> bool:
    # leaves and Sequential blocks: containers without a forward of their own (ModuleList/Dict) never fire hooks
    return isinstance(module, nn.Sequential) or not any(True for _ in module.children())


def _own_channels(module: nn.Module) -> int | None:
    for attr in ("out_channels", "out_features", "num_features", "num_channels", "embedding_dim"):
        value = getattr(module, attr, None)
        if isinstance(value, int):
            return value
    if isinstance(module, nn.Sequential):
        for child in reversed(module):  # the last block that fixes the channel count, past activations/pools
            c = _own_channels(child)
            if c is not None:
                return c
            if not isinstance(child, _KEEPS_CHANNELS):
                return None
    return None


def layer_names(net: nn.Module) -> list[tuple[str, str, int | None]]:
    """(name, module type, output channels or None) of every leaf module and Sequential block of `net`."""
    children: dict[str, list[tuple[str, nn.Module]]] = {}
    for name, module in net.named_modules():
        children[name] = [(f"{name}.{c}" if name else c, m) for c, m in module.named_children()]
    inferred: dict[str, int | None] = {}
    for name, module in net.named_modules():
        if not name:
            continue
        c = _own_channels(module)
        if c is None and isinstance(module, _KEEPS_CHANNELS):
            # a shape-keeping module inherits from its previous sibling in a Sequential parent
            parent_name = name.rsplit(".", 1)[0] if "." in name else ""
            parent = net.get_submodule(parent_name) if parent_name else net
            if isinstance(parent, nn.Sequential):
                siblings = [n for n, _ in children[parent_name]]
                i = siblings.index(name)
                c = inferred.get(siblings[i - 1]) if i > 0 else None
        inferred[name] = c
    return [(name, type(m).__name__, inferred[name]) for name, m in net.named_modules()
            if name and _targetable(m)]


def find_layer(net: nn.Module, name: str) -> nn.Module:
    """The submodule called `name`, or a ConfigError naming close matches."""
    modules = dict(net.named_modules())
    modules.pop("", None)
    if name in modules:
        return modules[name]
    close = difflib.get_close_matches(name, list(modules), n=5, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ConfigError(f"no layer named {name!r} in this {type(net).__name__}{hint} "
                      "(`genzoo list-layers RUN` lists the layers)")


@contextlib.contextmanager
def eval_mode(net: nn.Module) -> Iterator[nn.Module]:
    """Run `net` in eval mode (batchnorm uses its running statistics, dropout is off), then restore each
    module's own flag (a net may mix modes, e.g. a frozen batchnorm inside a training net)."""
    flags = [(m, m.training) for m in net.modules()]
    net.eval()
    try:
        yield net
    finally:
        for m, flag in flags:
            m.training = flag


@contextlib.contextmanager
def forward_hook(module: nn.Module, hook: Callable) -> Iterator[None]:
    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


class _Stop(Exception):
    """Raised from a hook once every wanted layer has run: no need to compute the rest of the net."""


def net_device(net: nn.Module) -> tuple[torch.device, torch.dtype]:
    for t in net.parameters():
        return t.device, (t.dtype if t.is_floating_point() else torch.float32)
    for t in net.buffers():
        return t.device, (t.dtype if t.is_floating_point() else torch.float32)
    return torch.device("cpu"), torch.float32


def _units(out) -> torch.Tensor:
    """A model output as N x K units: (N,) -> N x 1; N x K x ... -> spatial mean (a patch discriminator's
    score is the mean over its patches)."""
    if not isinstance(out, torch.Tensor):
        raise ConfigError(f"class/logit targets need a forward that returns a tensor, got {type(out).__name__}; "
                          "wrap the model so that it returns its logits")
    if out.dim() == 1:
        return out[:, None]
    return out.flatten(2).mean(2) if out.dim() > 2 else out


def final_relu(module: nn.Module) -> nn.Module | None:
    """The ReLU that produces `module`'s output (the module itself, or the last block of a Sequential)."""
    if isinstance(module, (nn.ReLU, nn.ReLU6)):
        return module
    if isinstance(module, nn.Sequential) and len(module):
        return final_relu(module[-1])
    return None


@contextlib.contextmanager
def objective(net: nn.Module, forward: Callable | None, targets: Target | str | Sequence[Target | str], *,
              relu_rescue: bool = False) -> Iterator[Callable[[torch.Tensor], torch.Tensor]]:
    """Within the block, a function images -> the target's activation per image (N,), differentiable.

    `targets` is one target for every image or one per image (a list as long as the batch). Hooks on the
    target layers live exactly as long as the block; the net runs in eval mode inside it. When no target
    needs the net's output the forward pass stops right after the last target layer (cheaper, and an
    in-place ReLU further on cannot alter the captured feature map).

    The function takes an optional `warp=(dy, dx, factor)`: the images were rolled by (dy, dx) pixels and
    zoomed by `factor`; neuron targets then follow their content (see `_follow`).

    `relu_rescue`: a channel or neuron after a ReLU that is off everywhere (activation exactly 0, as often
    on the grey start image) has zero gradient and would never switch on. For such images the value is
    kept but the gradient is that of the same target before the ReLU, which pushes the unit towards
    firing; once it fires, the true objective takes over.
    """
    forward = forward if forward is not None else net
    single = isinstance(targets, (str, Target))
    tlist = [parse_target(targets)] if single else [parse_target(t) for t in targets]
    if not tlist:
        raise ConfigError("no targets given")
    layers = sorted({t.layer for t in tlist if not t.on_output})
    modules = {name: find_layer(net, name) for name in layers}
    stop_early = not any(t.on_output for t in tlist)
    captured: dict[str, torch.Tensor] = {}
    relus = {name: final_relu(m) for name, m in modules.items()} if relu_rescue else {}
    relus = {name: r for name, r in relus.items() if r is not None}
    latest_pre: dict[str, torch.Tensor] = {}  # the input of each ReLU's latest call
    pre: dict[str, torch.Tensor] = {}  # ... as it was when the target layer produced its output

    def make_pre_hook(name: str):
        def pre_hook(_module, inputs):
            if isinstance(inputs[0], torch.Tensor):
                latest_pre[name] = inputs[0].clone()  # before an in-place ReLU overwrites it

        return pre_hook

    def make_hook(name: str):
        def hook(_module, _inputs, out):
            if name in captured:  # a module run twice in one forward: the first call counts
                return
            if not isinstance(out, torch.Tensor):
                raise ConfigError(f"layer {name!r} returns {type(out).__name__}, not a tensor; target a layer "
                                  "that outputs a feature map")
            captured[name] = out.clone()  # a later in-place op (ReLU(inplace=True)) must not change it
            if name in latest_pre and latest_pre[name].shape == out.shape:
                pre[name] = latest_pre[name]
            if stop_early and len(captured) == len(modules):
                raise _Stop

        return hook

    def check(t: Target, shape: torch.Size, what: str) -> None:
        if t.kind == "neuron" and len(shape) != 4:
            raise ConfigError(f"neuron targets need a spatial (N x C x H x W) feature map; {what} outputs "
                              f"{tuple(shape)}; use channel:{t.layer}:{t.channel}")
        count = shape[1] if len(shape) > 1 else 1
        if t.channel >= count:
            unit = "classes/units" if t.on_output else "channels"
            raise ConfigError(f"{t}: {what} has {count} {unit} (0..{count - 1})")
        if t.kind == "neuron" and (t.y >= shape[2] or t.x >= shape[3]):
            raise ConfigError(f"{t}: layer {t.layer!r} has a {shape[2]} x {shape[3]} feature map "
                              f"(y in 0..{shape[2] - 1}, x in 0..{shape[3] - 1}) for this image size")

    def evaluate(x: torch.Tensor, warp: tuple[int, int, float] | None = None) -> torch.Tensor:
        n = x.shape[0]
        per_image = tlist * n if single else tlist
        if len(per_image) != n:
            raise ConfigError(f"{len(tlist)} targets for a batch of {n} images")
        captured.clear()
        latest_pre.clear()
        pre.clear()
        out = None
        try:
            out = forward(x)
        except _Stop:
            pass
        stray = set(modules) - set(captured)
        if stray:
            raise ConfigError(f"layer(s) {', '.join(sorted(stray))} did not run in the forward pass; "
                              "pick a layer the model uses (`genzoo list-layers RUN`)")
        units = _units(out) if not stop_early else None
        result = x.new_zeros(n)
        # group images by (kind, layer): one gather per group rather than one op per image
        groups: dict[tuple[str, str | None], list[int]] = {}
        for i, t in enumerate(per_image):
            groups.setdefault((t.kind, t.layer), []).append(i)
        for (kind, layer), rows in groups.items():
            feats = units if layer is None else captured[layer]
            for t in {per_image[i] for i in rows}:
                check(t, feats.shape, "the model's output" if layer is None else f"layer {layer!r}")
            idx = torch.tensor(rows, device=x.device)
            chosen = [per_image[i] for i in rows]
            value = _select(feats, kind, idx, chosen, x.shape[-2:], warp)
            if layer in pre:
                before = _select(pre[layer], kind, idx, chosen, x.shape[-2:], warp)
                dead = (value <= 0).to(value.dtype)  # the ReLU is off at every position that counts
                value = value + dead * (before - before.detach())  # same value, the pre-ReLU gradient
            result = result.index_put((idx,), value.to(result.dtype))
        return result

    with contextlib.ExitStack() as stack:
        stack.enter_context(eval_mode(net))
        for name, module in modules.items():
            if name in relus:
                handle = relus[name].register_forward_pre_hook(make_pre_hook(name))
                stack.callback(handle.remove)
            stack.enter_context(forward_hook(module, make_hook(name)))
        try:
            yield evaluate
        finally:
            captured.clear()
            latest_pre.clear()
            pre.clear()


def _select(f: torch.Tensor, kind: str, idx: torch.Tensor, targets: list[Target], size,
            warp: tuple[int, int, float] | None) -> torch.Tensor:
    """The value of targets[j] (all of one kind) in row idx[j] of the output or feature map `f`."""
    ch = torch.tensor([t.channel for t in targets], device=f.device)
    idx = idx.to(f.device)
    if kind in ("class", "logit") or (kind == "channel" and f.dim() == 2):
        return f[idx, ch]
    if kind == "channel":
        return f[idx, ch].flatten(1).mean(1)
    ys = torch.tensor([t.y for t in targets], device=f.device)
    xs = torch.tensor([t.x for t in targets], device=f.device)
    if warp is None:
        return f[idx, ch, ys, xs]
    return _follow(f[idx, ch], ys, xs, size, warp)


def _follow(maps: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor, size, warp: tuple[int, int, float]
            ) -> torch.Tensor:
    """Neuron (ys, xs) of k feature maps (k x h x w) after the image was rolled by (dy, dx) px and zoomed by
    `factor` about its centre: the maps sampled bilinearly where the neuron's content has moved to.

    Without this a neuron target under jitter would ask for a pattern that fires the neuron wherever the
    image lands, and a small net's neuron (a 14 x 14 map, 2 px jitter = a whole cell) never gets its own
    preferred pattern. The cell's image position is taken as its share of the image (exact for strided
    convs and pools with 'same' padding).
    """
    dy, dx, factor = warp
    (h, w), (hh, ww) = maps.shape[-2:], size

    def moved(pos: torch.Tensor, cells: int, pixels: int, shift: int) -> torch.Tensor:
        t = ((pos.to(maps.dtype) + 0.5) * (pixels / cells) + shift) % pixels  # image coordinate, rolled
        t = pixels / 2 + factor * (t - pixels / 2)  # zoomed about the centre
        return t / pixels * 2 - 1  # grid_sample's coordinates (align_corners=False: cell centres exact)

    grid = torch.stack([moved(xs, w, ww, dx), moved(ys, h, hh, dy)], -1).view(-1, 1, 1, 2)
    out = F.grid_sample(maps[:, None], grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out.view(-1)


def activation(net: nn.Module, forward: Callable | None, target: Target | str | Sequence[Target | str],
               x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """The target's activation (N,) for images `x` in [0, 1] (one target, or one per image), in eval mode."""
    device, dtype = net_device(net)
    parts = []
    per_image = not isinstance(target, (str, Target))
    if per_image and len(target) != x.shape[0]:
        raise ConfigError(f"{len(target)} targets for {x.shape[0]} images: give one target, or one per image")
    with torch.no_grad():
        for i in range(0, x.shape[0], batch_size):
            t = list(target)[i:i + batch_size] if per_image else target
            with objective(net, forward, t) as f:
                parts.append(f(x[i:i + batch_size].to(device, dtype)).float().cpu())
    return torch.cat(parts) if parts else torch.zeros(0)
