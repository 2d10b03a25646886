// genzoo explorer: plain JS, no build step. Every image is a GET of a PNG endpoint (morphs of uploads: a POST),
// so an <img> shows it; while one image loads, only the latest request for it waits (sliders do not flood the
// server). Each image carries data-state = loading | ready | error (the browser test waits on it).
"use strict";

const $ = (id) => document.getElementById(id);
let run = null; // the info of the run shown (GET /api/runs/RUN)
let upload = { a: null, b: null }; // latent codes of the uploaded images

function showError(message) {
  const el = $("error");
  el.textContent = message || "";
  el.hidden = !message;
}

async function errorOf(response) {
  try {
    return (await response.json()).error || response.statusText;
  } catch (e) {
    return `${response.status} ${response.statusText}`;
  }
}

function api(path, params) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === null || v === undefined) continue;
    for (const x of Array.isArray(v) ? v : [v]) qs.append(k, String(x));
  }
  const q = qs.toString();
  return `/api/runs/${encodeURIComponent(run.name)}/${path}${q ? "?" + q : ""}`;
}

// ---- images: one request in flight per <img>, the latest wins --------------------------------------------
function show(img, url) {
  if (img.dataset.url === url && img.dataset.state === "ready") return;
  img._pending = url;
  if (img.dataset.state !== "loading") next(img);
}

function next(img) {
  const url = img._pending;
  img._pending = null;
  if (url === null || url === undefined) return false;
  img.dataset.state = "loading";
  img.dataset.url = url;
  img.src = url;
  return true;
}

function watch(img) {
  img.addEventListener("load", () => {
    if (!next(img)) img.dataset.state = "ready";
  });
  img.addEventListener("error", async () => {
    const url = img.dataset.url;
    if (next(img)) return;
    img.dataset.state = "error";
    if (url && !url.startsWith("blob:")) showError(await errorOf(await fetch(url)));
  });
}

// ---- controls built from the run's capabilities -----------------------------------------------------------
function intValue(id, lo, hi, fallback) {
  const v = Math.round(Number($(id).value));
  if (!Number.isFinite(v) || v < lo || v > hi) {
    $(id).value = fallback;
    return fallback;
  }
  return v;
}

const SEED_MAX = 2147483647;

function condition() {
  const p = {};
  const checked = document.querySelector("input[name=label]:checked");
  if (run.classes && checked) p.label = Number(checked.value);
  if (run.attributes) p.attr = [...document.querySelectorAll("input[name=attr]")].map((x) => (x.checked ? 1 : 0));
  return p;
}

function build() {
  const caps = run;
  $("info").textContent = `${caps.model}, ${caps.image.join("x")} images` +
    (caps.latent_dim ? `, ${caps.latent_dim}-d latent` : "") + (caps.step != null ? `, step ${caps.step}` : "");
  const latent = caps.sample && caps.directions > 0;
  $("explore-section").hidden = !latent;
  $("grid-section").hidden = !caps.sample;
  $("manifold-section").hidden = !caps.manifold;
  $("interp-section").hidden = !latent;
  $("morph-section").hidden = !caps.encode;

  const sliders = $("sliders");
  sliders.replaceChildren();
  for (let i = 0; i < caps.directions; i++) {
    const row = document.createElement("label");
    row.className = "slider";
    row.append(`dir ${i + 1}`);
    const input = Object.assign(document.createElement("input"), {
      type: "range", min: -caps.limits.offset, max: caps.limits.offset, step: 0.1, value: 0,
      className: "direction", id: `dir-${i}`,
    });
    const out = document.createElement("output");
    out.textContent = "0.0";
    input.addEventListener("input", () => { out.textContent = Number(input.value).toFixed(1); refreshExplore(); });
    row.append(input, out);
    sliders.append(row);
  }

  const classes = $("classes");
  classes.replaceChildren();
  classes.hidden = !caps.classes;
  (caps.classes || []).forEach((name, i) => {
    const label = document.createElement("label");
    const input = Object.assign(document.createElement("input"), {
      type: "radio", name: "label", value: i, checked: i === 0, id: `class-${i}`,
    });
    input.addEventListener("change", refreshConditioned);
    label.append(input, name);
    classes.append(label);
  });

  const attrs = $("attrs");
  attrs.replaceChildren();
  attrs.hidden = !caps.attributes;
  (caps.attributes || []).forEach((name, i) => {
    const label = document.createElement("label");
    const input = Object.assign(document.createElement("input"), { type: "checkbox", name: "attr", id: `attr-${i}` });
    input.addEventListener("change", refreshConditioned);
    label.append(input, name);
    attrs.append(label);
  });

  const codes = $("codes");
  codes.replaceChildren();
  codes.hidden = !caps.codes;
  if (caps.codes) {
    for (let j = 0; j < caps.codes.categorical; j++) {
      const box = document.createElement("div");
      box.className = "toggles";
      box.append(`categorical code ${j + 1}:`);
      for (let v = 0; v < caps.codes.values; v++) {
        const label = document.createElement("label");
        const input = Object.assign(document.createElement("input"), {
          type: "radio", name: `cat-${j}`, value: v, checked: v === 0, className: "cat",
        });
        input.addEventListener("change", refreshExplore);
        label.append(input, String(v));
        box.append(label);
      }
      codes.append(box);
    }
    for (let j = 0; j < caps.codes.continuous; j++) {
      const row = document.createElement("label");
      row.className = "slider";
      row.append(`code c${j + 1}`);
      const input = Object.assign(document.createElement("input"), {
        type: "range", min: -2, max: 2, step: 0.1, value: 0, className: "cont",
      });
      const out = document.createElement("output");
      out.textContent = "0.0";
      input.addEventListener("input", () => { out.textContent = Number(input.value).toFixed(1); refreshExplore(); });
      row.append(input, out);
      codes.append(row);
    }
  }
  // conditional models: 10 images a class, one class a column
  $("grid-n").value = caps.classes && caps.classes.length === 10 ? "100" : "64";
  upload = { a: null, b: null };
  $("morph-go").disabled = true;
}

// ---- what each panel asks for -----------------------------------------------------------------------------
function refreshExplore() {
  if ($("explore-section").hidden) return;
  const d = [...document.querySelectorAll("input.direction")].map((x) => Number(x.value));
  while (d.length && d[d.length - 1] === 0) d.pop(); // trailing zeros change nothing
  const p = { seed: intValue("explore-seed", 0, SEED_MAX, 0), d, basis: $("basis").value, ...condition() };
  if (run.codes) {
    p.cat = [];
    for (let j = 0; j < run.codes.categorical; j++) {
      p.cat.push(Number(document.querySelector(`input[name=cat-${j}]:checked`).value));
    }
    p.cont = [...document.querySelectorAll("input.cont")].map((x) => Number(x.value));
  }
  show($("explore"), api("explore.png", p));
}

function refreshGrid() {
  if ($("grid-section").hidden) return;
  const p = { seed: intValue("grid-seed", 0, SEED_MAX, 0), n: Number($("grid-n").value) };
  if (run.attributes) p.attr = condition().attr;
  show($("grid"), api("grid.png", p));
}

function refreshInterp() {
  if ($("interp-section").hidden) return;
  show($("interp"), api("interpolate.png", {
    a: intValue("interp-a", 0, SEED_MAX, 0), b: intValue("interp-b", 0, SEED_MAX, 1),
    steps: intValue("interp-steps", 2, run.limits.steps, 10), slerp: $("interp-slerp").checked, ...condition(),
  }));
}

let mapPoint = { u: 0.5, v: 0.5 };

function refreshManifold() {
  if ($("manifold-section").hidden) return;
  const label = condition().label;
  show($("manifold-map"), api("manifold.png", { steps: 15, label }));
  show($("manifold-point"), api("point.png", { ...mapPoint, label }));
  const marker = $("marker");
  marker.style.left = `${mapPoint.u * 100}%`;
  marker.style.top = `${(1 - mapPoint.v) * 100}%`;
}

function refreshConditioned() {
  refreshExplore();
  refreshInterp();
  refreshManifold();
  if (run.attributes) refreshGrid();
}

function refreshAll() {
  showError("");
  refreshExplore();
  refreshGrid();
  refreshManifold();
  refreshInterp();
}

// ---- uploads: encode each image, then morph between the two codes -----------------------------------------
async function encodeFile(which) {
  const file = $(`upload-${which}`).files[0];
  upload[which] = null;
  $("morph-go").disabled = true;
  if (!file) return;
  if (file.size > run.limits.upload_bytes) {
    showError(`${file.name} has ${file.size} bytes; the limit is ${run.limits.upload_bytes}`);
    return;
  }
  const params = { invert: $("invert").checked, label: condition().label };
  const response = await fetch(api("encode", params), { method: "POST", body: file });
  if (!response.ok) {
    showError(await errorOf(response));
    return;
  }
  upload[which] = (await response.json()).z;
  showError("");
  $("morph-go").disabled = !(upload.a && upload.b);
}

async function morph() {
  const img = $("morph");
  img.dataset.state = "loading";
  const body = { a: upload.a, b: upload.b, steps: 10, label: condition().label ?? null };
  const response = await fetch(api("morph.png", {}), {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
  });
  if (!response.ok) {
    img.dataset.state = "error";
    showError(await errorOf(response));
    return;
  }
  if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
  img.dataset.url = "";
  img.src = URL.createObjectURL(await response.blob());
}

// ---- wiring ----------------------------------------------------------------------------------------------
async function selectRun(key) {
  const response = await fetch(`/api/runs/${encodeURIComponent(key)}`);
  if (!response.ok) {
    showError(await errorOf(response));
    return;
  }
  run = await response.json();
  build();
  refreshAll();
}

function randomSeed() {
  return Math.floor(Math.random() * 100000);
}

async function main() {
  for (const id of ["explore", "grid", "interp", "manifold-map", "manifold-point", "morph"]) watch($(id));
  const response = await fetch("/api/runs");
  if (!response.ok) {
    showError(await errorOf(response));
    return;
  }
  const runs = (await response.json()).runs;
  for (const r of runs) $("run").append(new Option(`${r.index}: ${r.name} (${r.model})`, r.name));
  const wanted = new URLSearchParams(location.search).get("run");
  const first = runs.find((r) => r.name === wanted || String(r.index) === wanted) || runs[0];
  $("run").value = first.name;
  $("run").addEventListener("change", () => selectRun($("run").value));

  $("explore-seed").addEventListener("change", refreshExplore);
  $("explore-new").addEventListener("click", () => { $("explore-seed").value = randomSeed(); refreshExplore(); });
  $("basis").addEventListener("change", refreshExplore);
  $("reset").addEventListener("click", () => {
    for (const x of document.querySelectorAll("input.direction")) {
      x.value = 0;
      x.nextElementSibling.textContent = "0.0";
    }
    refreshExplore();
  });
  $("grid-seed").addEventListener("change", refreshGrid);
  $("grid-n").addEventListener("change", refreshGrid);
  $("grid-new").addEventListener("click", () => { $("grid-seed").value = randomSeed(); refreshGrid(); });
  for (const id of ["interp-a", "interp-b", "interp-steps", "interp-slerp"]) $(id).addEventListener("change", refreshInterp);

  const box = $("map-box");
  const pick = (event) => {
    const rect = box.getBoundingClientRect();
    const clamp = (x) => Math.min(run.limits.prob > 0 ? 1 - run.limits.prob : 1, Math.max(run.limits.prob, x));
    mapPoint = {
      u: Number(clamp((event.clientX - rect.left) / rect.width).toFixed(4)),
      v: Number(clamp(1 - (event.clientY - rect.top) / rect.height).toFixed(4)),
    };
    refreshManifold();
  };
  box.addEventListener("pointerdown", (event) => { box.setPointerCapture(event.pointerId); pick(event); });
  box.addEventListener("pointermove", (event) => { if (event.buttons) pick(event); });

  $("upload-a").addEventListener("change", () => encodeFile("a"));
  $("upload-b").addEventListener("change", () => encodeFile("b"));
  $("invert").addEventListener("change", () => { encodeFile("a"); encodeFile("b"); });
  $("morph-go").addEventListener("click", morph);
  await selectRun(first.name);
}

main();
