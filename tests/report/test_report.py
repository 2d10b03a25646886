"""`genzoo report` and `genzoo compare` on tiny real runs: self-contained pages, curves of the logged keys,
the FID floor (computed once, then cached), runs without metrics, --watch, and compare across families."""

from __future__ import annotations

import json
import os
import shutil
from html.parser import HTMLParser
from pathlib import Path

import genzoo
from genzoo.cli import main
from genzoo.report import floor as floor_mod
from genzoo.report.page import figures_section, write_report
from genzoo.report.rundata import numeric_keys, read_run
from genzoo.report.watch import watch
from tests.report.conftest import CLF

URL_ATTRS = {"src", "href", "xlink:href", "action", "data", "poster", "srcset", "background", "formaction"}


class Page(HTMLParser):
    """Collects tags, the attributes that can point elsewhere, and balance of the container tags."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[str] = []
        self.refs: list[tuple[str, str, str]] = []
        self.depth: dict[str, int] = {}
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.depth[tag] = self.depth.get(tag, 0) + 1
        self.refs += [(tag, k, v or "") for k, v in attrs if k in URL_ATTRS]

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)
        self.refs += [(tag, k, v or "") for k, v in attrs if k in URL_ATTRS]

    def handle_endtag(self, tag):
        self.depth[tag] = self.depth.get(tag, 0) - 1


def self_contained(path: Path) -> tuple[str, Page]:
    """The page text, checked: parses, balanced, and nothing in it is fetched from elsewhere."""
    text = path.read_text(encoding="utf-8")
    page = Page(text)
    assert text.startswith("<!DOCTYPE html>") and page.tags[0] == "html"
    for tag in ("html", "body", "table", "svg", "figure", "div", "script"):
        assert page.depth.get(tag, 0) == 0, f"unbalanced <{tag}>"
    outside = [(t, k, v) for t, k, v in page.refs if not (v.startswith("data:image/png;base64,") or v.startswith("#"))]
    assert not outside, outside[:5]  # no http(s)://, //host, or relative file: everything is inline
    assert not {"link", "iframe", "object", "embed"} & set(page.tags)
    assert "@import" not in text and "url(http" not in text
    return text, page


def test_training_writes_a_self_contained_report(trained):
    for run in ("gan", "clf"):
        text, page = self_contained(trained / run / "report.html")
        assert "status <b class=\"status-finished\">finished</b>" in text
    assert "<svg" in (trained / "gan" / "report.html").read_text()


def test_report_shows_curves_of_every_logged_key_grids_figures_cost(gan_run, capsys):
    assert main(["report", str(gan_run)]) == 0
    assert f"wrote {gan_run / 'report.html'}" in capsys.readouterr().out
    text, page = self_contained(gan_run / "report.html")
    rows = [json.loads(line) for line in (gan_run / "metrics.jsonl").read_text().splitlines()]
    # the trainer logs the run's clocks: wall-clock (>= training-step time) and CPU seconds, summed
    assert all(r["wall_s"] >= r["time_s"] and r["cpu_s"] > 0 for r in rows)
    logged = numeric_keys(rows)
    assert {"loss_d", "loss_g", "d_real", "d_fake", "images_per_s", "test_fid"} <= set(logged)
    for key in logged:
        assert key in text, key
    for key in ("loss_d", "loss_g", "d_real", "grad_norm_g"):  # drawn: panel titles are SVG text
        assert text.count(f">{key}</text>") == 2, key  # against steps and against wall time
    assert "wall time (seconds)" in text and page.tags.count("svg") == 2
    # sample grids over time: both grids (steps 2 and 4) inline, behind a slider
    assert page.tags.count("img") == 2 and 'type="range"' in text and "step 4" in text
    figures = json.loads((gan_run / "metrics.json").read_text())
    assert f"{figures['test_fid']:.6g}" in text
    for what in ("wall-clock time", "training-step time", "CPU time", "images/s", "last.pt", "g_width",
                 figures["train_status"], "torch"):
        assert what in text, what
    assert f"{(gan_run / 'checkpoints' / 'last.pt').stat().st_size:,}" in text


def test_fid_floor_beside_fid_computed_once_then_cached(gan_run, tmp_path, monkeypatch):
    monkeypatch.setattr(floor_mod, "cache_root", lambda: tmp_path / "cache")
    calls = []
    real = floor_mod.evaluate_images

    def counted(*a, **kw):
        calls.append(kw)
        return real(*a, **kw)

    monkeypatch.setattr(floor_mod, "evaluate_images", counted)
    write_report(gan_run)
    text = (gan_run / "report.html").read_text()
    run = read_run(gan_run)
    (fl,) = floor_mod.floors(run.config, run.figures)
    assert len(calls) == 1 and calls[0]["metrics"] == ("fid",)
    assert fl.key == "test_fid" and fl.cached and fl.n == 96  # 100 samples asked; data.limit=96 train images
    assert 0 < fl.value < run.figures["test_fid"]  # real vs real beats an untrained generator
    assert f"{fl.value:.4g} (real train vs real test, n=96)" in text and "floor " in text
    write_report(gan_run)
    assert len(calls) == 1  # the second report read the cache
    assert len(list((tmp_path / "cache" / "floors").glob("*.json"))) == 1


def test_report_of_a_run_without_metrics_samples_or_checkpoints(gan_run):
    for name in ("metrics.json", "metrics.jsonl"):
        (gan_run / name).unlink()
    shutil.rmtree(gan_run / "samples")
    shutil.rmtree(gan_run / "checkpoints")
    text, page = self_contained(write_report(gan_run))
    assert "No figures yet" in text and "No rows in metrics.jsonl yet" in text and "No checkpoint yet" in text
    assert "No training sample grids" in text and "<svg" not in text
    assert "status <b class=\"status-stopped\">stopped</b>" in text and "genzoo train --resume" in text


def test_floor_unavailable_is_said(gan_run):
    cfg = json.loads((gan_run / "config.json").read_text())
    cfg["data"]["name"] = "frey"  # no feature network for faces
    (gan_run / "config.json").write_text(json.dumps(cfg))
    run = read_run(gan_run)
    text = figures_section(run, floor_mod.floors(run.config, run.figures))
    assert "floor unavailable: no domain feature network for dataset &#x27;frey&#x27;" in text


def test_watch_refreshes_while_the_run_trains_and_stops_when_it_ends(gan_run):
    (gan_run / "metrics.jsonl").unlink()  # no curves to draw: this is about the loop
    figures = json.loads((gan_run / "metrics.json").read_text())
    del figures["train_status"]
    (gan_run / "metrics.json").write_text(json.dumps(figures))
    (gan_run / ".lock").write_text(f"{os.getppid()}\n")  # a live process holds the run: it trains
    assert read_run(gan_run).running
    seen, logs = [], []

    def sleep(seconds):  # while watching: the page reloads itself; then the run ends
        seen.append((seconds, '<meta http-equiv="refresh" content="7">' in (gan_run / "report.html").read_text()))
        (gan_run / "metrics.json").write_text(json.dumps({**figures, "train_status": "finished"}))

    path = watch(gan_run, 7, log=logs.append, sleep=sleep)
    assert seen == [(7, True)]
    final = path.read_text()
    assert "http-equiv" not in final and "status-finished" in final
    assert logs[0].startswith("watching") and "finished" in logs[-1]

    (gan_run / "metrics.json").write_text(json.dumps(figures))  # running again: Ctrl-C stops the watch

    def interrupt(seconds):
        raise KeyboardInterrupt

    logs.clear()
    out = watch(gan_run, 7, out=gan_run / "live.html", log=logs.append, sleep=interrupt)
    assert out == gan_run / "live.html" and "http-equiv" not in out.read_text() and "stopped watching" in logs


def test_compare_a_classifier_and_a_gan_compares_only_shared_keys(gan_run, clf_run, tmp_path, capsys):
    out = tmp_path / "cmp.html"
    assert main(["compare", str(clf_run), str(gan_run), "--out", str(out)]) == 0
    table = capsys.readouterr().out
    lines = table.splitlines()
    keys = [line.split()[0] for line in lines[2:] if line and not line.startswith(("left out", "wrote"))]
    assert keys[:2] == ["model", "data"] and "steps" in keys and "wall" in keys
    assert {"train_step", "train_seconds", "train_wall_seconds", "train_status"} <= set(keys)
    assert not {"test_accuracy", "test_fid", "test_loss"} & set(keys)  # one family's figures only
    assert lines[0].split() == ["clf", "gan"] and "classifier" in lines[2] and "dcgan" in lines[2]
    left = next(line for line in lines if line.startswith("left out"))
    assert "clf: test_accuracy, test_loss" in left and "gan: test_fid" in left
    text, page = self_contained(out)
    assert ">images_per_s</text>" in text  # logged by both: overlaid
    assert ">loss_d</text>" not in text and "loss_d" in text  # one run only: listed as not drawn
    assert page.tags.count("img") == 1 and "clf (classifier): no sample grid" in text


def test_a_failed_report_does_not_fail_training(tmp_path, monkeypatch, capsys):
    def broken(*a, **kw):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("genzoo.report.page.write_report", broken)
    assert main([*CLF, "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"genzoo: warning: report not written (RuntimeError: disk on fire); try `genzoo report "
                   f"{tmp_path / 'run'}`"]
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file()


def test_python_api_train_writes_the_report(tmp_path):
    data = genzoo.load_data("mnist-mini", limit=64)
    model = genzoo.build("classifier", data.spec, width=4)
    genzoo.train(model, data, out=str(tmp_path / "api"), steps=2, batch_size=16, progress=False, tensorboard=False,
                 log_every=1)
    text, _ = self_contained(tmp_path / "api" / "report.html")
    assert "classifier on mnist-mini" in text


def test_every_string_is_escaped(gan_run):
    evil = "<script>alert(1)</script>$x$"
    with open(gan_run / "metrics.jsonl", "a") as f:
        for step in (5, 6):
            f.write(json.dumps({"step": step, evil: float(step), "wall_s": 1.0 + step}) + "\n")
    figures = json.loads((gan_run / "metrics.json").read_text())
    (gan_run / "metrics.json").write_text(json.dumps({**figures, evil: evil}))
    text, page = self_contained(write_report(gan_run))
    assert "<script>alert" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert page.tags.count("script") == 1  # the page's own slider script only
