#!/usr/bin/env python3
"""The web page in a real browser: headless Chromium (Debian's chromium and chromium-driver)
driven by Selenium.

It starts a secure federation on 127.0.0.1 (a hub and two members, CURVE and signed ops, the
members admitted by the hub operator), each node with its web page on a free port, and then,
as people at two offices and the hub operator would:

  - logs in with the one-time link of `membersync web-login` (and checks the link works once
    and that a page without a session asks for a login);
  - searches ("Bærum", "lillestrom");
  - edits a record on Asker's page and sees the change appear on Bærum's open page without a
    reload (server-sent events), with HTML in the value shown as text;
  - opens a record Asker may not write: the fields are read-only with the reason, and an edit
    forced through the browser anyway is refused by the node with that reason;
  - stops the hub, sees both pages say they are offline with an edit waiting for the hub,
    makes a conflict (both offices set one project's status), restarts the hub, resolves the
    conflict with one click on the conflicts page and sees it settled at the other office;
  - on the hub's federation page sees both members online, admits a third node and revokes it;
  - checks that a state-changing request without the CSRF token is refused;
  - uses a page with the keyboard only (skip link, Enter saves) and on a phone-sized screen.

Every server listens on 127.0.0.1; every process it starts is stopped at the end, whatever
happens, and the whole run is bounded (--timeout). With --screenshots DIR it saves PNGs of
the main pages there. Prints "N passed, N failed" and exits non-zero on any failure.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

try:
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError as e:  # fail loudly: CI must run this test, not skip it
    print(f"web_e2e: selenium is not installed ({e}); run scripts/install-web-test-deps.sh", file=sys.stderr)
    sys.exit(2)

CHROMIUM = os.environ.get("MEMBERSYNC_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("MEMBERSYNC_CHROMEDRIVER", "/usr/bin/chromedriver")


class Failure(Exception):
    pass


def free_port_pair():
    """A port P with P+1 also free (a node's ROUTER and PUB)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            p = s.getsockname()[1]
        if p >= 65000:
            continue
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", p))
                b.bind(("127.0.0.1", p + 1))
            return p
        except OSError:
            continue
    raise Failure("no free port pair on 127.0.0.1")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Federation:
    """Real membersyncd processes in a temporary directory; `close` stops them all."""

    def __init__(self, bin_dir, root, heartbeat_ms=200):
        self.bin = bin_dir
        self.root = root
        self.heartbeat = heartbeat_ms
        self.procs = {}
        self.ports = {}
        self.web = {}
        self.keys = {}
        self.orgs = {}

    def cli(self, *args, check=True, timeout=30):
        r = subprocess.run([os.path.join(self.bin, "membersync"), *args], capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise Failure(f"membersync {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
        return r

    def on(self, node, *args, **kw):
        return self.cli(args[0], "--data-dir", self.dir(node), *args[1:], **kw)

    def dir(self, node):
        return os.path.join(self.root, node)

    def init(self, name, org, hub=False, hubs=()):
        self.ports[name] = free_port_pair()
        self.web[name] = free_port()
        self.orgs[name] = org
        args = ["init", self.dir(name), "--id", name, "--organisation", org,
                "--listen", f"tcp://127.0.0.1:{self.ports[name]}", "--heartbeat-ms", str(self.heartbeat),
                "--http-listen", f"127.0.0.1:{self.web[name]}", "--json"]
        if hub:
            args.append("--hub")
        for h in hubs:
            args += ["--hub-endpoint", f"tcp://127.0.0.1:{self.ports[h]}",
                     f"--hub-key={self.keys[h]['curve_key']}", f"--hub-signing-key={h}:{self.keys[h]['signing_key']}"]
        out = json.loads(self.cli(*args).stdout)
        self.keys[name] = out

    def admit(self, name, hub="brussels"):
        k = self.keys[name]
        # `hub admit` takes the keys as flags: a Z85 key may begin with '@', which `set`
        # would read as a file name.
        self.cli("hub", "admit", name, "--data-dir", self.dir(hub), "--organisation", self.orgs[name],
                f"--signing-key={k['signing_key']}", f"--curve-key={k['curve_key']}")

    def start(self, name):
        log = open(os.path.join(self.root, f"{name}.log"), "ab")
        self.procs[name] = subprocess.Popen([os.path.join(self.bin, "membersyncd"), "--config",
                                             os.path.join(self.dir(name), "membersync.toml")],
                                            stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                raise Failure(f"{name} exited at start; log:\n{self.log(name)}")
            if self.on(name, "web-login", check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise Failure(f"{name} did not start its web page; log:\n{self.log(name)}")

    def log(self, name):
        try:
            with open(os.path.join(self.root, f"{name}.log"), errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def signal(self, name, sig):
        p = self.procs.get(name)
        if p and p.poll() is None:
            os.kill(p.pid, sig)

    def login_link(self, name):
        return self.on(name, "web-login").stdout.strip()

    def status(self, name):
        return json.loads(self.on(name, "status", "--json", check=False).stdout or "{}")

    def converge(self, names, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            digests = {self.status(n).get("digest") for n in names}
            if len(digests) == 1 and None not in digests:
                return
            time.sleep(0.2)
        raise Failure(f"nodes {names} did not converge within {timeout} s")

    def close(self):
        for name, p in self.procs.items():
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGCONT)
                    p.terminate()
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 5
        for p in self.procs.values():
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def browser(profile_dir, width=1280, height=900, phone=False):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    if phone:  # a phone's screen: 390 CSS pixels wide, touch, a mobile user agent
        opts.add_experimental_option("mobileEmulation", {"deviceMetrics": {"width": width, "height": height, "pixelRatio": 2}})
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
              "--disable-extensions", "--disable-background-networking", f"--user-data-dir={profile_dir}",
              f"--window-size={width},{height}", "--lang=en"]:
        opts.add_argument(a)
    d = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    d.set_page_load_timeout(30)
    d.set_script_timeout(30)
    return d


class Run:
    def __init__(self, args):
        self.args = args
        self.passed = 0
        self.failed = 0
        self.drivers = []

    def check(self, what, condition, detail=""):
        if condition:
            self.passed += 1
            print(f"  ok  {what}")
        else:
            self.failed += 1
            print(f"  FAIL {what} {detail}")

    def wait(self, driver, what, predicate, timeout=20):
        try:
            # A live refresh may swap the page's content between finding an element and reading it.
            WebDriverWait(driver, timeout, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)).until(lambda d: predicate(d))
            self.check(what, True)
            return True
        except TimeoutException:
            self.check(what, False, f"(not within {timeout} s; page: {driver.current_url})")
            return False

    def shot(self, driver, name, full=True):
        """A PNG of the page; `full` makes the window as tall as the page (at most 2000 px)."""
        if not self.args.screenshots:
            return
        os.makedirs(self.args.screenshots, exist_ok=True)
        size = driver.get_window_size()
        if full:
            height = driver.execute_script("return document.documentElement.scrollHeight;")
            driver.set_window_size(size["width"], min(2000, max(size["height"], height + 140)))
        driver.save_screenshot(os.path.join(self.args.screenshots, name + ".png"))
        if full:
            driver.set_window_size(size["width"], size["height"])

    def text(self, driver, css):
        for _ in range(5):
            try:
                els = driver.find_elements(By.CSS_SELECTOR, css)
                return els[0].text if els else ""
            except StaleElementReferenceException:  # swapped by a live refresh: read again
                time.sleep(0.1)
        return ""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin-dir", required=True, help="directory with membersyncd and membersync (swift build)")
    ap.add_argument("--seed", default=os.path.join(os.path.dirname(__file__), "..", "..", "Deploy", "seed", "directory.jsonl"))
    ap.add_argument("--screenshots", help="save PNGs of the main pages into this directory")
    ap.add_argument("--timeout", type=int, default=300, help="stop (and fail) after this many seconds")
    args = ap.parse_args()

    for path, what in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")]:
        if not os.access(path, os.X_OK):
            print(f"web_e2e: {what} is not installed at {path}; run scripts/install-web-test-deps.sh", file=sys.stderr)
            return 2

    def on_alarm(signum, frame):
        raise Failure(f"the browser test ran longer than {args.timeout} s")
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(args.timeout)

    root = tempfile.mkdtemp(prefix="msync-web-e2e-")
    fed = Federation(os.path.abspath(args.bin_dir), root)
    run = Run(args)
    try:
        scenario(fed, run, root, args)
    except Exception as e:  # a failure mid-way still stops everything below
        run.failed += 1
        print(f"  FAIL scenario stopped: {e}")
        traceback.print_exc()
        for n in fed.procs:
            print(f"--- {n} log (tail) ---\n{fed.log(n)}")
    finally:
        signal.alarm(0)
        for d in run.drivers:
            try:
                d.quit()
            except Exception:
                pass
        fed.close()
        shutil.rmtree(root, ignore_errors=True)
    print(f"{run.passed} passed, {run.failed} failed")
    return 0 if run.failed == 0 and run.passed > 0 else 1


def scenario(fed, run, root, args):
    print("== federation: a secure hub and two members, web pages on 127.0.0.1")
    fed.init("brussels", "oslo-region-european-office", hub=True)
    fed.init("asker", "asker", hubs=["brussels"])
    fed.init("baerum", "baerum", hubs=["brussels"])
    fed.init("oslomet", "oslomet", hubs=["brussels"])  # admitted from the page later, never started
    fed.start("brussels")
    fed.on("brussels", "import", os.path.abspath(args.seed))
    fed.admit("asker")
    fed.admit("baerum")
    fed.on("brussels", "set", "projects/green-ports", "title=Green Ports", "status=proposal", "lead=asker", "partners+=baerum")
    fed.start("asker")
    fed.start("baerum")
    fed.converge(["brussels", "asker", "baerum"])

    a = browser(os.path.join(root, "profile-asker"))
    b = browser(os.path.join(root, "profile-baerum"))
    run.drivers += [a, b]
    base_a = f"http://127.0.0.1:{fed.web['asker']}"
    base_b = f"http://127.0.0.1:{fed.web['baerum']}"

    print("== login")
    b.get(base_b + "/")
    run.check("a page without a session asks for a login", "Log in first" in b.page_source and "web-login" in b.page_source)
    link = fed.login_link("asker")
    a.get(link)
    run.check("the login link opens a session", a.current_url.rstrip("/") == base_a and "Collections" in a.page_source)
    cookies = {c["name"]: c for c in a.get_cookies()}
    session = cookies.get("membersync-asker", {})
    run.check("the session cookie is HttpOnly and SameSite=Strict", session.get("httpOnly") is True and session.get("sameSite") == "Strict", str(session))
    b.get(link)
    run.check("a login link works only once", "This login link does not work" in b.page_source)
    b.get(fed.login_link("baerum"))
    run.check("Bærum logs in with its own node's link", "baerum" in run.text(b, ".node"))
    run.wait(a, "the page says it is online and nothing waits for the hub",
             lambda d: "Online" in run.text(d, "#status-label") and "All own edits" in run.text(d, "#status-pending"))
    run.shot(a, "home")

    print("== search")
    box = a.find_element(By.ID, "site-search")
    box.send_keys("Bærum")
    box.submit()
    run.wait(a, "searching 'Bærum' finds organisations/baerum", lambda d: "organisations/baerum" in d.page_source)
    a.get(base_a + "/search?q=lillestrom")
    run.check("searching 'lillestrom' finds Lillestrøm", "Lillestrøm" in a.page_source)
    run.shot(a, "search")
    a.get(base_a + "/c/projects")
    run.check("the projects list shows the seed's projects", "Green Ports" in a.page_source and "CatchMR" in a.page_source)
    run.shot(a, "collection")

    print("== an edit at Asker appears on Bærum's open page")
    b.get(base_b + "/r/organisations/asker")
    b.execute_script("window.__noReload = 'still the same page';")
    a.get(base_a + "/r/organisations/asker")
    value = "Edited at Asker <b>not bold</b> & \"quoted\" " + str(int(time.time()))
    field = a.find_element(By.ID, "f-description")
    field.clear()
    field.send_keys(value)
    a.find_element(By.ID, "save").click()
    run.wait(a, "Asker's page says the edit was saved", lambda d: "Saved 1 change" in d.page_source)
    run.wait(b, "Bærum's open page shows Asker's edit without a reload",
             lambda d: value in run.text(d, "dd[data-field=description]"), timeout=20)
    run.check("...it is the same page (no reload)", b.execute_script("return window.__noReload;") == "still the same page")
    run.check("...and the HTML in the value is shown as text, not markup",
              len(b.find_elements(By.CSS_SELECTOR, "dd[data-field=description] b")) == 0)
    run.shot(b, "record-live")

    print("== a forbidden edit is shown read-only and refused with its reason")
    a.get(base_a + "/r/organisations/baerum")
    reason = run.text(a, "#edit-reason")
    run.check("the page says why the record is read-only", "may write only its own organisation record" in reason, reason)
    run.check("its inputs are disabled", not a.find_element(By.ID, "f-name").is_enabled())
    run.check("each field says why", "organisations/asker" in run.text(a, "#why-name"))
    run.shot(a, "read-only")
    a.execute_script("""
        var f = document.getElementById('f-name'); f.disabled = false; f.value = 'Taken over by Asker';
        var s = document.getElementById('save'); s.disabled = false; s.click();""")
    run.wait(a, "the node refuses the forced edit with the reason",
             lambda d: "not allowed" in run.text(d, "#form-error") and "may write only its own organisation" in run.text(d, "#form-error"))
    name = json.loads(fed.on("baerum", "get", "organisations/baerum", "--json").stdout)["fields"]["name"]
    run.check("...and nothing was written", name == "Bærum", name)

    print("== offline, pending edits, and a conflict")
    a.get(base_a + "/r/projects/green-ports")
    b.get(base_b + "/r/projects/green-ports")
    fed.signal("brussels", signal.SIGSTOP)
    run.wait(a, "with the hub stopped, Asker's page says it is offline", lambda d: "Offline" in run.text(d, "#status-label"))
    for d, v in [(a, "running"), (b, "closed")]:
        d.find_element(By.CSS_SELECTOR, f"#f-status option[value={v}]").click()
        d.find_element(By.ID, "save").click()
        WebDriverWait(d, 20, ignored_exceptions=(StaleElementReferenceException,)).until(lambda d: "Saved 1 change" in d.page_source)
    run.wait(a, "the page counts the edit that waits for the hub", lambda d: "1 own edit waits for the hub" in run.text(d, "#status-pending"))
    run.shot(a, "offline")
    fed.signal("brussels", signal.SIGCONT)
    run.wait(a, "with the hub back the page is online again and nothing waits",
             lambda d: "Online" in run.text(d, "#status-label") and "All own edits" in run.text(d, "#status-pending"), timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        cs = [json.loads(fed.on(n, "conflicts", "--json").stdout) for n in ("asker", "baerum")]
        if all(any(c["key"] == "projects/green-ports" and c["field"] == "status" for c in lst) for lst in cs):
            break
        time.sleep(0.2)
    b.get(base_b + "/conflicts")
    a.get(base_a + "/conflicts")
    run.wait(a, "the conflicts page lists both values side by side",
             lambda d: len(d.find_elements(By.CSS_SELECTOR, "[data-key='projects/green-ports'][data-field=status] .sibling")) == 2)
    who = run.text(a, "[data-key='projects/green-ports'][data-field=status]")
    run.check("...with who wrote each", "asker" in who and "baerum" in who and "running" in who and "closed" in who, who)
    run.shot(a, "conflicts")
    a.find_element(By.XPATH, "//div[@data-key='projects/green-ports']//button[contains(., 'closed')]").click()
    run.wait(a, "one click resolves it", lambda d: "Kept “closed”" in d.page_source)
    run.wait(b, "Bærum's open conflicts page sees it settled without a reload",
             lambda d: len(d.find_elements(By.CSS_SELECTOR, "[data-key='projects/green-ports']")) == 0, timeout=20)
    status = json.loads(fed.on("baerum", "get", "projects/green-ports", "--json").stdout)
    run.check("...and Bærum's node holds the kept value, conflict-free",
              status["fields"]["status"] == "closed" and "conflicts" not in status, json.dumps(status))
    a.get(base_a + "/r/projects/green-ports/history")
    run.check("the history lists both offices' edits", "asker" in a.page_source and "baerum" in a.page_source and "running" in a.page_source)
    run.shot(a, "history")

    print("== the hub operator's federation page")
    h = browser(os.path.join(root, "profile-hub"))
    run.drivers.append(h)
    base_h = f"http://127.0.0.1:{fed.web['brussels']}"
    h.get(fed.login_link("brussels"))
    h.get(base_h + "/federation")
    for n in ("asker", "baerum"):
        run.wait(h, f"{n} is listed online", lambda d, n=n: "online" in run.text(d, f"tr[data-node={n}] td.online"))
    run.check("software and protocol versions are shown", "0.1.0" in run.text(h, "tr[data-node=asker]"))
    run.shot(h, "federation")
    k = fed.keys["oslomet"]
    for field, v in [("a-id", "oslomet"), ("a-org", "oslomet"), ("a-curve", k["curve_key"]), ("a-sign", k["signing_key"])]:
        h.find_element(By.ID, field).send_keys(v)
    h.find_element(By.CSS_SELECTOR, "#admit-form button[type=submit]").click()
    run.wait(h, "admitting a node from the page puts it into the roster", lambda d: "Admitted oslomet" in d.page_source)
    run.check("...listed on the page", len(h.find_elements(By.CSS_SELECTOR, "tr[data-node=oslomet]")) == 1)
    h.execute_script("window.confirm = function () { return true; };")
    h.find_element(By.CSS_SELECTOR, "tr[data-node=oslomet] button.danger").click()
    run.wait(h, "revoking it from the page", lambda d: "Revoked oslomet" in d.page_source)
    revoked = json.loads(fed.on("brussels", "get", "nodes/oslomet", "--json").stdout)["fields"].get("revoked")
    run.check("...writes revoked = true", revoked is True, str(revoked))

    print("== cross-site protection")
    answer = b.execute_async_script("""
        var done = arguments[arguments.length - 1];
        fetch('/api/records/contacts/csrf-probe', {method: 'POST', headers: {'Content-Type': 'application/json'},
              body: JSON.stringify({changes: ['name=Probe', 'organisation=baerum']})})
          .then(function (r) { return r.text().then(function (t) { done([r.status, t]); }); });""")
    run.check("a write without the CSRF token is refused", answer[0] == 403 and "CSRF" in answer[1], str(answer))
    answer = b.execute_async_script("""
        var done = arguments[arguments.length - 1];
        var token = document.querySelector('meta[name=csrf-token]').content;
        fetch('/api/records/contacts/csrf-probe', {method: 'POST', headers: {'Content-Type': 'application/json', 'X-CSRF-Token': token},
              body: JSON.stringify({changes: ['name=Probe', 'organisation=baerum']})})
          .then(function (r) { return r.text().then(function (t) { done([r.status, t]); }); });""")
    run.check("...and accepted with it (the JSON API)", answer[0] == 200 and '"ok":true' in answer[1], str(answer))

    print("== with the keyboard only")
    from selenium.webdriver.common.keys import Keys
    fed.converge(["brussels", "asker", "baerum"])  # nothing arriving that would redraw the page
    a.get(base_a + "/r/organisations/asker")
    a.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    run.check("the first Tab reaches the skip link", a.switch_to.active_element.get_attribute("class") == "skip")
    a.switch_to.active_element.send_keys(Keys.ENTER)
    run.check("...which moves the focus to the page's content", a.switch_to.active_element.get_attribute("id") == "main")
    field = a.find_element(By.ID, "f-website")
    field.send_keys("https://www.asker.kommune.no" + Keys.ENTER)
    run.wait(a, "Enter in a field saves the form", lambda d: "Saved 1 change" in d.page_source)
    run.check("...and the value is stored", json.loads(fed.on("asker", "get", "organisations/asker", "--json").stdout)["fields"].get("website") == "https://www.asker.kommune.no")

    print("== on a phone-sized screen")
    p = browser(os.path.join(root, "profile-phone"), width=390, height=844, phone=True)
    run.drivers.append(p)
    p.get(fed.login_link("asker"))
    p.get(base_a + "/r/organisations/asker")
    overflow = p.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
    run.check("the record page fits a 390 px wide screen", overflow <= 1, f"overflow {overflow}px")
    run.shot(p, "phone-record", full=False)


if __name__ == "__main__":
    sys.exit(main())
