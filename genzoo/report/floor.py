"""The FID floor of a run's dataset: what real images score against the real split the run is scored on.

A model's FID is only readable beside the FID of real data: n real *training* images (a seeded subset, n =
the run's sample count) against the same real split the run's samples were compared with, in the same
feature space (Heusel et al. 2017 compare with real-vs-real figures the same way; FID is biased upwards at
small n, so the floor must use the same n). Computed with `genzoo.metrics`, and cached as JSON in
~/.cache/genzoo/floors/ (keyed by feature network, data options, split and n), so a second report is
instant.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from genzoo.errors import GenzooError
from genzoo.metrics import evaluate_images, resolve
from genzoo.metrics.features import InceptionFeatures, cache_root
from genzoo.runs import DATA_OPTS, load_split

# figure key -> where its sample count is in metrics.json (the training evaluation logs test_n; eval logs n)
FID_KEYS = {"fid": "n", "test_fid": "test_n"}


@dataclass
class Floor:
    key: str  # the figure it belongs to (fid, test_fid)
    value: float | None  # None: unavailable (see `why`)
    n: int | None = None
    split: str = "test"
    features: str = ""
    why: str = ""  # why it is unavailable
    cached: bool = False


def floors(config: dict[str, Any], figures: dict[str, Any]) -> list[Floor]:
    """A Floor for each FID figure of a run (fid from `genzoo eval`, test_fid from training); [] without FID.
    Unavailable floors (no feature network, data files gone, another feature space) say why."""
    out = []
    data_args = config.get("data", {})
    for key, n_key in FID_KEYS.items():
        if not isinstance(figures.get(key), (int, float)):
            continue
        n = figures.get(n_key)
        if not isinstance(n, int):
            n = config.get("train", {}).get("eval_samples") if key == "test_fid" else None
        split = str(figures.get("eval_split", "test")) if key == "fid" else "test"
        described = figures.get("features") if key == "fid" else None
        if not isinstance(n, int) or n < 2:
            out.append(Floor(key, None, split=split, why="the run does not record how many samples its FID used"))
            continue
        try:
            floor = fid_floor(data_args, n, split, _features_name(described))
        except GenzooError as e:
            floor = Floor(key, None, n, split, why=str(e))
        if isinstance(described, str) and floor.features and floor.features != described:
            floor = Floor(key, None, n, split, described, why=f"the FID was computed in features genzoo cannot "
                                                              f"rebuild here ({described})")
        floor.key = key
        out.append(floor)
    for k in figures:  # validation FIDs: the validation images come out of the training split
        if k.startswith("val_") and k.endswith("fid") and isinstance(figures[k], (int, float)):
            out.append(Floor(k, None, why="the validation split is part of the training data: no train-vs-test "
                                          "floor applies"))
    return out


def _features_name(description: Any) -> str:
    """The `features=` name that gives the feature space `genzoo eval` described (auto when unknown)."""
    if not isinstance(description, str):
        return "auto"
    if description == InceptionFeatures.description:
        return "inception"
    if description.startswith("classifier run "):
        return description.removeprefix("classifier run ")
    return "auto"


def fid_floor(data_args: dict[str, Any], n: int, split: str = "test", features: str = "auto") -> Floor:
    """FID of n seeded real training images vs the real `split` of the data `data_args` describes (a run's
    config "data" entry), in `features`; from the cache when it was computed before."""
    net = resolve(features, str(data_args.get("name", "")))
    opts = {k: data_args.get(k) for k in ("name", *DATA_OPTS) if data_args.get(k) is not None}
    key = json.dumps({"net": net.key, "data": opts, "split": split, "n": n, "seed": 0}, sort_keys=True)
    path = cache_root() / "floors" / (hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:20] + ".json")
    hit = _read(path, key)
    if hit is not None:
        return Floor("fid", hit["value"], hit["n"], split, net.description, cached=True)
    train = load_split(data_args, "train")
    real = load_split(data_args, split)
    m = min(n, len(train))
    idx = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:m].sort().values
    res = evaluate_images(train.images[idx], real, metrics=("fid",), features=features)
    floor = Floor("fid", float(res["fid"]), m, split, net.description)
    _write(path, {**asdict(floor), "cache_key": key})
    return floor


def _read(path: Path, key: str) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(data, dict) and data.get("cache_key") == key and isinstance(data.get("value"), (int, float))
    return data if ok else None  # a damaged or foreign file is recomputed, never trusted


def _write(path: Path, data: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(data, indent=1) + "\n")
        os.replace(tmp, path)
    except OSError:  # a read-only home is fine: the cache is an optimisation
        pass
