"""A real browser (headless Chromium) through sign-in and every page, the board served on loopback.

Scenario: November with a row on every page (tests/support/board.py `a_full_month`, without the bulletin);
刘洋 asks for a link, opens it from the mail in the outbox, clicks 登录 and sees the month at desktop width, then
every page at phone width (420 px), none of which may scroll sideways — screenshots kept with the test's files.
Then he answers a 诉求 holding markup (shown as text) in its form, and the answer waits in the outbox; the form
without its CSRF token is refused; signed out, his used link is refused; SC's contact signs in and GD's URLs
answer 404.
One browser for all of it: starting Chromium is the expensive part. SQLite only: what differs between the
databases is tested without a browser (test_board.py, test_pages.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as page
from selenium.webdriver.support.ui import WebDriverWait

from mailbot.app import App
from mailbot.db.models import RequestEvent
from tests.support.board import EVIL, SC_ASK, a_full_month, mailed_token
from tests.support.liveboard import chromium, serving
from tests.support.mailflow import GD, LIUYANG, SC, Clock, outbox, text

# Each page at 420 px with what must be on it.
PAGES = {
    "/month/2026-11/GD": "第1版（现行）",
    "/requests": "SQ-2026-0001",
    "/requests/SQ-2026-0001": "办理记录",
    "/customers": "S001",
    "/customers/S001": "下载客户档案",
    "/visits": "VIS-2026-0001",
    "/visits/VIS-2026-0001": "汇报材料准备",
    "/surveys": "MY-2026-01",
    "/campaigns": "TG-2026-01",
    "/bulletins": "重点客户月报",
    "/campaigns/TG-2026-01": "预计签约",   # last: its chart is looked at below
}
SIDEWAYS = "return document.documentElement.scrollWidth - document.documentElement.clientWidth"


def sign_in(driver: Any, wait: WebDriverWait[Any], base: str, app: App, address: str) -> None:
    """On the sign-in page: ask for a link, open it from the mail in the outbox, click 登录, land on the month."""
    driver.find_element(By.ID, "email").send_keys(address)
    driver.find_element(By.CSS_SELECTOR, "form.signin button").click()
    wait.until(page.presence_of_element_located((By.CSS_SELECTOR, "p.sent")))
    driver.get(f"{base}/signin/{mailed_token(app, address)}")
    wait.until(page.element_to_be_clickable((By.ID, "signin"))).click()
    wait.until(page.url_to_be(f"{base}/month"))


def request_history(app: App) -> str:
    with app.sessions() as s:
        return " ".join(str(e.detail) for e in s.scalars(select(RequestEvent)))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_signing_in_and_every_page_in_a_browser(app: App, clock: Clock, tmp_path: Path) -> None:
    a_full_month(app, clock, tmp_path, bulletin=False)
    driver = chromium()
    wait = WebDriverWait(driver, 15)  # a click returns before the next page has loaded; a busy machine is slow
    try:
        with serving(app) as base:
            driver.get(f"{base}/month")
            assert driver.current_url == f"{base}/signin"
            sign_in(driver, wait, base, app, LIUYANG[1])
            main = driver.find_element(By.TAG_NAME, "main").text
            assert "2026年11月月度报送" in main and "广东分公司" in main and "按时报送" in main
            # The stylesheet loaded under the CSP: the header bar has its colour.
            bar = driver.find_element(By.CSS_SELECTOR, "header.top").value_of_css_property("background-color")
            assert bar in ("rgba(11, 79, 138, 1)", "rgb(11, 79, 138)")
            driver.save_screenshot(str(tmp_path / "month-1280.png"))
            driver.set_window_size(420, 900)
            assert driver.execute_script(SIDEWAYS) <= 0, "/month"
            driver.save_screenshot(str(tmp_path / "month-420.png"))
            for path, expected in PAGES.items():
                driver.get(f"{base}{path}")
                assert expected in driver.find_element(By.TAG_NAME, "main").text, path
                assert driver.execute_script(SIDEWAYS) <= 0, f"{path} scrolls sideways at 420 px"
                driver.save_screenshot(str(tmp_path / f"{path.strip('/').replace('/', '-')}-420.png"))
            # The chart is a data: image the CSP lets through: it has a size once loaded.
            chart = driver.find_element(By.CSS_SELECTOR, "img.chart")
            assert driver.execute_script("return arguments[0].naturalWidth", chart) > 0

            # What GD wrote is shown as text: no script element, no <b> made of it.
            driver.get(f"{base}/requests/SQ-2026-0001")
            assert EVIL in driver.find_element(By.TAG_NAME, "main").text
            assert driver.find_elements(By.CSS_SELECTOR, "main script, main h1 b") == []
            # 刘洋 answers it in the form; the answer to GD's contact waits in the outbox, as a reply would make it.
            driver.find_element(By.ID, "answer").send_keys("已协调增加冬季保供气量。")
            driver.find_element(By.CSS_SELECTOR, "form.act button").click()
            wait.until(page.text_to_be_present_in_element((By.TAG_NAME, "main"), "已协调增加冬季保供气量。"))
            (answer,) = outbox(app, "req-answer:SQ-2026-0001")
            assert answer.recipients == GD[1] and "已协调增加冬季保供气量。" in text(answer)
            # The same form without its CSRF token (a forged cross-site post) is refused.
            driver.execute_script("document.querySelector('form.act input[name=csrf]').remove()")
            driver.find_element(By.ID, "note").send_keys("伪造")
            driver.find_element(By.CSS_SELECTOR, "form.act button").click()
            wait.until(page.text_to_be_present_in_element((By.TAG_NAME, "main"), "表单已失效"))
            assert len(outbox(app, "req-answer:SQ-2026-0001")) == 1 and "伪造" not in request_history(app)

            # Signed out, the link already used does not sign anyone in again.
            driver.find_element(By.CSS_SELECTOR, "form.signout button").click()
            wait.until(page.url_contains("/signin"))
            driver.get(f"{base}/signin/{mailed_token(app, LIUYANG[1])}")
            wait.until(page.element_to_be_clickable((By.ID, "signin"))).click()
            wait.until(page.text_to_be_present_in_element((By.TAG_NAME, "main"), "登录链接无效、已使用或已过期"))
            driver.get(f"{base}/month")
            assert driver.current_url == f"{base}/signin"
            # SC's contact signs in: GD's rows are not found, its own are.
            sign_in(driver, wait, base, app, SC[1])
            for path in ("/month/2026-11/GD", "/requests/SQ-2026-0001", "/customers/V002"):
                driver.get(f"{base}{path}")
                assert "页面不存在，或您无权查看。" in driver.find_element(By.TAG_NAME, "main").text, path
            driver.get(f"{base}/requests/SQ-2026-0002")
            assert SC_ASK in driver.find_element(By.TAG_NAME, "main").text
    finally:
        driver.quit()
