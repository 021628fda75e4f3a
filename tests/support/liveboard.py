"""The board served for real on loopback (uvicorn in a thread), and a headless Chromium driven by Selenium.

Only 127.0.0.1, on a port the kernel picks; start and stop are bounded in time. Where Chromium's driver is
absent the test is skipped with the reason — except in CI, where that is a failure (`make test` installs it).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn

from mailbot.app import App
from mailbot.web.site import create_app
from tests.servers.ports import free_port
from tests.support.board import SECRET

START_SECONDS = 10


@contextmanager
def serving(app: App) -> Iterator[str]:
    """The board on http://127.0.0.1:<port> until the block ends; yields that base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(app, secret=SECRET), host="127.0.0.1", port=port,
                                          log_level="warning", access_log=False, proxy_headers=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_SECONDS
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the board did not start on 127.0.0.1")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(START_SECONDS)


def chromium() -> Any:
    """A headless Chromium through its driver, or the test skipped (failed in CI) with the reason."""
    driver_path = shutil.which("chromedriver")
    browser = shutil.which("chromium")
    if driver_path is None or browser is None:
        reason = "chromium and chromium-driver (Debian) are needed for the browser tests"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-proxy-server", "--window-size=1280,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(20)
    return driver
