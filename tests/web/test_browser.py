"""A real browser (headless Chromium) through sign-in and the month page, the board served on loopback.

Scenario: GD has reported on 11月18日; 刘洋 asks for a link, opens it from the mail in the outbox, clicks 登录 and
sees the month — at desktop and phone width (screenshots kept with the test's files).
"""

from __future__ import annotations

from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as page
from selenium.webdriver.support.ui import WebDriverWait

from mailbot.app import App
from tests.support.board import mailed_token
from tests.support.liveboard import chromium, serving
from tests.support.mailflow import LIUYANG, NEEDS_HQ, report


def test_signing_in_and_the_month_page_in_a_browser(app: App, clock, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    clock.set(2026, 11, 18, 10)
    report(app, NEEDS_HQ)
    driver = chromium()
    wait = WebDriverWait(driver, 15)  # a click returns before the next page has loaded; a busy machine is slow
    try:
        with serving(app) as base:
            driver.get(f"{base}/month")
            assert driver.current_url == f"{base}/signin"
            driver.find_element(By.ID, "email").send_keys(LIUYANG[1])
            driver.find_element(By.CSS_SELECTOR, "form.signin button").click()
            wait.until(page.presence_of_element_located((By.CSS_SELECTOR, "p.sent")))
            driver.get(f"{base}/signin/{mailed_token(app, LIUYANG[1])}")
            wait.until(page.element_to_be_clickable((By.ID, "signin"))).click()
            wait.until(page.url_to_be(f"{base}/month"))
            main = driver.find_element(By.TAG_NAME, "main").text
            assert "2026年11月月度报送" in main and "广东分公司" in main and "按时报送" in main
            # The stylesheet loaded under the CSP: the header bar has its colour.
            bar = driver.find_element(By.CSS_SELECTOR, "header.top").value_of_css_property("background-color")
            assert bar in ("rgba(11, 79, 138, 1)", "rgb(11, 79, 138)")
            driver.save_screenshot(str(tmp_path / "month-1280.png"))
            driver.set_window_size(420, 900)
            driver.save_screenshot(str(tmp_path / "month-420.png"))
            driver.get(f"{base}/requests")
            assert "SQ-2026-0001" in driver.find_element(By.TAG_NAME, "main").text
    finally:
        driver.quit()
