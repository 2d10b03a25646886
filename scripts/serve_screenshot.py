"""Take the README's screenshot of `genzoo serve` (docs/serve.png) in headless Chromium.

Serves the given run folders (default: trains a conditional DCGAN on mnist-mini for --minutes), opens
the explorer on the first run, moves the first latent slider and picks a class, and saves the page as a
palette PNG (a few tens of KB). Needs Debian's chromium + chromium-driver and selenium, like
tests/serve/test_browser.py.

    flock /tmp/genzoo-heavy.lock python scripts/serve_screenshot.py                    # trains ~3 minutes
    python scripts/serve_screenshot.py runs/cdcgan-mnist-mini-... --out docs/serve.png
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def train(folder: Path, minutes: float) -> Path:
    out = folder / "cdcgan"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "genzoo", "train", "cdcgan", "--out", str(out), "--quiet",
                    "--set", f"train.max_minutes={minutes}"], check=True, env=env, cwd=ROOT)
    return out


def screenshot(runs: list[Path], out: Path, label: int = 3, steps: int = 12) -> None:
    from PIL import Image
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    from genzoo.serve.app import create_app, load_runs, loopback_hosts
    from genzoo.serve.server import BackgroundServer

    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1100,1000", "--force-device-scale-factor=1"):
        opts.add_argument(arg)
    app = create_app(load_runs(runs), allowed_hosts=loopback_hosts("127.0.0.1"))
    with BackgroundServer(app) as url:
        driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=opts)
        try:
            driver.get(f"{url}/?run=0")

            def settled(d):
                imgs = d.find_elements(By.CSS_SELECTOR, "img[data-state]")
                return imgs and all(i.get_attribute("data-state") == "ready" for i in imgs if i.is_displayed())

            WebDriverWait(driver, 60).until(settled)
            driver.find_element(By.ID, "dir-0").send_keys(*[Keys.ARROW_RIGHT] * steps)
            driver.find_element(By.CSS_SELECTOR, f"label:has(> #class-{label})").click()
            WebDriverWait(driver, 60).until(lambda d: f"label={label}" in d.find_element(By.ID, "explore")
                                            .get_attribute("src"))
            WebDriverWait(driver, 60).until(settled)
            png = driver.get_screenshot_as_png()
        finally:
            driver.quit()
    im = Image.open(io.BytesIO(png)).convert("RGB").quantize(96, method=Image.Quantize.FASTOCTREE)
    out.parent.mkdir(parents=True, exist_ok=True)
    im.save(out, optimize=True)
    print(f"wrote {out} ({out.stat().st_size // 1024} KB)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="*", type=Path, help="run folders (default: train a cdcgan)")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "serve.png")
    p.add_argument("--minutes", type=float, default=3.0, help="training time of the default cdcgan")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        screenshot(args.runs or [train(Path(tmp), args.minutes)], args.out)


if __name__ == "__main__":
    main()
