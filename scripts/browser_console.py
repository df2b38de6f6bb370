"""The console (SPEC §14, /_ward) in a real headless browser.

For every example, `ward dev` serves a copy and the console must list its tables (the time to the
first page is measured). On the pets example it then acts as callers through the public API:
anonymous (the grid shows the API's 401), a member (the grid shows exactly the rows `GET
/api/pets` gives that member's token), and, for random roles and users, the people grid equals
`GET /api/people` for a token with the same claims (masking included). A refused request names
its layer and the rule's file:line, as the IR's sources say. `ward serve --console` on rooms
admits only an operator's token, and explains a refusal for a pasted token. The page runs under
its strict CSP (no inline script): a console that worked only with inline code would show
nothing here. Leaves screenshots in target/browser/.

Usage: python3 scripts/browser_console.py  (WARD_BIN: the ward binary, default target/debug/ward)
"""

import json
import os
import random
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request

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


def cell_texts(driver):
    """The grid's header and rows by textContent (what the page wrote, not what fits the cell)."""
    head = [th.get_attribute("textContent")
            for th in driver.find_elements(By.CSS_SELECTOR, "#grid thead th")]
    rows = [[td.get_attribute("textContent") for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in driver.find_elements(By.CSS_SELECTOR, "#grid tbody tr")]
    return head, rows


def shown(value):
    """A value as the grid writes it (console.js `shown`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def status_of(base, path, tok):
    """The API's status and body for GET path with tok (None: anonymous)."""
    headers = {"Authorization": "Bearer " + tok} if tok else {}
    req = urllib.request.Request(base + path, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return res.status, json.load(res)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def act_as(driver, role, sub, org):
    Select(driver.find_element(By.ID, "role")).select_by_value(role)
    for field, value in (("sub", sub), ("org", org)):
        driver.find_element(By.ID, field).clear()
        driver.find_element(By.ID, field).send_keys(value)
    driver.find_element(By.ID, "act").click()


def grid_equals_api(driver, base, project, rng, rounds):
    """For random callers, the people grid is exactly `GET /api/people` with their token."""
    status = lambda: driver.find_element(By.ID, "grid-status").text
    caller = lambda: driver.find_element(By.ID, "caller").text
    last = None
    checked = 0
    while checked < rounds:
        role = rng.choice(["", "member", "admin"])
        sub = rng.choice(["ann", "bob", "zed"])
        org = rng.choice(["dev-org", "elsewhere"])
        if (role, sub, org) == last or (role == "" and last and last[0] == ""):
            continue
        last = (role, sub, org)
        act_as(driver, role, sub, org)
        if role == "":
            wait_until("anonymous", lambda: caller() == "anonymous" and "401" in status())
            code, _ = status_of(base, "/api/people?limit=20&offset=0", None)
            assert code == 401 and "401 AUTH_MISSING" in status(), status()
        else:
            wait_until("acting as %s" % (last,), lambda: caller() == "%s as %s in %s" % (sub, role, org)
                       and "row(s) from GET" in status())
            tok = token(project, sub, role, org)
            code, answer = status_of(base, "/api/people?limit=20&offset=0", tok)
            assert code == 200, answer
            head, rows = cell_texts(driver)
            want_keys = list(answer["data"][0].keys())
            assert head == want_keys, (head, want_keys)
            want = [[shown(r[k]) for k in want_keys] for r in answer["data"]]
            assert rows == want, (last, rows, want)
        checked += 1
    return checked


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

        # Every example: the console lists exactly the tables the project declares, and each
        # declaration's file:line; the first page is timed from navigation to the grid's answer.
        first_page = {}
        irs = {}
        for name, (project, base, _) in procs.items():
            ir = json.loads(subprocess.run([WARD, "compile", project], check=True,
                                           capture_output=True, text=True).stdout)
            irs[name] = ir
            driver.get(base + "/_ward")
            want = [t["name"] for t in ir["tables"]]
            listed = lambda: [a.text for a in driver.find_elements(By.CSS_SELECTOR, "nav a")]
            wait_until("the tables of " + name, lambda: listed() == want)
            wait_until("the first grid of " + name, lambda: "row(s)" in driver.find_element(
                By.ID, "grid-status").text or "AUTH_MISSING" in driver.find_element(By.ID, "grid-status").text)
            first_page[name] = driver.execute_script(
                "return performance.getEntriesByName('ward-first-grid')[0].startTime")
            at = ir["sources"][want[0]]
            where = driver.find_element(By.ID, "where").text
            assert where == "declared at %s:%d" % (at["file"], at["line"]), (where, at)
            driver.save_screenshot(os.path.join(SHOTS, "console-%s.png" % name))
        assets = 0
        for asset in ("/_ward", "/_ward/console.js", "/_ward/console.css"):
            with urllib.request.urlopen(procs["tasks"][1] + asset, timeout=10) as res:
                assets += len(res.read())

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
        rule = irs["pets"]["sources"]["tags.access.create"]
        cited = lambda: [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#why-rules li")]
        wait_until("the rule's file:line", lambda: cited() != [])
        assert cited() == ["%s:%d — the `create` rule of `tags`" % (rule["file"], rule["line"])], cited()
        driver.save_screenshot(os.path.join(SHOTS, "console-pets-denied.png"))

        # The grid equals the API for random callers (masking of people's emails included).
        for sub, email in (("ann", "ann@example.org"), ("bob", "bob@example.org")):
            call(base, "POST", "/api/people", token(project, sub, "member", "dev-org"),
                 {"name": sub.title(), "email": email})
        driver.find_element(By.CSS_SELECTOR, 'nav a[data-table="people"]').click()
        wait_until("the people table", lambda: driver.find_element(By.ID, "title").text == "people")
        seed = int(os.environ.get("WARD_BROWSER_SEED", random.randrange(1 << 30)))
        rounds = grid_equals_api(driver, base, project, random.Random(seed), 8)

        # Paging: 23 people make two pages; Next shows exactly the API's second page.
        for i in range(20):
            call(base, "POST", "/api/people", ann, {"name": "Neighbour %02d" % i})
        act_as(driver, "member", "ann", "dev-org")
        wait_until("ann's first page", lambda: driver.find_element(By.ID, "caller").text
                   == "ann as member in dev-org" and "20 row(s)" in status())
        driver.find_element(By.ID, "next").click()
        wait_until("the second page", lambda: "offset=20" in status() and "row(s)" in status())
        head, rows = cell_texts(driver)
        code, page = status_of(base, "/api/people?limit=20&offset=20", token(project, "ann", "member", "dev-org"))
        assert code == 200 and len(page["data"]) == 3, page
        assert [r[head.index("id")] for r in rows] == [p["id"] for p in page["data"]], (rows, page)
        assert driver.find_element(By.ID, "next").get_attribute("disabled"), "no third page"

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
        # `ward serve --console` on rooms: an operator's token opens it; a member's does not.
        project = os.path.join(work, "rooms-served")
        shutil.copytree(os.path.join(ROOT, "examples", "rooms"), project,
                        ignore=shutil.ignore_patterns(".ward"))
        base = "http://127.0.0.1:8199"
        procs["rooms-served"] = (project, base, subprocess.Popen(
            [WARD, "serve", project, "--listen", "127.0.0.1:8199", "--console"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_until("ward serve --console", lambda: answers(base + "/healthz"))
        ada = token(project, "ada", "admin", "acme")
        mia = token(project, "mia", "member", "acme")
        kind = call(base, "POST", "/api/room_types", ada, {"name": "Boardroom"})["data"]["id"]
        room = call(base, "POST", "/api/rooms", ada,
                    {"name": "Everest", "capacity": 12, "roomTypeId": kind})["data"]["id"]
        driver.get(base + "/_ward")
        signin = lambda: driver.find_element(By.ID, "signin")
        wait_until("the operator sign-in", lambda: signin().is_displayed())
        assert not driver.find_elements(By.CSS_SELECTOR, "nav a"), "nothing before an operator token"
        driver.find_element(By.ID, "operator-token").send_keys(mia)
        driver.find_element(By.CSS_SELECTOR, "#signin button").click()
        refused = lambda: driver.find_element(By.ID, "signin-status").text
        wait_until("a member refused", lambda: "403 ACCESS_ROLE_REQUIRED" in refused())
        driver.find_element(By.ID, "operator-token").clear()
        driver.find_element(By.ID, "operator-token").send_keys(ada)
        driver.find_element(By.CSS_SELECTOR, "#signin button").click()
        wait_until("the operator's console", lambda: len(driver.find_elements(By.CSS_SELECTOR, "nav a")) == 3)
        assert not driver.find_element(By.ID, "role").is_displayed(), "a server mints no tokens"
        driver.find_element(By.ID, "as-token").send_keys(mia)
        driver.find_element(By.ID, "act").click()
        driver.find_element(By.ID, "path").clear()
        driver.find_element(By.ID, "path").send_keys("/api/rooms/" + room)
        Select(driver.find_element(By.ID, "method")).select_by_visible_text("PATCH")
        driver.find_element(By.ID, "body").send_keys('{"roomTypeId": "%s"}' % kind)
        driver.find_element(By.ID, "send").click()
        wait_until("the guard's refusal", lambda: "GUARD_FIELD_IMMUTABLE" in why())
        rule = irs["rooms"]["sources"]["rooms.guard.immutable.roomTypeId"]
        wait_until("the guard's file:line", lambda: cited() != [])
        assert cited() == ["%s:%d — `roomTypeId` in the `immutable` guard of `rooms`"
                           % (rule["file"], rule["line"])], cited()
        driver.save_screenshot(os.path.join(SHOTS, "console-rooms-served.png"))

        slowest = max(first_page, key=first_page.get)
        print("browser: the console listed the tables of %d examples with their file:line (first "
              "page, navigation to the grid's answer: %s ms; slowest %s; assets %d bytes); on pets "
              "its grid showed the API's 401 to anonymous and exactly GET /api/pets to a member, "
              "and for %d random callers (seed %d) exactly GET /api/people, and its Next page the API's "
              "second page; its playground named "
              "the access layer and the rule's file:line for a refused create; a broken save's "
              "diagnostic appeared and cleared; on board it followed the stream and read a note's "
              "history as a member, and another organisation's note never appeared; ward serve "
              "--console refused a member and opened to an admin, and cited the guard's file:line"
              % (len(EXAMPLES), ", ".join("%s %.0f" % (k, v) for k, v in first_page.items()),
                 slowest, assets, rounds, seed))
    finally:
        if driver is not None:
            driver.quit()
        for _, _, p in procs.values():
            p.terminate()
            p.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
