"""The board example's live page in a real headless browser (SPEC §12; examples/board/web).

Serves a copy of examples/board with ward on 127.0.0.1:8080 and its page from another origin
(127.0.0.1:8081), then drives Debian's chromium through selenium: the page trades a member's
token for a ticket (a cross-origin POST, so CORS is exercised from a real page), opens an
EventSource with it, and must show, as they commit, the notes of the member's organisation
created through the API — masked as a list masks them, pinned when a moderator pins — and
never another organisation's. Leaves a screenshot in target/browser/.

Usage: python3 scripts/browser_realtime.py  (WARD_BIN: the ward binary, default target/debug/ward)
"""

import os
import shutil
import subprocess
import sys
import tempfile

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from browser_support import ROOT, SHOTS, WARD, answers, call, chromium, token, wait_until

API = "http://127.0.0.1:8080"
PAGE = "http://127.0.0.1:8081/index.html"


def main():
    work = tempfile.mkdtemp()
    project = os.path.join(work, "board")
    shutil.copytree(os.path.join(ROOT, "examples/board"), project,
                    ignore=shutil.ignore_patterns(".ward"))
    procs = [
        subprocess.Popen([WARD, "serve", project, "--listen", "127.0.0.1:8080"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen([sys.executable, "-m", "http.server", "8081", "--bind", "127.0.0.1",
                          "-d", os.path.join(project, "web")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    driver = None
    try:
        wait_until("the servers", lambda: answers(API + "/healthz") and answers(PAGE))
        ann = token(project, "ann", "member", "acme")
        bea = token(project, "bea", "member", "acme")
        mo = token(project, "mo", "moderator", "acme")
        gus = token(project, "gus", "member", "globex")

        driver = chromium()
        driver.get(PAGE)
        driver.find_element(By.ID, "token").send_keys(ann)
        driver.find_element(By.ID, "connect").click()
        WebDriverWait(driver, 15).until(
            lambda d: d.find_element(By.ID, "status").text == "live")

        theirs = call(API, "POST", "/api/notes", gus, {"body": "globex secret"})["data"]["id"]
        note = call(API, "POST", "/api/notes", bea,
                    {"body": "Standup at 10", "authorEmail": "bea@example.com"})["data"]["id"]
        item = lambda: driver.find_elements(By.ID, "note-" + note)
        wait_until("the new note on the page", lambda: item() and "Standup at 10" in item()[0].text)
        text = item()[0].text
        assert "b**@e******.com" in text, text
        assert "bea@example.com" not in driver.page_source
        call(API, "PATCH", "/api/notes/" + note, mo, {"pinned": True})
        wait_until("the pin", lambda: "[pinned]" in item()[0].text)
        assert not driver.find_elements(By.ID, "note-" + theirs), "another org's note appeared"
        assert "globex secret" not in driver.page_source
        driver.save_screenshot(os.path.join(SHOTS, "board-live.png"))
        print("browser: the board page followed the stream through a ticket: insert and update "
              "shown, masked; another organisation's note never appeared")
    finally:
        if driver is not None:
            driver.quit()
        for p in procs:
            p.terminate()
            p.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
