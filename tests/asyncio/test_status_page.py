"""The status page in a real headless browser: Debian's chromium driven by Selenium.

``lumora-fast serve`` runs as a subprocess on a real schema file; raw devices join over
loopback; the browser opens ``/`` and the test reads what a person would see. The QR
code is decoded from the browser's own screenshot of it (``zbarimg``). A screenshot of
the page is kept in ``test-artifacts/`` (gitignored).

chromium, chromium-driver and zbar-tools are Debian packages that ``.ci/run``
installs; without them these tests fail, they do not skip.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.wait import WebDriverWait
from websockets.asyncio.client import ClientConnection, connect

from tests.asyncio._helpers import message, receive, run
from tests.sessions._helpers import edit, make_schema

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
T = TypeVar("T")


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    assert chromium, "Debian's chromium is needed: apt-get install chromium (.ci/run does)"
    assert driver_path, "chromium-driver is needed: apt-get install chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1100",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        # DNS rebinding, simulated: a site's name that resolves to this machine.
        "--host-resolver-rules=MAP rebound.example 127.0.0.1",
    ):
        options.add_argument(argument)
    # An explicit driver: Selenium Manager would try to download one.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(15)
    try:
        yield driver
    finally:
        driver.quit()


async def in_thread(call: Callable[..., T], *args: Any) -> T:
    """Selenium blocks: call it off the event loop, which serves the page meanwhile."""
    return await asyncio.to_thread(call, *args)


def wait_for(driver: WebDriver, condition: Callable[[WebDriver], Any], timeout: float = 15) -> Any:
    # The page redraws its tables on every snapshot: an element read mid-redraw is stale,
    # and the next poll reads the new one.
    return WebDriverWait(
        driver, timeout, poll_frequency=0.05, ignored_exceptions=[StaleElementReferenceException]
    ).until(condition)


def text_of(driver: WebDriver, selector: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, selector).text)


def rows(driver: WebDriver, table: str) -> list[str]:
    return [r.text for r in driver.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr")]


class Serve:
    """``lumora-fast serve --json`` on a file, as a subprocess."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def line(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        async with asyncio.timeout(15):
            data = await self.process.stdout.readline()
        assert data, "serve exited"
        record: dict[str, Any] = json.loads(data)
        return record

    async def stop(self) -> int:
        if self.process.returncode is None:
            self.process.terminate()
        async with asyncio.timeout(10):
            return await self.process.wait()


async def start_serve(path: Path) -> Serve:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lumora_fast", "serve", str(path), "--port", "0", "--json",
        stdout=asyncio.subprocess.PIPE,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )  # fmt: skip
    return Serve(process)


async def join(url: str, session_id: str, device_id: str, name: str) -> ClientConnection:
    ws = await connect(url, proxy=None, compression=None)
    payload = {
        "deviceId": device_id,
        "platform": "ios",
        "deviceName": name,
        "clientVersion": "1.0.0",
    }
    await ws.send(message(session_id, "connect", payload))
    assert (await receive(ws))["type"] == "connected"
    return ws


async def ack_next(ws: ClientConnection, session_id: str) -> int:
    update = await receive(ws, timeout=10)
    sequence: int = update["payload"]["sequenceNumber"]
    await ws.send(message(session_id, "ack", {"sequenceNumber": sequence, "success": True}))
    return sequence


def decode_qr(png: bytes, tmp_path: Path) -> str:
    zbarimg = shutil.which("zbarimg")
    assert zbarimg, "zbarimg is needed: apt-get install zbar-tools (.ci/run does)"
    image = tmp_path / "qr.png"
    image.write_bytes(png)
    done = subprocess.run(
        [zbarimg, "--raw", "-q", str(image)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"no QR code found in the screenshot: {done.stderr}"
    return done.stdout.strip()


@run(timeout=90)
async def test_the_status_page_live(browser: WebDriver, tmp_path: Path) -> None:
    path = tmp_path / "app.json"
    schema = make_schema(count=10)
    path.write_text(json.dumps(schema), encoding="utf-8")
    serve = await start_serve(path)
    devices: list[ClientConnection] = []
    try:
        listening = await serve.line()
        url, session_id, status_url = (
            listening["url"],
            listening["session"],
            listening["status_url"],
        )
        await in_thread(browser.get, status_url)
        wait_for(browser, lambda d: d.find_element(By.ID, "live").text == "live")
        assert browser.title == "lumora-fast serve"
        assert browser.find_element(By.ID, "url").text == url
        assert browser.find_element(By.ID, "session").text == session_id

        # The QR code is an inline SVG, and a phone's camera would read the device URL.
        svg = wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#qr svg"))
        assert decode_qr(svg.screenshot_as_png, tmp_path) == url

        # Devices appear as they join, without a reload (the marker would be gone).
        browser.execute_script("window.notReloaded = true")
        assert rows(browser, "devices") == []
        devices.append(await join(url, session_id, "pixel-8", "Pixel 8"))
        await in_thread(wait_for, browser, lambda d: len(rows(d, "devices")) == 1)
        devices.append(await join(url, session_id, "iphone-15", "iPhone 15"))
        await in_thread(wait_for, browser, lambda d: len(rows(d, "devices")) == 2)
        table = rows(browser, "devices")
        assert table[0].startswith("Pixel 8 (pixel-8) ios")
        assert table[1].startswith("iPhone 15 (iphone-15) ios")
        assert browser.find_element(By.ID, "device-count").text == "2"

        # An edit on disk: the update row, then both acks.
        path.write_text(json.dumps(edit(schema, 4, "edited on disk")), encoding="utf-8")
        assert [await ack_next(ws, session_id) for ws in devices] == [1, 1]
        update_row = '#updates tr[data-sequence="1"]'
        await in_thread(wait_for, browser, lambda d: "2/2" in text_of(d, update_row))
        row = text_of(browser, update_row)
        assert row.startswith("#1 ")
        assert " 2 devices 2/2 " in f" {row} "
        await in_thread(
            wait_for,
            browser,
            lambda d: all("#1 " in r and " none " in r for r in rows(d, "devices")),
        )

        # A watcher error shows as it happens.
        path.write_text('{"nodes": [', encoding="utf-8")
        error = await in_thread(wait_for, browser, lambda d: text_of(d, "#errors li"))
        assert "app.json" in error
        assert browser.execute_script("return window.notReloaded") is True

        # The copy button answers (the clipboard, or the selection where it is refused).
        browser.find_element(By.ID, "copy").click()
        await in_thread(wait_for, browser, lambda d: d.find_element(By.ID, "copy").text == "Copied")

        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "status-page.png"))
        assert (ARTIFACTS / "status-page.png").stat().st_size > 10_000
    finally:
        for ws in devices:
            await ws.close()
        assert await serve.stop() == 0


@run(timeout=60)
async def test_a_rebound_site_name_gets_nothing(browser: WebDriver, tmp_path: Path) -> None:
    """A site whose name its owner pointed at this machine (DNS rebinding) is same-origin
    with the server in the browser's eyes: the Host check refuses it the page and the
    status; the server's own address still works, whatever ``?session=`` says (a
    loopback client needs no key)."""
    path = tmp_path / "app.json"
    path.write_text(json.dumps(make_schema()), encoding="utf-8")
    serve = await start_serve(path)
    try:
        port = (await serve.line())["port"]
        for page in ("/", "/status.json"):
            await in_thread(browser.get, f"http://rebound.example:{port}{page}")
            body = browser.find_element(By.TAG_NAME, "body").text
            assert "not an address of this server" in body
            assert "session" not in body
        await in_thread(browser.get, f"http://127.0.0.1:{port}/?session=nope")
        await in_thread(wait_for, browser, lambda d: text_of(d, "#live") == "live")
        assert text_of(browser, "#url").startswith(f"ws://127.0.0.1:{port}/ws?session=")
    finally:
        assert await serve.stop() == 0
