"""The board example's live page in a real headless browser (SPEC §12; examples/board/web).

Serves a copy of examples/board with ward on 127.0.0.1:8080 and its page from another origin
(127.0.0.1:8081), then drives Debian's chromium through selenium: the page trades a member's
token for a ticket (a cross-origin POST, so CORS is exercised from a real page), opens an
EventSource with it, and must show, as they commit, the notes of the member's organisation
created through the API — masked as a list masks them, pinned when a moderator pins — and
never another organisation's. Leaves a screenshot in target/browser/.

Usage: python3 scripts/browser_realtime.py  (WARD_BIN: the ward binary, default target/debug/ward)
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WARD = os.path.abspath(os.environ.get("WARD_BIN", os.path.join(ROOT, "target/debug/ward")))
API = "http://127.0.0.1:8080"
PAGE = "http://127.0.0.1:8081/index.html"


def token(project, sub, roles, org):
    out = subprocess.run(
        [WARD, "token", "--project", project, "--sub", sub, "--roles", roles, "--org", org],
        check=True, capture_output=True, text=True)
    return out.stdout.strip()


def call(method, path, tok, body=None):
    req = urllib.request.Request(API + path, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + tok,
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as res:
        return json.load(res)


def wait_until(what, check, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def main():
    work = tempfile.mkdtemp()
    project = os.path.join(work, "board")
    shutil.copytree(os.path.join(ROOT, "examples/board"), project,
                    ignore=shutil.ignore_patterns(".ward"))
    shots = os.path.join(ROOT, "target/browser")
    os.makedirs(shots, exist_ok=True)
    procs = [
        subprocess.Popen([WARD, "serve", project, "--listen", "127.0.0.1:8080"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen([sys.executable, "-m", "http.server", "8081", "--bind", "127.0.0.1",
                          "-d", os.path.join(project, "web")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    driver = None
    try:
        def up():
            try:
                urllib.request.urlopen(API + "/healthz", timeout=1)
                urllib.request.urlopen(PAGE, timeout=1)
                return True
            except OSError:
                return False
        wait_until("the servers", up)
        ann = token(project, "ann", "member", "acme")
        bea = token(project, "bea", "member", "acme")
        mo = token(project, "mo", "moderator", "acme")
        gus = token(project, "gus", "member", "globex")

        options = webdriver.ChromeOptions()
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
            options.add_argument(arg)
        options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        driver = webdriver.Chrome(options=options,
                                  service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"))
        driver.get(PAGE)
        driver.find_element(By.ID, "token").send_keys(ann)
        driver.find_element(By.ID, "connect").click()
        WebDriverWait(driver, 15).until(
            lambda d: d.find_element(By.ID, "status").text == "live")

        theirs = call("POST", "/api/notes", gus, {"body": "globex secret"})["data"]["id"]
        note = call("POST", "/api/notes", bea,
                    {"body": "Standup at 10", "authorEmail": "bea@example.com"})["data"]["id"]
        item = lambda: driver.find_elements(By.ID, "note-" + note)
        wait_until("the new note on the page", lambda: item() and "Standup at 10" in item()[0].text)
        text = item()[0].text
        assert "b**@e******.com" in text, text
        assert "bea@example.com" not in driver.page_source
        call("PATCH", "/api/notes/" + note, mo, {"pinned": True})
        wait_until("the pin", lambda: "[pinned]" in item()[0].text)
        assert not driver.find_elements(By.ID, "note-" + theirs), "another org's note appeared"
        assert "globex secret" not in driver.page_source
        driver.save_screenshot(os.path.join(shots, "board-live.png"))
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
