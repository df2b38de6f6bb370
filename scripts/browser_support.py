"""What the browser checks share: the ward binary, minting tokens, calling the API, waiting, and
a headless chromium (Debian's, through selenium)."""

import json
import os
import shutil
import subprocess
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WARD = os.path.abspath(os.environ.get("WARD_BIN", os.path.join(ROOT, "target/debug/ward")))
SHOTS = os.path.join(ROOT, "target/browser")


def token(project, sub, roles, org):
    out = subprocess.run(
        [WARD, "token", "--project", project, "--sub", sub, "--roles", roles, "--org", org],
        check=True, capture_output=True, text=True)
    return out.stdout.strip()


def call(base, method, path, tok, body=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + tok,
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as res:
        return json.load(res)


def wait_until(what, check, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def answers(url):
    try:
        urllib.request.urlopen(url, timeout=1)
        return True
    except OSError:
        return False


def chromium():
    os.makedirs(SHOTS, exist_ok=True)
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1400"):
        options.add_argument(arg)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    return webdriver.Chrome(options=options,
                            service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"))
