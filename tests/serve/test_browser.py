"""The explorer in a real browser: headless Chromium (Debian's `chromium` + `chromium-driver`) driven by
selenium against the real server (uvicorn on a loopback port). The page loads, moving a latent slider
changes the image, a class toggle changes the digit, and a screenshot is saved (to $GENZOO_SERVE_SCREENSHOT
when set; the README's docs/serve.png comes from scripts/serve_screenshot.py); clicking the 2-D manifold
moves the decoded point; two uploaded images are morphed.

Skipped, with the reason, where no browser is installed; with CI_REQUIRE_BROWSER=1 (set by .ci/run) a
missing browser is a failure instead.
"""

from __future__ import annotations

import os
import shutil
import urllib.request
from pathlib import Path

import pytest

from tests.serve.conftest import NEEDS

pytest.importorskip("fastapi", reason=NEEDS)
pytest.importorskip("uvicorn", reason=NEEDS)

from genzoo.serve.app import create_app, loopback_hosts  # noqa: E402
from genzoo.serve.server import BackgroundServer  # noqa: E402

INSTALL = ("install headless Chromium and its driver (Debian: apt-get install chromium chromium-driver) and "
           "selenium (pip install -e '.[test]')")
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def _missing(what: str):
    message = f"no browser test: {what}; {INSTALL}"
    if os.environ.get("CI_REQUIRE_BROWSER") == "1":
        pytest.fail(message + " (CI_REQUIRE_BROWSER=1: the browser test must run)")
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed")
    binary = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        _missing(f"{'chromium' if binary is None else 'chromedriver'} is not on PATH")
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900", "--force-device-scale-factor=1"):
        opts.add_argument(arg)
    # the driver is given: selenium never looks for (or downloads) one
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def url(served):
    with BackgroundServer(create_app(served, allowed_hosts=loopback_hosts("127.0.0.1"))) as base:
        yield base


def _ready(browser, img_id: str, previous: str | None = None, timeout: float = 60) -> str:
    """Wait until image `img_id` has loaded (another URL than `previous`); its URL."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def done(d):
        img = d.find_element(By.ID, img_id)
        state, src = img.get_attribute("data-state"), img.get_attribute("src")
        if state == "error":
            raise AssertionError(f"{img_id} failed to load: {d.find_element(By.ID, 'error').text}")
        return src if state == "ready" and src and src != previous else False

    return WebDriverWait(browser, timeout).until(done)


def _bytes(src: str) -> bytes:
    with urllib.request.urlopen(src, timeout=30) as r:
        assert r.headers["content-type"] == "image/png"
        return r.read()


def test_page_slider_class_toggle_and_screenshot(browser, url, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(f"{url}/?run=1")  # the conditional GAN
    assert browser.title == "genzoo explorer"
    src = _ready(browser, "explore")
    _ready(browser, "grid")
    assert "label=0" in src and browser.find_element(By.ID, "error").get_attribute("hidden") is not None
    sliders = browser.find_elements(By.CSS_SELECTOR, "input.direction")
    assert len(sliders) == 8 and len(browser.find_elements(By.CSS_SELECTOR, "input[name=label]")) == 10
    before = _bytes(src)

    # moving the first slider (keyboard, as a person would) changes the image
    sliders[0].send_keys(*[Keys.ARROW_RIGHT] * 15)
    assert sliders[0].get_attribute("value") == "1.5"
    moved = _ready(browser, "explore", previous=src)
    assert "d=1.5" in moved
    after_slider = _bytes(moved)
    assert after_slider != before

    # a class toggle changes the digit
    browser.find_element(By.CSS_SELECTOR, "label:has(> #class-7)").click()
    toggled = _ready(browser, "explore", previous=moved)
    assert "label=7" in toggled and "d=1.5" in toggled
    assert _bytes(toggled) not in (before, after_slider)

    shot = Path(os.environ.get("GENZOO_SERVE_SCREENSHOT") or tmp_path / "explorer.png")
    assert browser.save_screenshot(str(shot))
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000


def test_manifold_click_moves_the_point(browser, url):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    browser.get(f"{url}/?run=2")  # the 2-D VAE
    _ready(browser, "manifold-map")
    src = _ready(browser, "manifold-point")
    box = browser.find_element(By.ID, "map-box")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", box)
    ActionChains(browser).move_to_element_with_offset(box, -100, 80).click().perform()  # left of, below the centre
    moved = _ready(browser, "manifold-point", previous=src)
    u, v = (float(moved.split(f"{k}=")[1].split("&")[0]) for k in ("u", "v"))
    assert u < 0.5 and v < 0.5
    assert _bytes(moved) != _bytes(src)


def test_morph_between_two_uploaded_images(browser, url, tmp_path):
    from PIL import Image
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    paths = []
    for name, box in (("a.png", (8, 4, 20, 24)), ("b.png", (4, 10, 24, 18))):  # a bar, then a wide block
        im = Image.new("L", (28, 28), 0)
        im.paste(255, box)
        im.save(tmp_path / name)
        paths.append(tmp_path / name)
    browser.get(f"{url}/?run=2")  # the 2-D VAE: it has an encoder
    _ready(browser, "explore")
    browser.find_element(By.ID, "upload-a").send_keys(str(paths[0]))
    browser.find_element(By.ID, "upload-b").send_keys(str(paths[1]))
    button = browser.find_element(By.ID, "morph-go")
    WebDriverWait(browser, 30).until(lambda d: button.is_enabled())
    button.click()
    _ready(browser, "morph")
    size = browser.execute_script("const i = document.getElementById('morph'); "
                                  "return [i.naturalWidth, i.naturalHeight]")
    assert size == [10 * 30 + 2, 32]  # 10 steps of 28 px
