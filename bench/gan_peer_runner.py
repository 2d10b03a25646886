"""Run an unmodified reference GAN script and keep its generator at wall-clock marks (used by gan_peers.py and
translation_peers.py).

    PEER_PYTHON gan_peer_runner.py SCRIPT OUT_DIR --marks 60,120,300,600 [--n 10000] [-- SCRIPT ARGS...]
    PEER_PYTHON gan_peer_runner.py SCRIPT OUT_DIR --marks 300 --inputs TEST_A.npy --size 256 --generator G_AB
                                   --d-optimizer optimizer_D_B [-- SCRIPT ARGS...]      # a translation script

Runs in the reference's own environment (its torch and torchvision), imports nothing from genzoo. The
script's source is executed as `__main__` in a namespace this runner keeps, with its working directory
and arguments untouched; the only thing added is a global optimizer post-step hook
(torch.optim.optimizer.register_optimizer_step_post_hook) that counts the script's discriminator
updates and, when the training clock passes a mark, copies the script's `generator` (its weights and
batchnorm buffers). After the last mark the hook ends the script (SystemExit); the copies then draw
`--n` samples each with z ~ N(0, I) of the script's `opt.latent_dim`, in train mode (batch statistics,
batches of the script's batch size, as its own image grids are drawn) and in eval mode (running
statistics). With `--inputs` (uint8 N x C x h x w test inputs of a translation task) the copies translate those
instead: each input as the script's transforms feed it (grey repeated to RGB, bicubic to `--size`, [-1, 1]),
each output resized back to h x w (antialiased bilinear). `--generator` and `--d-optimizer` name the script's
generator to keep and the optimizer whose step ends a training iteration (CycleGAN: G_AB, optimizer_D_B).
Samples are written as uint8 (N x C x H x W, [-1, 1] mapped to 0..255 as an image file
would hold them) to OUT_DIR/mark-<seconds>-<mode>.npy, with OUT_DIR/log.json (steps and times).

The clock starts at the script's first discriminator update (data set construction and imports are
not counted, as genzoo's --set train.max_minutes does not count its start-up) and includes everything
the script does between updates (its data loading, per-step prints and image grids): wall-clock time.
Copying at a mark takes milliseconds and is not counted.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time

import numpy as np
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("script")
    p.add_argument("out")
    p.add_argument("--marks", default="60,120,300,600")
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--seed", type=int, default=0, help="seeds the sampling only (the scripts seed nothing)")
    p.add_argument("--generator", default="generator", help="the script's generator (global name) to keep")
    p.add_argument("--d-optimizer", default="optimizer_D", help="the optimizer whose step ends an iteration")
    p.add_argument("--g-optimizer", default="optimizer_G")
    p.add_argument("--inputs", help="translation scripts: uint8 test inputs (.npy) to translate at each mark")
    p.add_argument("--size", type=int, default=0, help="the image size the script trains at (with --inputs)")
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args = p.parse_args(argv[:split])
    script_args = argv[split + 1:]
    marks = sorted(float(m) for m in args.marks.split(","))
    os.makedirs(args.out, exist_ok=True)
    script = os.path.abspath(args.script)
    ns = {"__name__": "__main__", "__file__": script}
    state = {"t0": None, "paused": 0.0, "d_steps": 0, "g_steps": 0, "snaps": [], "next": 0}

    def hook(optimizer, _args, _kwargs):
        d_opt, g_opt = ns.get(args.d_optimizer), ns.get(args.g_optimizer)
        if optimizer is g_opt:
            state["g_steps"] += 1
            return
        if optimizer is not d_opt:
            return
        state["d_steps"] += 1
        now = time.perf_counter()
        if state["t0"] is None:
            state["t0"] = now
        elapsed = now - state["t0"] - state["paused"]
        while state["next"] < len(marks) and elapsed >= marks[state["next"]]:
            t = time.perf_counter()
            state["snaps"].append({"mark": marks[state["next"]], "elapsed": elapsed, "d_steps": state["d_steps"],
                                   "g_steps": state["g_steps"], "generator": copy.deepcopy(ns[args.generator])})
            state["next"] += 1
            state["paused"] += time.perf_counter() - t
        if state["next"] == len(marks):
            raise SystemExit(0)

    register_optimizer_step_post_hook(hook)
    sys.argv = [script, *script_args]
    sys.path.insert(0, os.path.dirname(script))  # as `python SCRIPT` would: its own modules (models.py) import
    code = compile(open(script).read(), script, "exec")
    started = time.time()
    try:
        exec(code, ns)
    except SystemExit:
        pass
    if not state["snaps"]:
        raise SystemExit(f"{script} ended before the first mark ({marks[0]} s)")
    opt = ns["opt"]
    torch.manual_seed(args.seed)
    if args.inputs:  # kept uint8 and resized a batch at a time (10,000 at 256 x 256 in float would take 7.9 GB)
        z = inputs = torch.from_numpy(np.load(args.inputs))[:args.n]
        size = args.size or inputs.shape[-1]
    else:
        z = torch.randn(args.n, opt.latent_dim)

    def model_input(batch: torch.Tensor) -> torch.Tensor:
        if not args.inputs:
            return batch
        x = batch.float().div(127.5).sub(1).expand(-1, 3, -1, -1)
        return torch.nn.functional.interpolate(x, size=(size, size), mode="bicubic", align_corners=False).clamp(-1, 1)

    def model_output(x: torch.Tensor) -> torch.Tensor:
        if args.inputs and x.shape[-1] != inputs.shape[-1]:
            x = torch.nn.functional.interpolate(x, size=tuple(inputs.shape[-2:]), mode="bilinear", antialias=True,
                                                align_corners=False)
        return x
    log = {"script": script, "argv": sys.argv[1:], "torch": torch.__version__, "threads": torch.get_num_threads(),
           "started": started, "marks": []}
    for snap in state["snaps"]:
        g = snap.pop("generator")
        for mode in ("eval", "train"):  # eval first: train mode moves the running statistics
            g.train(mode == "train")
            with torch.no_grad():
                # translators normalise per instance, so their batch size changes nothing: 100 at a time
                bs = 100 if args.inputs else opt.batch_size
                x = torch.cat([model_output(g(model_input(z[i:i + bs]))) for i in range(0, len(z), bs)])
            u8 = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
            np.save(os.path.join(args.out, f"mark-{int(snap['mark'])}-{mode}.npy"), u8)
        log["marks"].append(snap)
    with open(os.path.join(args.out, "log.json"), "w") as f:
        json.dump(log, f, indent=2)


if __name__ == "__main__":
    main()
