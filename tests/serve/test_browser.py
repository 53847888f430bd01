"""The page in a real browser: Debian's headless Chromium driven by Selenium, against a live
uvicorn server on the debug model. Skipped, with the reason, only where Chromium is absent.

`MSGLD_SCREENSHOT=path.png` also saves the screenshot of the finished page there (the README's)."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import urllib.request
import zipfile

import numpy as np
import pytest
import soundfile as sf

from msgld.audio.io import load_audio
from tests.serve.conftest import STEMS, wav_bytes

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="headless Chromium is not installed (Debian: apt-get install chromium chromium-driver; "
           "scripts/setup.sh installs them when run as root)")

DROP = """
const [b64, name, target] = arguments;
const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const dt = new DataTransfer();
dt.items.add(new File([bytes], name, {type: "audio/wav"}));
document.querySelector(target).dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
"""

INKED = """
const c = arguments[0], g = c.getContext("2d");
const px = g.getImageData(0, 0, c.width, c.height).data;
let n = 0;
for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
return [n, c.width * c.height];
"""


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed: pip install -e '.[dev]'")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1100,980", "--autoplay-policy=no-user-gesture-required", "--mute-audio"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_script_timeout(30)
    yield driver
    driver.quit()


def wait(driver, condition, timeout=60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)


def errors_shown(driver) -> str:
    box = driver.find_element("id", "error")
    return box.text if box.is_displayed() else ""


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as r:
        assert r.status == 200
        return r.read()


def test_drop_a_song_see_the_stems_and_download_them(browser, live_server, tmp_path):
    server = live_server()
    browser.get(server.url + "/")
    wait(browser, lambda d: "stems: bass, drums, guitar, piano" in d.find_element("id", "model").text)
    song = wav_bytes(2.0, sr=22050, channels=2)
    browser.execute_script(DROP, base64.b64encode(song).decode(), "my song.wav", "#drop")
    assert "my song.wav" in browser.find_element("id", "sep-name").text
    browser.find_element("id", "sep-steps").send_keys("2")
    browser.find_element("id", "sep-go").click()
    wait(browser, lambda d: d.find_element("id", "results").get_attribute("data-ready") == "true" or errors_shown(d))
    assert errors_shown(browser) == ""
    rows = browser.find_elements("css selector", "#stems .stem")
    assert [r.get_attribute("data-stem") for r in rows] == STEMS
    assert all(r.get_attribute("data-ready") == "true" for r in rows)  # the browser decoded every stem
    for row in rows:
        inked, total = browser.execute_script(INKED, row.find_element("tag name", "canvas"))
        assert total > 0 and inked > total // 50, row.get_attribute("data-stem")  # a waveform was drawn
    assert "100%" in browser.find_element("id", "bar-fill").get_attribute("style")
    assert not browser.find_element("id", "cancel").is_displayed()  # nothing left to cancel

    # every download link works and gives the stem the server wrote
    waves = []
    for row in rows:
        href = row.find_element("css selector", "a.download").get_attribute("href")
        assert href.startswith(server.url) and href.endswith(f"/files/{row.get_attribute('data-stem')}.wav")
        wave, sr = sf.read(io.BytesIO(fetch(href)))
        assert sr == 16000 and wave.shape == (32000,)
        waves.append(wave)
    (tmp_path / "in.wav").write_bytes(song)
    assert np.abs(np.sum(waves, 0) - load_audio(tmp_path / "in.wav")).max() < 1e-4  # the stems sum to the input
    with zipfile.ZipFile(io.BytesIO(fetch(browser.find_element("id", "zip").get_attribute("href")))) as z:
        assert sorted(z.namelist()) == sorted([f"{s}.wav" for s in STEMS] + ["run.json"])

    # solo and mute in the browser's mixer
    bass = rows[0]
    bass.find_element("css selector", "button.solo").click()
    silent = [r.get_attribute("data-stem") for r in rows if "silent" in r.get_attribute("class")]
    assert silent == ["drums", "guitar", "piano"]
    bass.find_element("css selector", "button.solo").click()
    rows[1].find_element("css selector", "button.mute").click()
    silent = [r.get_attribute("data-stem") for r in rows if "silent" in r.get_attribute("class")]
    assert silent == ["drums"]
    browser.find_element("id", "play").click()
    wait(browser, lambda d: d.find_element("id", "play").text == "Pause", 10)
    browser.find_element("id", "play").click()
    rows[1].find_element("css selector", "button.mute").click()

    # the re-mix is rendered in the browser as a WAV
    remix = browser.execute_async_script("""
        const done = arguments[0];
        const orig = HTMLAnchorElement.prototype.click;
        HTMLAnchorElement.prototype.click = function () {
          HTMLAnchorElement.prototype.click = orig;
          fetch(this.href).then((r) => r.arrayBuffer()).then((b) => done([this.download, b.byteLength]));
        };
        document.getElementById("remix").click();
        setTimeout(() => done(["timeout", document.getElementById("error").textContent]), 20000);
    """)
    assert remix[0] == "remix.wav" and remix[1] > 44

    shot = tmp_path / "page.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("MSGLD_SCREENSHOT"):
        shutil.copy(shot, os.environ["MSGLD_SCREENSHOT"])


def test_errors_appear_on_the_page_in_words(browser, live_server, tmp_path):
    server = live_server(max_upload_mb=0.05)
    browser.get(server.url + "/")
    wait(browser, lambda d: "uploads up to 0.05 MB" in d.find_element("id", "model").text)

    garbage = tmp_path / "notes.wav"
    garbage.write_bytes(b"this is not audio at all" * 20)
    browser.find_element("id", "sep-file").send_keys(str(garbage))  # the file picker
    browser.find_element("id", "sep-go").click()
    wait(browser, errors_shown)
    assert "notes.wav: unreadable audio" in errors_shown(browser)

    big = tmp_path / "big.wav"
    big.write_bytes(wav_bytes(3.0))  # 96 kB: over the limit, refused before it is sent
    browser.find_element("id", "sep-file").send_keys(str(big))
    browser.find_element("id", "sep-go").click()
    wait(browser, lambda d: "big.wav is 0.1 MB" in errors_shown(d))

    browser.find_element("css selector", '.tab[data-tab="generate"]').click()
    duration = browser.find_element("id", "gen-duration")
    duration.clear()
    duration.send_keys("1000")
    browser.find_element("id", "gen-go").click()
    wait(browser, lambda d: "duration must be more than 0 and at most 120 s" in errors_shown(d))
    assert fetch(server.url + "/api/health")


def test_generate_and_arrange_tabs(browser, live_server, tmp_path):
    server = live_server()
    browser.get(server.url + "/")
    wait(browser, lambda d: d.find_elements("css selector", ".arr-row"))
    browser.find_element("css selector", '.tab[data-tab="generate"]').click()
    duration = browser.find_element("id", "gen-duration")
    duration.clear()
    duration.send_keys("1.5")
    browser.find_element("id", "gen-steps").send_keys("2")
    browser.find_element("id", "gen-go").click()
    wait(browser, lambda d: d.find_element("id", "results").get_attribute("data-ready") == "true" or errors_shown(d))
    assert errors_shown(browser) == ""
    assert [r.get_attribute("data-stem") for r in browser.find_elements("css selector", "#stems .stem")] == STEMS
    assert browser.find_element("css selector", '#extra a[data-file="mix.wav"]')

    browser.find_element("css selector", '.tab[data-tab="arrange"]').click()
    browser.execute_script(DROP, base64.b64encode(wav_bytes(1.5)).decode(), "drums.wav", '.arr-row[data-stem="drums"]')
    drums = browser.find_element("css selector", '.arr-row[data-stem="drums"]')
    assert drums.find_element("css selector", ".file").text.startswith("drums.wav (")
    assert not drums.find_element("css selector", ".gen").is_selected()
    bass_file = tmp_path / "bass line.wav"
    bass_file.write_bytes(wav_bytes(1.0, seed=5))
    bass = browser.find_element("css selector", '.arr-row[data-stem="bass"]')
    bass.find_element("css selector", "input[type=file]").send_keys(str(bass_file))  # the picker
    bass.find_element("css selector", ".clear").click()  # changed our mind: the model writes the bass
    assert bass.find_element("css selector", ".file").text == "no file given"
    assert bass.find_element("css selector", ".gen").is_selected()
    browser.find_element("css selector", '.arr-row[data-stem="piano"] .gen').click()  # piano stays silent
    browser.find_element("id", "arr-steps").send_keys("2")
    browser.find_element("id", "arr-go").click()
    wait(browser, lambda d: d.find_element("id", "results").get_attribute("data-ready") == "true" or errors_shown(d))
    assert errors_shown(browser) == ""
    record = json.loads(fetch(browser.find_element("css selector", '#extra a[data-file="run.json"]').get_attribute("href")))
    assert record["given"] == {"drums": "drums.wav"} and record["generated"] == ["bass", "guitar"]
