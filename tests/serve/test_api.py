"""The explorer's HTTP API on tiny trained runs: images from seeds and sliders, conditions, uploads, and
every way a request can be wrong (a 4xx with a JSON message, never a traceback)."""

from __future__ import annotations

import io
import re
import sys
import tomllib
from pathlib import Path

import numpy
import pytest
import torch
from PIL import Image

from tests.serve.conftest import NEEDS

pytest.importorskip("fastapi", reason=NEEDS)
pytest.importorskip("uvicorn", reason=NEEDS)

from genzoo.serve import explore  # noqa: E402
from genzoo.serve.app import create_app, loopback_hosts, run_names  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DCGAN, CGAN, VAE, INFOGAN = 0, 1, 2, 3


def png_of(response) -> Image.Image:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    im = Image.open(io.BytesIO(response.content))
    im.load()
    return im


def pixels(response) -> torch.Tensor:
    a = numpy.asarray(png_of(response), dtype=numpy.int16)
    return torch.from_numpy(a.reshape(*a.shape[:2], -1))


def png_bytes(size=(40, 30), mode="L", fmt="PNG", color=200) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, format=fmt)
    return buf.getvalue()


# ---- what each run offers ------------------------------------------------------------------------------
def test_runs_list_their_capabilities(client):
    runs = client.get("/api/runs").json()["runs"]
    assert [r["model"] for r in runs] == ["dcgan", "cgan", "vae", "infogan"]
    dcgan, cgan, vae, infogan = runs
    assert dcgan["directions"] == 8 and dcgan["classes"] is None and not dcgan["manifold"] and not dcgan["encode"]
    assert cgan["classes"] == [str(i) for i in range(10)]
    assert vae["manifold"] and vae["encode"] and vae["latent_dim"] == 2 and vae["directions"] == 2
    assert infogan["codes"] == {"categorical": 1, "values": 10, "continuous": 2} and infogan["free_dim"] == 62
    assert dcgan["image"] == [1, 28, 28] and dcgan["limits"]["grid"] == 256
    assert client.get(f"/api/runs/{dcgan['name']}").json() == dcgan  # by name as well as by index
    assert "path" not in str(runs).lower()  # no file system path is sent


def test_page_and_static_files_come_from_the_app(client):
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text and "/static/style.css" in page.text
    for name in ("app.js", "style.css"):
        r = client.get(f"/static/{name}")
        assert r.status_code == 200 and len(r.content) > 100
    for text in (page.text, client.get("/static/app.js").text, client.get("/static/style.css").text):
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text, re.I)  # nothing from another host
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"


def test_static_files_ship_in_the_package():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["genzoo.serve"]
    static = ROOT / "genzoo" / "serve" / "static"
    files = sorted(p.name for p in static.iterdir())
    assert files and all(any(Path("static", f).match(glob) for glob in data) for f in files), (files, data)


# ---- images ----------------------------------------------------------------------------------------------
def test_grid_is_a_function_of_the_seed(client):
    a = client.get("/api/runs/0/grid.png?seed=3&n=64")
    b = client.get("/api/runs/0/grid.png?seed=3&n=64")
    c = client.get("/api/runs/0/grid.png?seed=4&n=64")
    assert a.content == b.content
    assert a.content != c.content
    assert png_of(a).size == (8 * 30 + 2, 8 * 30 + 2)  # 8 x 8 cells of 28 px, 2 px padding, not upscaled


def test_conditional_grid_has_one_class_per_column(client):
    grid = pixels(client.get("/api/runs/1/grid.png?seed=0&n=20"))  # 10 per row: classes 0..9 in every row
    assert grid.shape[:2] == (2 * 30 + 2, 10 * 30 + 2)
    only3 = client.get("/api/runs/1/grid.png?seed=0&n=20&label=3")
    assert only3.content != client.get("/api/runs/1/grid.png?seed=0&n=20").content


def test_moving_a_latent_slider_changes_the_image(client):
    base = client.get("/api/runs/0/explore.png?seed=5")
    assert png_of(base).size == (28, 28)
    assert client.get("/api/runs/0/explore.png?seed=5&d=0").content == base.content  # a slider at 0 moves nothing
    moved = client.get("/api/runs/0/explore.png?seed=5&d=2.5")
    assert moved.content != base.content
    second = client.get("/api/runs/0/explore.png?seed=5&d=0&d=2.5")
    assert second.content not in (base.content, moved.content)
    raw = client.get("/api/runs/0/explore.png?seed=5&d=2.5&basis=raw")
    assert raw.content not in (base.content, moved.content)


def test_explore_at_zero_is_the_seed_s_sample(client):
    """The image of seed s equals the first cell of the grid of seed s (same latent, same class)."""
    one = pixels(client.get("/api/runs/0/explore.png?seed=7"))
    cell = pixels(client.get("/api/runs/0/grid.png?seed=7&n=4"))[2:30, 2:30]
    assert (one - cell).abs().max() <= 1


def test_principal_directions_order_by_output_variance(served):
    """Moving along the first direction changes the outputs more than along the last (GANSpace)."""
    run = served[DCGAN]
    dirs = explore.principal_directions(run.model, run.caps)
    assert dirs.shape == (8, 100) and torch.isfinite(dirs).all()
    z = run.model.sample_latent(64, torch.Generator().manual_seed(1))
    with torch.no_grad():
        x = run.model.decode(z)
        change = [(run.model.decode(z + 1.0 * dirs[k]) - x).pow(2).mean().item() for k in (0, 7)]
    assert change[0] > change[1]
    assert torch.equal(dirs, explore.principal_directions(run.model, run.caps))  # deterministic


def test_a_class_toggle_changes_the_image(client):
    images = [client.get(f"/api/runs/1/explore.png?seed=2&label={k}").content for k in (1, 7)]
    assert images[0] != images[1]
    assert client.get("/api/runs/1/explore.png?seed=2&label=1").content == images[0]


def test_infogan_code_sliders_change_the_image(client):
    base = client.get("/api/runs/3/explore.png?seed=1&cat=0&cont=0&cont=0").content
    assert client.get("/api/runs/3/explore.png?seed=1&cat=4&cont=0&cont=0").content != base
    assert client.get("/api/runs/3/explore.png?seed=1&cat=0&cont=1.5&cont=0").content != base
    assert client.get("/api/runs/3/explore.png?seed=1&cat=0&cont=0&cont=0&d=2").content != base


def test_manifold_map_and_points(client):
    m = png_of(client.get("/api/runs/2/manifold.png?steps=12"))
    assert m.size == (12 * 30 + 2, 12 * 30 + 2)
    a = client.get("/api/runs/2/point.png?u=0.1&v=0.5")
    b = client.get("/api/runs/2/point.png?u=0.9&v=0.5")
    assert png_of(a).size == (28, 28) and a.content != b.content


def test_interpolation_runs_from_one_sample_to_the_other(client):
    strip = pixels(client.get("/api/runs/0/interpolate.png?a=3&b=9&steps=6"))
    assert strip.shape[:2] == (32, 6 * 30 + 2)
    first, last = (pixels(client.get(f"/api/runs/0/explore.png?seed={s}")) for s in (3, 9))
    assert (strip[2:30, 2:30] - first).abs().max() <= 1
    assert (strip[2:30, 5 * 30 + 2:5 * 30 + 30] - last).abs().max() <= 1
    slerp = client.get("/api/runs/0/interpolate.png?a=3&b=9&steps=6&slerp=true")
    assert png_of(slerp).size == (6 * 30 + 2, 32)


@pytest.mark.parametrize("fmt, mode, size", [("PNG", "L", (56, 40)), ("JPEG", "RGB", (300, 300)),
                                             ("PNG", "RGBA", (28, 28))])
def test_uploaded_images_are_encoded_and_morphed(client, fmt, mode, size):
    za = client.post("/api/runs/2/encode", content=png_bytes(size, mode, fmt, 30))
    zb = client.post("/api/runs/2/encode?invert=true", content=png_bytes(size, mode, fmt, 30))
    assert za.status_code == 200, za.text
    a, b = za.json()["z"], zb.json()["z"]
    assert len(a) == 2 and a != b  # inverted: another image, another code
    r = client.post("/api/runs/2/morph.png", json={"a": a, "b": b, "steps": 5})
    assert png_of(r).size == (5 * 30 + 2, 32)


def test_a_16_bit_upload_is_scaled_like_its_8_bit_twin(client):
    """Pillow's convert('L') clips 16-bit grey (25700 of 65535 became white); uploads are scaled to 8 bits."""

    def upload(array):
        buf = io.BytesIO()
        Image.fromarray(array).save(buf, format="PNG")
        return client.post("/api/runs/2/encode", content=buf.getvalue()).json()["z"]

    ramp = numpy.add.outer(numpy.arange(28), numpy.arange(28)) * 4  # 0..216 in 8 bits
    assert upload((ramp * 257).astype(numpy.uint16)) == upload(ramp.astype(numpy.uint8))


def test_a_phone_photo_is_encoded_upright(client):
    """A portrait stored as landscape pixels plus EXIF orientation 6 encodes as its upright twin does."""
    upright = numpy.zeros((28, 20), dtype=numpy.uint8)
    upright[2:10, 12:18] = 255  # a block near the top right
    exif = Image.Exif()
    exif[0x0112] = 6  # turn 90 degrees clockwise to show
    stored = numpy.rot90(upright, k=1)  # what the phone wrote: the upright picture turned anticlockwise

    def upload(array, **save):
        buf = io.BytesIO()
        Image.fromarray(numpy.ascontiguousarray(array)).save(buf, format="PNG", **save)
        return client.post("/api/runs/2/encode", content=buf.getvalue()).json()["z"]

    assert upload(stored, exif=exif) == upload(upright) != upload(stored)


def test_concurrent_requests_on_one_run_all_succeed(client):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda s: client.get(f"/api/runs/0/explore.png?seed={s % 3}&d=1").content, range(12)))
    assert all(g == got[s % 3] for s, g in enumerate(got))


# ---- bad requests: 4xx, JSON with a message --------------------------------------------------------------
BAD_GETS = [
    ("/api/runs/0/grid.png?n=1000", 422, "n: Input should be less than or equal to 256"),
    ("/api/runs/0/grid.png?n=0", 422, "n: Input should be greater than or equal to 1"),
    ("/api/runs/0/grid.png?seed=-1", 422, "seed"),
    ("/api/runs/0/grid.png?seed=99999999999", 422, "seed"),
    ("/api/runs/0/grid.png?seed=abc", 422, "seed: Input should be a valid integer"),
    ("/api/runs/0/explore.png?d=5", 422, "d.0: Input should be less than or equal to 3"),
    ("/api/runs/0/explore.png?d=nan", 422, "d.0: Input should be a finite number"),
    ("/api/runs/0/explore.png?d=x", 422, "d.0: Input should be a valid number"),
    ("/api/runs/0/explore.png?" + "&".join(["d=1"] * 9), 422, "at most 8 items"),
    ("/api/runs/2/explore.png?d=1&d=1&d=1", 400, "d takes at most 2 values"),
    ("/api/runs/0/explore.png?basis=ica", 422, "basis: Input should be 'pca' or 'raw'"),
    ("/api/runs/0/explore.png?label=3", 400, "dcgan is not class-conditional"),
    ("/api/runs/1/explore.png?label=10", 400, "label must be a class number in 0..9"),
    ("/api/runs/1/explore.png?attr=1", 400, "not conditioned on attributes"),
    ("/api/runs/0/explore.png?cat=1", 400, "it has no latent codes"),
    ("/api/runs/3/explore.png?cat=10", 400, "cat takes 1 categorical code value(s) in 0..9"),
    ("/api/runs/3/explore.png?cont=1", 400, "cont takes 2 continuous code value(s)"),
    ("/api/runs/3/explore.png?cont=9&cont=0", 422, "cont.0"),
    ("/api/runs/0/manifold.png", 400, "its latent has 100 dimensions, not 2"),
    ("/api/runs/2/manifold.png?steps=100", 422, "steps"),
    ("/api/runs/2/point.png?u=0", 422, "u: Input should be greater than or equal to 0.001"),
    ("/api/runs/2/point.png?v=1.5", 422, "v: Input should be less than or equal to 0.999"),
    ("/api/runs/0/interpolate.png?steps=1", 422, "steps"),
    ("/api/runs/0/interpolate.png?steps=17", 422, "steps"),
    ("/api/runs/9/grid.png", 404, "no run '9' here: this server shows runs 0..3"),
    ("/api/runs/99999999999999999999/grid.png", 404, "no run"),
    ("/api/runs/nosuchrun/grid.png", 404, "no run 'nosuchrun'"),
    ("/api/runs/-1/grid.png", 422, "run: String should match pattern"),
    ("/api/runs/0/nothing.png", 404, "no such page"),
    ("/static/index.html", 404, "no static file"),
    ("/static/..%2Fapp.py", 404, "no"),
]


@pytest.mark.parametrize("url, status, message", BAD_GETS)
def test_bad_parameters_are_4xx_json_errors(client, url, status, message):
    r = client.get(url)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    assert message in r.json()["error"] and "Traceback" not in r.text


@pytest.mark.parametrize("run", ["..", "...", "..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "%2e%2e", "~root",
                                 "C:%5Cwindows", "0%00", ".hidden", "a" * 200, "%252e%252e%252f"])
def test_path_like_run_names_are_rejected(client, run):
    r = client.get(f"/api/runs/{run}/grid.png")
    assert r.status_code in (404, 422), r.text
    assert "error" in r.json() and "Traceback" not in r.text


def test_unknown_routes_and_methods_are_json(client):
    for method, url in [("get", "/nothing"), ("post", "/api/runs/0/grid.png"), ("delete", "/api/runs/0"),
                        ("get", "/api/runs/0/encode")]:
        r = getattr(client, method)(url)
        assert 400 <= r.status_code < 500 and "error" in r.json(), (method, url, r.text)


@pytest.mark.parametrize("body, status, message", [
    (b"x" * (2 * 1024 * 1024 + 1), 413, "larger than the limit of 2097152 bytes"),
    (b"", 400, "the upload is empty"),
    (b"hello, not an image", 400, "not an image genzoo can read"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, 400, "not an image genzoo can read"),
    (b"%PDF-1.4\n" + b"x" * 100, 400, "not an image genzoo can read"),
])
def test_bad_uploads(client, body, status, message):
    r = client.post("/api/runs/2/encode", content=body)
    assert r.status_code == status and message in r.json()["error"], r.text


def test_oversized_streamed_upload_is_cut_off(client):
    """Without a Content-Length (chunked), the body is counted while it arrives."""
    def chunks():
        for _ in range(40):
            yield b"x" * 65536  # 2.5 MB in all

    r = client.post("/api/runs/2/encode", content=chunks())
    assert r.status_code == 413 and "limit" in r.json()["error"]


def test_an_image_claiming_too_many_pixels_is_refused_before_decoding(client):
    bomb = png_bytes((5000, 5000), "1", "PNG", 0)  # a few kB that decode to 25 megapixels
    assert len(bomb) < 2 * 1024 * 1024
    r = client.post("/api/runs/2/encode", content=bomb)
    assert r.status_code == 413 and "claims 5000x5000 pixels" in r.json()["error"]


@pytest.mark.parametrize("body, status, message", [
    ({"a": [0.0, 0.0], "b": [0.0]}, 400, "a and b must be latents of 2 values"),
    ({"a": [0.0, 0.0], "b": [1e9, 0.0]}, 422, "b.0: Input should be less than or equal to 100"),
    ({"a": [0.0, 0.0], "b": [0.0, 0.0], "steps": 100}, 422, "steps"),
    ({"a": [0.0, 0.0], "b": [0.0, 0.0], "extra": 1}, 422, "extra"),
    ({"a": [0.0, 0.0], "b": [0.0, 0.0], "label": 3}, 400, "not class-conditional"),
    ({"a": "zero", "b": [0.0, 0.0]}, 422, "a: Input should be a valid list"),
])
def test_bad_morphs(client, body, status, message):
    r = client.post("/api/runs/2/morph.png", json=body)
    assert r.status_code == status and message in r.json()["error"], r.text


def test_nan_in_json_is_refused(client):
    r = client.post("/api/runs/2/morph.png", content=b'{"a": [NaN, 0], "b": [0, 0]}',
                    headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500 and "error" in r.json()


def test_views_a_model_lacks_say_why(client):
    r = client.post("/api/runs/0/encode", content=png_bytes())
    assert r.status_code == 400 and "dcgan" in r.json()["error"] and "encoder" in r.json()["error"]


def test_a_bug_is_a_json_500_without_traceback(client, monkeypatch):
    def broken(*a, **k):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(explore, "grid", broken)
    r = client.get("/api/runs/0/grid.png?seed=11")
    assert r.status_code == 500 and r.json() == {
        "error": "internal error (RuntimeError); the server's log has the details"}
    assert "secret" not in r.text


def test_loopback_server_accepts_only_loopback_host_headers(served):
    from fastapi.testclient import TestClient

    app = create_app(served, allowed_hosts=loopback_hosts("127.0.0.1"))
    with TestClient(app, base_url="http://127.0.0.1:8000") as c:
        assert c.get("/api/runs").status_code == 200
        assert c.get("/api/runs", headers={"host": "localhost:8000"}).status_code == 200
        r = c.get("/api/runs", headers={"host": "attacker.example:8000"})
        assert r.status_code == 400 and "answers only requests addressed to" in r.json()["error"]
    assert loopback_hosts("0.0.0.0") is None  # bound to every interface: the user chose to share it


def test_run_names_are_url_safe_unique_and_never_indices(tmp_path):
    names = run_names([tmp_path / "dcgan run", tmp_path / "x" / "dcgan run", tmp_path / "123", tmp_path / "..."])
    assert names == ["dcgan-run", "dcgan-run-2", "run-123", "run-3"]
    assert all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", n) for n in names)


def test_cli_names_the_extra_when_fastapi_is_missing(monkeypatch, capsys, tiny_runs):
    from genzoo import cli

    monkeypatch.setitem(sys.modules, "fastapi", None)
    assert cli.main(["serve", str(tiny_runs["dcgan"])]) == 2
    err = capsys.readouterr().err
    assert "pip install -e '.[serve]'" in err and len(err.strip().splitlines()) == 1


def test_cli_refuses_a_model_with_nothing_to_show(tmp_path, capsys):
    import genzoo
    from genzoo import cli
    from genzoo.training import TrainConfig, Trainer

    data = genzoo.load_data("mnist-mini", limit=64)
    Trainer(genzoo.build("classifier", data.spec, width=4), data,
            TrainConfig(steps=1, batch_size=16, progress=False, tensorboard=False), run_dir=tmp_path / "clf",
            log=lambda *a, **k: None).fit()
    assert cli.main(["serve", str(tmp_path / "clf"), "--port", "8001"]) == 2
    assert "nothing to explore" in capsys.readouterr().err


# ---- attribute toggles (attr-gan) and an autoencoder that cannot sample ------------------------------------
@pytest.fixture(scope="module")
def more(tmp_path_factory):
    """A client for a tiny attr-gan (attributes made from the labels) and a tiny autoencoder."""
    from fastapi.testclient import TestClient

    import genzoo
    from genzoo.data.imageset import ImageSet
    from genzoo.serve.app import load_runs
    from genzoo.training import TrainConfig, Trainer

    mini = genzoo.load_data("mnist-mini", limit=256)
    attrs = torch.stack([mini.labels % 2 == 0, mini.labels >= 5], 1).to(torch.uint8)
    with_attrs = ImageSet(mini.images, mini.labels, attrs, ("even", "at_least_5"), mini.class_names, "mnist-mini")
    root = tmp_path_factory.mktemp("serve-more")
    for name, data, overrides in [("attr-gan", with_attrs, {"g_width": 8, "d_width": 8}),
                                  ("ae", mini, {"hidden": (32,), "code_dim": 6})]:
        model = genzoo.build(name, data.spec, seed=0, **overrides)
        Trainer(model, data, TrainConfig(steps=4, batch_size=16, progress=False, tensorboard=False),
                run_dir=root / name, log=lambda *a, **k: None).fit()
    with TestClient(create_app(load_runs([root / "attr-gan", root / "ae"])), raise_server_exceptions=False) as c:
        yield c


def test_attribute_toggles_change_the_image(more):
    info = more.get("/api/runs/0").json()
    assert info["attributes"] == ["even", "at_least_5"] and info["classes"] is None
    images = {bits: more.get(f"/api/runs/0/explore.png?seed=1&attr={bits[0]}&attr={bits[1]}").content
              for bits in ("00", "10", "01")}
    assert len(set(images.values())) == 3
    assert more.get("/api/runs/0/grid.png?seed=1&n=8&attr=1&attr=0").status_code == 200
    r = more.get("/api/runs/0/explore.png?attr=1")
    assert r.status_code == 400 and "one 0/1 value per attribute (even, at_least_5)" in r.json()["error"]
    assert more.get("/api/runs/0/explore.png?attr=2&attr=0").status_code == 422


def test_an_autoencoder_offers_morphing_only(more):
    info = more.get("/api/runs/1").json()
    assert not info["sample"] and info["encode"] and info["latent_dim"] == 6 and info["directions"] == 0
    r = more.get("/api/runs/1/grid.png")
    assert r.status_code == 400 and "it cannot sample" in r.json()["error"]
    assert more.get("/api/runs/1/explore.png").status_code == 400
    a = more.post("/api/runs/1/encode", content=png_bytes(color=0)).json()["z"]
    b = more.post("/api/runs/1/encode", content=png_bytes(color=255)).json()["z"]
    assert len(a) == 6
    assert png_of(more.post("/api/runs/1/morph.png", json={"a": a, "b": b, "steps": 4})).size == (4 * 30 + 2, 32)


def test_cli_port_in_use_is_one_line(tiny_runs, capsys):
    import socket

    from genzoo import cli

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert cli.main(["serve", str(tiny_runs["dcgan"]), "--port", str(port)]) == 2
    assert "choose another --port" in capsys.readouterr().err


def test_cli_help_has_examples(capsys):
    from genzoo import cli

    with pytest.raises(SystemExit) as e:
        cli.main(["serve", "--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0 and "examples:" in out and "127.0.0.1" in out and ".[serve]" in out
