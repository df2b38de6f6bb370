"""The dev console (SPEC §14, /_ward) in a real headless browser.

For every example, `ward dev` serves a copy and the console must list its tables. On the pets
example it then acts as callers through the public API: anonymous (the grid shows the API's
401), a member (the grid shows exactly the rows `GET /api/pets` gives that member's token), and
back. The page runs under its strict CSP (no inline script): a console that worked only with
inline code would show nothing here. Leaves screenshots in target/browser/.

Usage: python3 scripts/browser_console.py  (WARD_BIN: the ward binary, default target/debug/ward)
"""

import json
import os
import shutil
import subprocess
import tempfile

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from browser_support import ROOT, SHOTS, WARD, answers, call, chromium, token, wait_until

EXAMPLES = ["tasks", "rooms", "pets", "board"]


def grid(driver):
    """The grid as the page shows it: header keys and rows of cell texts."""
    head = [th.text for th in driver.find_elements(By.CSS_SELECTOR, "#grid thead th")]
    rows = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in driver.find_elements(By.CSS_SELECTOR, "#grid tbody tr")]
    return head, rows


def main():
    work = tempfile.mkdtemp()
    procs = {}
    driver = None
    try:
        for i, name in enumerate(EXAMPLES):
            project = os.path.join(work, name)
            shutil.copytree(os.path.join(ROOT, "examples", name), project,
                            ignore=shutil.ignore_patterns(".ward"))
            port = 8190 + i
            procs[name] = (project, "http://127.0.0.1:%d" % port, subprocess.Popen(
                [WARD, "dev", project, "--listen", "127.0.0.1:%d" % port],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for name, (_, base, _) in procs.items():
            wait_until("ward dev on " + name, lambda base=base: answers(base + "/healthz"))
        driver = chromium()

        # Every example: the console lists exactly the tables the project declares.
        for name, (project, base, _) in procs.items():
            ir = json.loads(subprocess.run([WARD, "compile", project], check=True,
                                           capture_output=True, text=True).stdout)
            driver.get(base + "/_ward")
            want = [t["name"] for t in ir["tables"]]
            listed = lambda: [a.text for a in driver.find_elements(By.CSS_SELECTOR, "nav a")]
            wait_until("the tables of " + name, lambda: listed() == want)
            driver.save_screenshot(os.path.join(SHOTS, "console-%s.png" % name))

        # pets: act as callers through the API.
        project, base, _ = procs["pets"]
        ann = token(project, "ann", "member", "dev-org")
        person = call(base, "POST", "/api/people", ann, {"name": "Ann Lee"})["data"]["id"]
        for pet in ("Rex", "Tom"):
            call(base, "POST", "/api/pets", ann,
                 {"name": pet, "species": "dog", "ownerId": person})
        driver.get(base + "/_ward#pets")
        wait_until("the pets table", lambda: driver.find_element(By.ID, "title").text == "pets")
        status = lambda: driver.find_element(By.ID, "grid-status").text
        wait_until("the anonymous grid's refusal", lambda: "401 AUTH_MISSING" in status())

        Select(driver.find_element(By.ID, "role")).select_by_value("member")
        driver.find_element(By.ID, "sub").clear()
        driver.find_element(By.ID, "sub").send_keys("console")
        driver.find_element(By.ID, "act").click()
        wait_until("the member's grid", lambda: "row(s) from GET" in status())
        head, rows = grid(driver)
        member = token(project, "console", "member", "dev-org")
        api = call(base, "GET", "/api/pets?limit=20&offset=0", member)["data"]
        assert [r[head.index("name")] for r in rows] == [p["name"] for p in api], (rows, api)
        assert sorted(r[head.index("name")] for r in rows) == ["Rex", "Tom"], rows
        policy = driver.find_element(By.ID, "policy").text
        assert "create" in policy and "denied" in policy, policy
        driver.save_screenshot(os.path.join(SHOTS, "console-pets-member.png"))

        # The playground: a request the member may not make, and the layer that refused it.
        driver.find_element(By.ID, "path").clear()
        driver.find_element(By.ID, "path").send_keys("/api/tags")
        Select(driver.find_element(By.ID, "method")).select_by_visible_text("POST")
        driver.find_element(By.ID, "body").send_keys('{"label": "friendly"}')
        driver.find_element(By.ID, "send").click()
        why = lambda: driver.find_element(By.ID, "why").text
        wait_until("the refusal explained", lambda: "denied by the access layer" in why())
        assert "ACCESS_ROLE_REQUIRED" in why(), why()
        driver.save_screenshot(os.path.join(SHOTS, "console-pets-denied.png"))

        # A broken save: its diagnostics appear in the console; the fix clears them.
        source = os.path.join(project, "pets.kdl")
        with open(source) as f:
            good = f.read()
        with open(source, "w") as f:
            f.write(good.replace("column species text", "column species txt", 1))
        diagnostics = lambda: driver.find_element(By.ID, "diagnostics")
        wait_until("the diagnostic", lambda: diagnostics().is_displayed()
                   and "error[E0011]" in diagnostics().text)
        driver.save_screenshot(os.path.join(SHOTS, "console-pets-diagnostic.png"))
        with open(source, "w") as f:
            f.write(good)
        wait_until("the fix", lambda: "fixed" in diagnostics().text)

        Select(driver.find_element(By.ID, "role")).select_by_value("")
        driver.find_element(By.ID, "act").click()
        wait_until("anonymous again", lambda: "401 AUTH_MISSING" in status())

        # board: the realtime inspector and the history viewer, as a member, through the API.
        project, base, _ = procs["board"]
        driver.get(base + "/_ward#notes")
        wait_until("the notes table", lambda: driver.find_element(By.ID, "title").text == "notes")
        Select(driver.find_element(By.ID, "role")).select_by_value("member")
        driver.find_element(By.ID, "act").click()
        wait_until("the member's grid", lambda: "row(s) from GET" in status())
        driver.find_element(By.ID, "follow").click()
        live = lambda: driver.find_element(By.ID, "live-status").text
        wait_until("the stream", lambda: live() == "following")
        bea = token(project, "bea", "member", "dev-org")
        gus = token(project, "gus", "member", "elsewhere")
        call(base, "POST", "/api/notes", gus, {"body": "another org"})
        note = call(base, "POST", "/api/notes", bea, {"body": "Standup at 10"})["data"]["id"]
        events = lambda: [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#events li")]
        wait_until("the insert event", lambda: any("Standup at 10" in e for e in events()))
        assert not any("another org" in e for e in events()), events()
        driver.find_element(By.ID, "act").click()
        wait_until("the note in the grid", lambda: len(driver.find_elements(By.CSS_SELECTOR, "button.history")) == 1)
        driver.find_element(By.CSS_SELECTOR, "button.history").click()
        versions = lambda: driver.find_elements(By.CSS_SELECTOR, "#history tbody tr")
        wait_until("the note's history", lambda: len(versions()) == 1)
        assert "insert" in versions()[0].text and note, versions()[0].text
        driver.save_screenshot(os.path.join(SHOTS, "console-board-live.png"))
        print("browser: the console listed the tables of %d examples; on pets its grid showed the "
              "API's 401 to anonymous and exactly GET /api/pets to a member, its playground named "
              "the access layer for a refused create, and a broken save's diagnostic appeared "
              "and cleared; on board it followed the stream and read a note's history as a member, "
              "and another organisation's note never appeared" % len(procs))
    finally:
        if driver is not None:
            driver.quit()
        for _, _, p in procs.values():
            p.terminate()
            p.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
