"""End to end: headless Chromium loads the search page from a live server on 127.0.0.1,
searches, and sees highlighted results, the category facet and paging; screenshots are
saved next to the test's temporary index."""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

import searchlib

from .conftest import ARTICLES
from .test_collapse import copies_of_seed, others

uvicorn = pytest.importorskip("uvicorn")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="Chromium and chromedriver are not installed (Debian: apt-get install chromium "
    "chromium-driver; .ci/run does this)",
)


NOW = datetime.now(timezone.utc)


@contextlib.contextmanager
def serving(index: searchlib.Index):
    """``index`` served on 127.0.0.1 (the address yielded) until the block ends."""
    from searchlib.server import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(index), host="127.0.0.1", port=port, log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not instance.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        instance.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def server(tmp_path):
    index = searchlib.Index.create(tmp_path / "ix")
    index.add(
        ARTICLES
        + [
            {
                "id": f"x{i}",
                "title": f"Pemerintah dan warga {i}",
                "body": "Pemerintah membantu warga.",
                "category": "nasional",
                # The last is the newest: the first hit when recency is on.
                "published": (NOW - timedelta(days=30 * (12 - i))).isoformat(),
            }
            for i in range(12)
        ]
    )
    with serving(index) as address:
        yield address
    index.close()


@pytest.fixture
def browser():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=420,900",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


def _wait(condition, timeout: float = 30.0):
    # Generous: one wait of 10 s timed out once in a full suite (not reproduced since).
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for the page")


def test_search_page_end_to_end(server, browser, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(server)
    box = browser.find_element(By.ID, "q")
    box.send_keys("pembangunan jalan")
    browser.find_element(By.CSS_SELECTOR, "form button").click()
    hits = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "li.hit"))
    assert "Bekasi" in hits[0].text
    marks = [m.text for m in browser.find_elements(By.CSS_SELECTOR, "li.hit mark")]
    assert "Pembangunan" in marks and "membangun" in marks
    title_marks = browser.find_elements(By.CSS_SELECTOR, "li.hit h2 mark")
    assert title_marks  # the title is highlighted too
    meta = browser.find_element(By.ID, "meta").text
    assert re.search(r"\(\d+ ms\)", meta), meta  # whole milliseconds
    browser.save_screenshot(str(tmp_path / "search.png"))

    box.clear()
    box.send_keys("pemerintah")
    browser.find_element(By.CSS_SELECTOR, "form button").click()
    _wait(
        lambda: (
            "hasil" in browser.find_element(By.ID, "meta").text
            and browser.find_elements(By.CSS_SELECTOR, "#facets button")
        )
    )
    assert not browser.find_element(By.ID, "next").get_attribute("hidden")
    facet = next(
        b
        for b in browser.find_elements(By.CSS_SELECTOR, "#facets button")
        if b.get_attribute("data-category") == "ekonomi"
    )
    facet.click()
    _wait(lambda: browser.find_element(By.ID, "meta").text.startswith("2 hasil"))
    pressed = browser.find_element(By.CSS_SELECTOR, "#facets button[aria-pressed=true]")
    assert pressed.get_attribute("data-category") == "ekonomi"
    assert "category=ekonomi" in browser.current_url
    browser.save_screenshot(str(tmp_path / "facet.png"))

    box = browser.find_element(By.ID, "q")
    box.clear()
    box.send_keys("pemerintahh")
    browser.find_element(By.CSS_SELECTOR, "form button").click()
    link = _wait(lambda: browser.find_elements(By.ID, "suggest-link"))
    assert link[0].text == "pemerintah"
    link[0].click()
    _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "li.hit"))

    # The recency toggle: equally relevant articles, the newest first.
    box = browser.find_element(By.ID, "q")
    box.clear()
    box.send_keys("warga membantu")
    browser.find_element(By.CSS_SELECTOR, "form button").click()
    first = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "li.hit h2"))[0].text
    assert first == "Pemerintah dan warga 0", first
    browser.find_element(By.ID, "fresh").click()
    _wait(
        lambda: (
            [h.text for h in browser.find_elements(By.CSS_SELECTOR, "li.hit h2")][:1]
            == ["Pemerintah dan warga 11"]
        )
    )
    assert browser.find_element(By.ID, "fresh").get_attribute("aria-pressed") == "true"
    assert "fresh=1" in browser.current_url
    print(f"\nbrowser test screenshots: {tmp_path / 'search.png'}, {tmp_path / 'facet.png'}")


def test_search_as_you_type(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(server)
    box = browser.find_element(By.ID, "q")
    box.send_keys("pembangunan j")
    options = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#completions li"))
    words = [o.text for o in options if "word" in (o.get_attribute("class") or "")]
    assert words and words[0].startswith("pembangunan jalan"), words
    assert box.get_attribute("aria-expanded") == "true"
    browser.save_screenshot(str(tmp_path / "completions.png"))
    box.send_keys(Keys.ARROW_DOWN)
    first = browser.find_element(By.ID, "completion-0")
    assert first.get_attribute("aria-selected") == "true"
    assert box.get_attribute("aria-activedescendant") == "completion-0"
    box.send_keys(Keys.ENTER)  # picks the completion and searches it
    hits = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "li.hit"))
    assert box.get_attribute("value") == "pembangunan jalan"
    assert "Bekasi" in hits[0].text
    assert browser.find_element(By.ID, "completions").get_attribute("hidden")
    box.send_keys(" t")
    _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#completions li"))
    box.send_keys(Keys.ESCAPE)
    _wait(lambda: browser.find_element(By.ID, "completions").get_attribute("hidden"))


def test_a_search_submitted_while_typing_is_not_covered_by_late_completions(tmp_path, browser):
    # The completions asked for before the search was submitted answer after it (a slow
    # server): they are dropped, not opened over the results.
    from selenium.webdriver.common.by import By

    index = searchlib.Index.create(tmp_path / "ix")
    index.add(ARTICLES)
    answer = index.complete

    def slow_complete(*args, **kwargs):
        time.sleep(0.5)
        return answer(*args, **kwargs)

    index.complete = slow_complete  # this test's own index: its answers arrive late
    with serving(index) as address:
        browser.get(address)
        browser.find_element(By.ID, "q").send_keys("pembangunan j")
        time.sleep(0.3)  # the pause has ended: the completions were asked for
        browser.find_element(By.CSS_SELECTOR, "form button").click()
        _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "li.hit"))
        time.sleep(0.8)  # the completions' answer has come
        assert browser.find_element(By.ID, "completions").get_attribute("hidden")
        assert not browser.find_elements(By.CSS_SELECTOR, "#completions li")
    index.close()


def test_a_slow_answer_overtaken_by_a_newer_search_is_dropped(tmp_path, browser):
    from selenium.webdriver.common.by import By

    index = searchlib.Index.create(tmp_path / "ix")
    index.add(ARTICLES)
    answer = index.search

    def search(query, *args, **kwargs):
        if "jalan" in query:
            time.sleep(0.6)  # this one comes back after the next search's answer
        return answer(query, *args, **kwargs)

    index.search = search  # this test's own index
    with serving(index) as address:
        browser.get(address)
        box = browser.find_element(By.ID, "q")
        box.send_keys("jalan")
        browser.find_element(By.CSS_SELECTOR, "form button").click()
        box.clear()
        box.send_keys("Kabul")
        browser.find_element(By.CSS_SELECTOR, "form button").click()
        titles = lambda: [h.text for h in browser.find_elements(By.CSS_SELECTOR, "li.hit h2")]  # noqa: E731
        _wait(lambda: titles() and "Kabul" in titles()[0])
        time.sleep(1.0)  # the slow answer has come, and was not drawn
        assert titles() and "Kabul" in titles()[0] and len(titles()) == 1, titles()
    index.close()


def test_copies_are_collapsed_and_can_be_shown(tmp_path, browser):
    from selenium.webdriver.common.by import By

    index = searchlib.Index.create(tmp_path / "ix")
    index.add(copies_of_seed() + others(5))
    with serving(index) as address:
        browser.get(address + "?q=penerbangan+evakuasi")
        hits = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "li.hit"))
        titles = [h.find_element(By.CSS_SELECTOR, "h2").text for h in hits]
        assert titles.count(copies_of_seed()[0]["title"]) == 1
        summary = hits[0].find_element(By.CSS_SELECTOR, "details.copies summary")
        assert summary.text.startswith("+3 salinan")
        summary.click()
        listed = hits[0].find_elements(By.CSS_SELECTOR, "details.copies li")
        assert len(listed) == 3 and any("antara" in item.text for item in listed)
        browser.save_screenshot(str(tmp_path / "copies.png"))
        browser.find_element(By.ID, "copies").click()
        _wait(
            lambda: (
                [h.text for h in browser.find_elements(By.CSS_SELECTOR, "li.hit h2")].count(
                    copies_of_seed()[0]["title"]
                )
                == 4
            )
        )
        assert not browser.find_elements(By.CSS_SELECTOR, "details.copies")
        assert browser.find_element(By.ID, "copies").get_attribute("aria-pressed") == "true"
        assert "copies=1" in browser.current_url
    index.close()
