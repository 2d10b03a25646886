"""The explorer's web app: routes, declared parameter ranges, JSON errors, the runs it may show.

Routes (images are PNG, everything else JSON; `RUN` is a run's index or the name the server gave it):

    GET  /                              the page (static/index.html, app.js and style.css under /static/)
    GET  /api/runs                      every run served, with what each model can show
    GET  /api/runs/RUN                  one of them
    GET  /api/runs/RUN/grid.png         ?seed&n[&label][&attr=0|1...]   the sample grid of a seed
    GET  /api/runs/RUN/explore.png      ?seed&d=..&basis=pca|raw[&label][&attr][&cat][&cont]   one image, moved
                                        along latent directions (d: one value per slider)
    GET  /api/runs/RUN/manifold.png     ?steps[&label]                  2-D latent models: the manifold map
    GET  /api/runs/RUN/point.png        ?u&v[&label]                    the image at quantiles (u, v) of that map
    GET  /api/runs/RUN/interpolate.png  ?a&b&steps[&slerp][&label][&attr]   from sample a to sample b
    POST /api/runs/RUN/encode           body: the image file [?label&invert] -> {"z": [...]} (models with encode)
    POST /api/runs/RUN/morph.png        JSON {"a": z, "b": z, "steps", "slerp", "label"}   between two codes

Safety: only the runs the server was started with can be reached, by index or by the name the server
assigned (a request never names a path); every parameter has a declared type and range, and the model
checks the rest (class numbers, code counts); request bodies are limited to LIMITS.upload_bytes before
they are read (Content-Length first, then counted while streaming); bound to a loopback address, only
loopback Host headers are accepted (DNS rebinding); every error is `{"error": message}` with a 4xx
status (5xx only for a bug, still without a traceback).
"""

from __future__ import annotations

import re
import threading
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import torch
from fastapi import FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from genzoo.errors import GenzooError
from genzoo.runs import load_model
from genzoo.serve import explore
from genzoo.serve.explore import LIMITS, RequestError

STATIC = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}
HEADERS = [  # on every response: no content from elsewhere, no sniffing, no framing
    (b"content-security-policy", b"default-src 'self'; img-src 'self' blob: data:; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


# ---- the runs a server shows ---------------------------------------------------------------------------
class ServedRun:
    """One loaded run: its model (eval mode), what it can show, and a lock (one computation at a time)."""

    def __init__(self, index: int, name: str, model):
        self.index, self.name, self.model = index, name, model
        self.caps = explore.capabilities(model)
        self.lock = threading.Lock()
        self._directions: dict[str, torch.Tensor] = {}

    def directions(self, basis: str) -> torch.Tensor:
        """Latent directions of `basis`, computed on first use (call holding the lock)."""
        if basis not in self._directions:
            self._directions[basis] = explore.directions(self.model, self.caps, basis)
        return self._directions[basis]

    def info(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name, "step": getattr(self.model, "checkpoint_step", None),
                **self.caps.to_json()}


def run_names(paths: list[str | Path]) -> list[str]:
    """Names the server gives the runs: each folder's name reduced to URL-safe characters, made unique;
    never only digits (those are indices)."""
    names: list[str] = []
    for i, p in enumerate(paths):
        base = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(p).resolve().name).strip(".-_")[:56] or f"run-{i}"
        if base.isdigit():
            base = f"run-{base}"
        name, k = base, 2
        while name in names:
            name, k = f"{base}-{k}", k + 1
        names.append(name)
    return names


def load_runs(paths: list[str | Path], device: str | torch.device = "cpu", which: str = "last") -> list[ServedRun]:
    """Load every run folder (EMA weights where present); a GenzooError names one that cannot be shown."""
    runs = []
    for i, (path, name) in enumerate(zip(paths, run_names(paths))):
        model = load_model(path, which=which, device=device)
        try:
            runs.append(ServedRun(i, name, model))
        except RequestError as e:
            raise RequestError(f"{path}: {e}") from None
    return runs


# ---- request guard: body limit, Host check, headers -------------------------------------------------------
class BodyTooLarge(RequestError):
    def __init__(self, limit: int):
        super().__init__(f"the request body is larger than the limit of {limit} bytes", 413)


class Guard:
    """ASGI middleware: refuses bodies over `max_body` bytes (by Content-Length before reading, and by
    counting while streaming), refuses Host headers outside `allowed_hosts` (when given), and adds HEADERS."""

    def __init__(self, app, max_body: int, allowed_hosts: set[str] | None = None):
        self.app, self.max_body, self.allowed_hosts = app, max_body, allowed_hosts

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *HEADERS]}
            await send(message)

        host = _host(headers.get(b"host", b"").decode("latin-1"))
        if self.allowed_hosts is not None and host not in self.allowed_hosts:
            return await _json(send_with_headers, 400, "this server answers only requests addressed to "
                                                       f"{', '.join(sorted(self.allowed_hosts))}")
        length = headers.get(b"content-length", b"0").decode("latin-1")
        if not length.isdigit():
            return await _json(send_with_headers, 400, "the Content-Length header is not a number")
        if int(length) > self.max_body:
            return await _json(send_with_headers, 413, str(BodyTooLarge(self.max_body)))
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise BodyTooLarge(self.max_body)
            return message

        await self.app(scope, counted, send_with_headers)


def _host(value: str) -> str:
    """The host of a Host header ('[::1]:8000' -> '::1', 'localhost:8000' -> 'localhost')."""
    if value.startswith("["):
        return value[1:].partition("]")[0]
    return value.rpartition(":")[0] if value.count(":") == 1 else value


async def _json(send, status: int, message: str) -> None:
    response = JSONResponse({"error": message}, status_code=status)
    await response({"type": "http"}, None, send)


# ---- request bodies and parameters ---------------------------------------------------------------------------
Latent = Annotated[float, Field(ge=-LIMITS.latent, le=LIMITS.latent, allow_inf_nan=False)]
Offset = Annotated[float, Field(ge=-LIMITS.offset, le=LIMITS.offset, allow_inf_nan=False)]
Code = Annotated[float, Field(ge=-LIMITS.code, le=LIMITS.code, allow_inf_nan=False)]
Bit = Annotated[int, Field(ge=0, le=1)]
Category = Annotated[int, Field(ge=0, le=999)]

RunKey = Annotated[str, PathParam(pattern=NAME, description="run index or the name the server gave it")]
Seed = Annotated[int, Query(ge=0, le=LIMITS.seed)]
Label = Annotated[int | None, Query(ge=0, le=999, description="class number (class-conditional models)")]
Attrs = Annotated[list[Bit] | None, Query(alias="attr", max_length=64, description="0/1 per attribute (attr-gan)")]
Steps = Annotated[int, Query(ge=2, le=LIMITS.steps)]


class MorphBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    a: list[Latent] = Field(min_length=1, max_length=4096)
    b: list[Latent] = Field(min_length=1, max_length=4096)
    steps: int = Field(8, ge=2, le=LIMITS.steps)
    slerp: bool = False
    label: int | None = Field(None, ge=0, le=999)


def _check_condition(run: ServedRun, label: int | None, attrs: list[int] | None) -> None:
    caps = run.caps
    if label is not None:
        if caps.classes is None:
            raise RequestError(f"{caps.model} is not class-conditional: it takes no label")
        if label >= len(caps.classes):
            raise RequestError(f"label must be a class number in 0..{len(caps.classes) - 1}, got {label}")
    if attrs is not None:
        if caps.attributes is None:
            raise RequestError(f"{caps.model} is not conditioned on attributes: it takes no attr")
        if len(attrs) != len(caps.attributes):
            raise RequestError(f"attr takes one 0/1 value per attribute ({', '.join(caps.attributes)}): "
                               f"{len(caps.attributes)} values, got {len(attrs)}")


def _need(run: ServedRun, what: str, ok: bool, why: str) -> None:
    if not ok:
        raise RequestError(f"{what} is not available for {run.caps.model}: {why}")


def _error_message(exc: RequestValidationError) -> str:
    parts = []
    errors = exc.errors()
    for err in errors[:3]:
        loc = [str(x) for x in err.get("loc", ()) if x not in ("query", "path", "body")]
        where = ".".join(loc) or "request"
        got = f" (got {str(err['input'])[:40]!r})" if "input" in err and not isinstance(err["input"], dict) else ""
        parts.append(f"{where}: {err.get('msg', 'invalid')}{got}")
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(parts) + more if parts else "invalid request"


def _png(data: bytes) -> Response:
    return Response(data, media_type="image/png", headers={"cache-control": "private, max-age=600"})


# ---- the app ---------------------------------------------------------------------------------------------
def create_app(runs: list[ServedRun], allowed_hosts: set[str] | None = None) -> FastAPI:
    """The app for `runs` (see `load_runs`); `allowed_hosts` limits the Host header (None: any)."""
    if not runs:
        raise RequestError("genzoo serve needs at least one run folder")
    page = resources.files("genzoo.serve").joinpath("static")
    index_html = page.joinpath("index.html").read_text(encoding="utf-8")
    static = {name: (page.joinpath(name).read_bytes(), kind) for name, kind in STATIC.items()}
    by_name = {r.name: r for r in runs}

    app = FastAPI(title="genzoo explorer", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(Guard, max_body=LIMITS.upload_bytes, allowed_hosts=allowed_hosts)

    @app.exception_handler(RequestError)
    async def request_error(request: Request, exc: RequestError):
        return JSONResponse({"error": str(exc)}, status_code=exc.status)

    @app.exception_handler(GenzooError)
    async def genzoo_error(request: Request, exc: GenzooError):
        return JSONResponse({"error": str(exc)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        return JSONResponse({"error": _error_message(exc)}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        message = exc.detail if exc.status_code != 404 else f"no such page: {request.url.path[:100]}"
        return JSONResponse({"error": str(message)}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception):  # a bug: the log has the traceback, the client a line
        return JSONResponse({"error": f"internal error ({type(exc).__name__}); the server's log has the details"},
                            status_code=500)

    def lookup(key: str) -> ServedRun:
        if key.isdigit() and int(key) < len(runs):
            return runs[int(key)]
        if key in by_name:
            return by_name[key]
        raise RequestError(f"no run {key[:64]!r} here: this server shows runs 0..{len(runs) - 1} "
                           f"({', '.join(by_name)[:300]})", 404)

    def image(run: ServedRun, draw, nrow: int | None = None) -> Response:
        with run.lock, torch.inference_mode():
            x = draw()
        return _png(explore.png(x, run.model.input_range, nrow))

    @app.get("/", response_class=HTMLResponse)
    def index():
        return HTMLResponse(index_html)

    @app.get("/static/{name}")
    def static_file(name: Annotated[str, PathParam(max_length=32)]):
        if name not in static:
            raise RequestError(f"no static file {name!r}", 404)
        data, kind = static[name]
        return Response(data, media_type=kind, headers={"cache-control": "no-cache"})

    @app.get("/api/runs")
    def list_runs():
        return {"runs": [r.info() for r in runs]}

    @app.get("/api/runs/{run}")
    def run_info(run: RunKey):
        return lookup(run).info()

    @app.get("/api/runs/{run}/grid.png")
    def grid(run: RunKey, seed: Seed = 0, n: Annotated[int, Query(ge=1, le=LIMITS.grid)] = 64,
             label: Label = None, attr: Attrs = None):
        r = lookup(run)
        _need(r, "a sample grid", r.caps.sample, "it cannot sample")
        _check_condition(r, label, attr)
        with r.lock, torch.inference_mode():
            x, nrow = explore.grid(r.model, seed, n, label, attr)
        return _png(explore.png(x, r.model.input_range, nrow))

    @app.get("/api/runs/{run}/explore.png")
    def explore_image(run: RunKey, seed: Seed = 0,
                      d: Annotated[list[Offset], Query(max_length=LIMITS.directions)] = [],  # noqa: B006
                      basis: Literal["pca", "raw"] = "pca", label: Label = None, attr: Attrs = None,
                      cat: Annotated[list[Category] | None, Query(max_length=16)] = None,
                      cont: Annotated[list[Code] | None, Query(max_length=16)] = None):
        r = lookup(run)
        caps = r.caps
        _need(r, "latent sliders", caps.sample and caps.directions > 0, "it has no latent space to sample")
        _check_condition(r, label, attr)
        if len(d) > caps.directions:
            raise RequestError(f"d takes at most {caps.directions} values (one per direction), got {len(d)}")
        if cat is not None or cont is not None:
            _need(r, "cat/cont", caps.codes is not None, "it has no latent codes (infogan has)")
            n_cat, k, n_cont = caps.codes["categorical"], caps.codes["values"], caps.codes["continuous"]
            if cat is not None and (len(cat) != n_cat or any(c >= k for c in cat)):
                raise RequestError(f"cat takes {n_cat} categorical code value(s) in 0..{k - 1}, got {cat}")
            if cont is not None and len(cont) != n_cont:
                raise RequestError(f"cont takes {n_cont} continuous code value(s), got {len(cont)}")

        def draw():
            dirs = r.directions(basis) if d else None
            return explore.explore(r.model, caps, dirs, seed, d, label, attr, cat, cont)

        return image(r, draw)

    @app.get("/api/runs/{run}/manifold.png")
    def manifold(run: RunKey, steps: Annotated[int, Query(ge=2, le=LIMITS.manifold)] = 15, label: Label = None):
        r = lookup(run)
        _need(r, "the manifold", r.caps.manifold, f"its latent has {r.caps.latent_dim} dimensions, not 2")
        _check_condition(r, label, None)
        return image(r, lambda: explore.manifold_map(r.model, steps, label)[0], nrow=steps)

    @app.get("/api/runs/{run}/point.png")
    def point(run: RunKey, u: Annotated[float, Query(ge=LIMITS.prob, le=1 - LIMITS.prob)] = 0.5,
              v: Annotated[float, Query(ge=LIMITS.prob, le=1 - LIMITS.prob)] = 0.5, label: Label = None):
        r = lookup(run)
        _need(r, "a manifold point", r.caps.manifold, f"its latent has {r.caps.latent_dim} dimensions, not 2")
        _check_condition(r, label, None)
        return image(r, lambda: explore.manifold_point(r.model, u, v, label))

    @app.get("/api/runs/{run}/interpolate.png")
    def interpolate(run: RunKey, a: Seed = 0, b: Seed = 1, steps: Steps = 8, slerp: bool = False,
                    label: Label = None, attr: Attrs = None):
        r = lookup(run)
        _need(r, "interpolation", r.caps.sample and r.caps.latent_dim > 0, "it has no latent space to sample")
        _check_condition(r, label, attr)
        return image(r, lambda: explore.interpolate(r.model, a, b, steps, slerp, label, attr), nrow=steps)

    @app.post("/api/runs/{run}/encode")
    async def encode(run: RunKey, request: Request, label: Label = None, invert: bool = False):
        r = lookup(run)
        _need(r, "encoding an image", r.caps.encode, "it has no encoder")
        _check_condition(r, label, None)
        data = await request.body()  # Guard has limited its size
        x = await run_in_threadpool(explore.read_upload, data, r.caps.image, invert)

        def work():
            with r.lock, torch.inference_mode():
                return explore.encode(r.model, x, label)

        return {"z": await run_in_threadpool(work)}

    @app.post("/api/runs/{run}/morph.png")
    def morph(run: RunKey, body: MorphBody):
        r = lookup(run)
        _need(r, "morphing", r.caps.latent_dim > 0, "it has no latent space")
        _check_condition(r, body.label, None)
        if len(body.a) != r.caps.latent_dim or len(body.b) != r.caps.latent_dim:
            raise RequestError(f"a and b must be latents of {r.caps.latent_dim} values (as /encode returns), "
                               f"got {len(body.a)} and {len(body.b)}")
        return image(r, lambda: explore.morph(r.model, body.a, body.b, body.steps, body.slerp, body.label),
                     nrow=body.steps)

    return app


def loopback_hosts(host: str) -> set[str] | None:
    """The Host headers a server bound to `host` accepts: loopback names for a loopback address (so that a
    web page elsewhere cannot reach it through DNS rebinding), any for other addresses."""
    return set(LOOPBACK) if host in LOOPBACK or host.startswith("127.") else None
