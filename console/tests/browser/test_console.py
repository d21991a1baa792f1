"""The approval console in a real browser: headless Chromium driven by
Selenium against a real `warden serve` with a `[console]`.

An approver signs in, sees a pending plan appear without reloading, opens
it, sees the rule and the marked step, approves with a reason and gets the
token over gRPC; denies another; a submitter cannot sign in; a POST without
the CSRF token is refused; and plans whose names, goals and string arguments
carry script payloads render as text and run nothing (payload verbatim, no
element from it, no CSP violation reported, no request to a canary URL), on
the server-rendered pages, through the live updates and through the
highlighter.

Screenshots go to $CONSOLE_SHOTS (run.sh: target/console-screenshots, or
docs/console for `make docs-screenshots`).
"""

import http.server
import os
import shutil
import sys
import tempfile
import threading
import time
import unittest

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from test_service import APPROVER, SUBMITTER, make_service_dir, start_server, stop_server
from warden_client import WardenClient, pb

SHOTS = os.environ.get("CONSOLE_SHOTS", "")
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


SPEC = """spec "bank" {
  allow call get_balance
  approve call send_money when amount <= 1000
}
"""

# Violations the page reports, collected before any page script runs (a
# DevTools script is not subject to the page's CSP).
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
window.alert = window.confirm = window.prompt = () => { window.__csp.push('dialog opened'); };
"""

# Every element a payload would create, and every event handler attribute.
FOREIGN = """
const bad = [];
document.querySelectorAll('[id^=xss], [class^=xss], img, svg, iframe, object, embed, style, base, meta[http-equiv]')
  .forEach(e => bad.push(e.outerHTML.slice(0, 120)));
const scripts = [...document.scripts].map(s => s.src);
if (scripts.length !== 1 || !scripts[0].endsWith('/static/console.js')) bad.push('scripts: ' + scripts.join(' '));
document.querySelectorAll('*').forEach(e => {
  for (const a of e.attributes) {
    if (a.name.startsWith('on') || /^\\s*javascript:/i.test(a.value)) bad.push(e.tagName + ' ' + a.name);
  }
});
return bad;
"""


def q(s):
    """A plan-language string literal."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def plan(name, goal, recipient, amount=10):
    return (f"plan {q(name)} {{\n  agent \"bot\"\n  goal {q(goal)}\n  call get_balance()\n"
            f"  call send_money(recipient = {q(recipient)}, amount = {amount})\n}}\n")


class Canary:
    """An HTTP server that counts every request: a payload that ran would call it."""

    def __init__(self):
        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append(self.path)
                self.send_response(204)
                self.end_headers()

            do_POST = do_GET

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def payloads(canary):
    """Classic XSS vectors; each would call the canary or make an element with an xss id."""
    c = canary
    return [
        f"<script>fetch('{c}/script')</script>",
        f"<img id=xss1 src={c}/img onerror=\"fetch('{c}/onerror')\">",
        f"\"><svg id=xss2 onload=fetch('{c}/svg')>",
        f"</textarea><script>fetch('{c}/textarea')</script>",
        f"<iframe id=xss3 src=\"javascript:fetch('{c}/iframe')\"></iframe>",
        f"<a id=xss4 href=\"javascript:fetch('{c}/href')\">click</a>",
        f"'-fetch('{c}/quote')-'",
        f"<style>@import '{c}/css';</style><b class=xss5>bold</b>",
        f"<body onload=fetch('{c}/body')>",
        f"<math><mtext><table><mglyph><style><img id=xss6 src={c}/mxss>",
    ]


class ConsoleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        # The Python client test's service directory and credentials, with a console.
        make_service_dir(d, {"bank": SPEC})
        with open(os.path.join(d, "serve.toml"), "a") as f:
            f.write('\n[console]\nlisten = "127.0.0.1:0"\nsign_in_per_minute = 100\n')
        cls.log = open(os.path.join(d, "serve.log"), "w+")
        cls.server, cls.target = start_server(d, cls.log)
        second = cls.server.stdout.readline()
        if not second.startswith("console listening on http://"):
            stop_server(cls.server)
            cls.log.seek(0)
            raise RuntimeError("the console did not start: " + second + cls.log.read())
        cls.base = second.split()[-1]
        cls.sub = WardenClient(cls.target, SUBMITTER)
        cls.appr = WardenClient(cls.target, APPROVER)
        cls.sub.wait_ready()
        cls.canary = Canary()

        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--window-size=1280,900", "--no-first-run", "--disable-extensions"):
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        cls.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        cls.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH})
        # A page the test polls may be replaced meanwhile (a decision's
        # redirect, a live update): an element found on the old one is stale.
        cls.wait = WebDriverWait(
            cls.driver, 20, ignored_exceptions=(StaleElementReferenceException,)
        )

    @classmethod
    def tearDownClass(cls):
        cls.driver.quit()
        cls.canary.close()
        cls.sub.close()
        cls.appr.close()
        stop_server(cls.server)
        cls.log.close()
        cls.tmp.cleanup()

    # helpers

    def go(self, path):
        self.driver.get(self.base + path)

    def shot(self, name):
        if SHOTS:
            os.makedirs(SHOTS, exist_ok=True)
            # The whole page, up to a bound.
            h = self.driver.execute_script("return document.documentElement.scrollHeight")
            self.driver.set_window_size(1280, min(max(h + 140, 600), 2400))
            self.driver.save_screenshot(os.path.join(SHOTS, name + ".png"))
            self.driver.set_window_size(1280, 900)

    def sign_in(self, secret):
        self.driver.delete_all_cookies()
        self.go("/login")
        self.driver.find_element(By.ID, "secret").send_keys(secret)
        self.driver.find_element(By.CSS_SELECTOR, "#signin button").click()

    def sign_in_approver(self):
        self.sign_in(APPROVER)
        self.wait.until(lambda d: d.find_elements(By.ID, "pending"))

    def text(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css).text

    def row(self, approval_id):
        rows = self.driver.find_elements(By.CSS_SELECTOR, f'#pending tr[data-id="{approval_id}"]')
        return rows[0] if rows else None

    def assert_clean(self, where):
        """No element from a payload, no CSP violation, no dialog, no canary request."""
        bad = self.driver.execute_script(FOREIGN)
        self.assertEqual(bad, [], where)
        self.assertEqual(self.driver.execute_script("return window.__csp"), [], where)
        logs = [e["message"] for e in self.driver.get_log("browser")
                if "Content Security Policy" in e["message"] or "Refused to" in e["message"]]
        self.assertEqual(logs, [], where)
        self.assertEqual(self.canary.hits, [], where)

    # tests

    def test_a_submitter_cannot_sign_in(self):
        self.sign_in(SUBMITTER)
        err = self.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "p.error"))
        self.assertIn("submitter", err[0].text)
        self.assertTrue(self.driver.current_url.endswith("/login"))
        self.go("/")
        self.assertTrue(self.driver.current_url.endswith("/login"), "no session was made")

    def test_sign_in_see_live_approve_and_deny(self):
        self.sign_in_approver()
        self.driver.execute_script("window.__noReload = 'still here'")
        r = self.sub.submit(plan("pay rent", "pay this month's rent", "UK12345678901234567890", 950),
                            "bank", "bot")
        self.assertTrue(r.approval_id)
        # It appears without a reload (the marker set on this page survives).
        self.wait.until(lambda d: self.row(r.approval_id) is not None)
        self.assertEqual(self.driver.execute_script("return window.__noReload"), "still here")
        self.assertEqual(self.row(r.approval_id).find_element(By.CSS_SELECTOR, "a").text, "pay rent")
        self.assert_clean("pending list, live")
        self.shot("pending")

        self.row(r.approval_id).find_element(By.CSS_SELECTOR, "a").click()
        self.wait.until(lambda d: d.find_elements(By.ID, "marks"))
        self.assertEqual(self.text("#marks .rule"), "approve call send_money when amount <= 1000")
        self.assertRegex(self.text("#marks .rule-at"), r"bank\.spec:3:3$")
        marked = self.driver.find_elements(By.CSS_SELECTOR, "pre.plan .line.marked")
        self.assertEqual(len(marked), 1)
        self.assertIn("send_money", marked[0].text)
        self.assertIn("needs approval", marked[0].text)
        self.assertIn("send_money", self.text("#envelope"))
        self.assert_clean("plan page")
        self.shot("plan")

        self.driver.find_element(By.ID, "reason").send_keys("rent is due; payee checked")
        self.driver.find_element(By.ID, "approve").click()
        self.wait.until(lambda d: d.find_element(By.ID, "state").text == "approved")
        a = self.appr.get_approval(r.approval_id)
        self.assertEqual(a.decided_by, "alice")
        self.assertEqual(a.decision_reason, "rent is due; payee checked")
        self.assertTrue(a.token.startswith("v4.public."))
        self.assertEqual(self.text("#token-id"), a.token_id)

        # Deny another.
        r2 = self.sub.submit(plan("pay twice", "again", "UK12345678901234567890", 900), "bank", "bot")
        self.go("/approvals/" + r2.approval_id)
        self.driver.find_element(By.ID, "reason").send_keys("already paid")
        self.driver.find_element(By.ID, "deny").click()
        self.wait.until(lambda d: d.find_element(By.ID, "state").text == "denied")
        d2 = self.appr.get_approval(r2.approval_id)
        self.assertEqual(d2.decision_reason, "already paid")
        self.assertFalse(d2.token)

        self.go("/audit")
        self.assertIn("Chain verified", self.text("#chain"))
        self.assert_clean("audit page")
        self.shot("audit")

    def test_a_post_without_the_csrf_token_is_refused(self):
        self.sign_in_approver()
        r = self.sub.submit(plan("csrf", "g", "UK12345678901234567890"), "bank", "bot")
        self.go("/approvals/" + r.approval_id)
        self.driver.execute_script("document.querySelector('#decide input[name=csrf]').remove()")
        self.driver.find_element(By.ID, "reason").send_keys("no token")
        self.driver.find_element(By.ID, "approve").click()
        err = self.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "p.error"))
        self.assertIn("CSRF", err[0].text)
        self.assertEqual(self.appr.get_approval(r.approval_id).state, pb.APPROVAL_STATE_PENDING)

    def test_script_payloads_render_as_text_and_run_nothing(self):
        self.sign_in_approver()
        self.driver.execute_script("window.__noReload = 1")
        vectors = payloads(self.canary.url)
        ids = []
        for v in vectors:
            r = self.sub.submit(plan(v, v, v), "bank", "bot")
            ids.append((v, r.approval_id))
        # Through the live updates.
        try:
            self.wait.until(lambda d: all(self.row(i) is not None for _, i in ids))
        except TimeoutException:
            self.fail("the payload plans did not appear live")
        self.assertEqual(self.driver.execute_script("return window.__noReload"), 1)

        def check_rows(where):
            for v, i in ids:
                row = self.row(i)
                self.assertEqual(row.find_element(By.CSS_SELECTOR, "a").text, v, where)
                self.assertIn("recipient = " + q(v), row.find_element(By.CSS_SELECTOR, ".reasons").text, where)
            self.assert_clean(where)

        check_rows("pending list, live updates")
        # Server-rendered.
        self.driver.refresh()
        self.wait.until(lambda d: all(self.row(i) is not None for _, i in ids))
        check_rows("pending list, server-rendered")
        # Each plan's page, through the highlighter.
        for v, i in ids:
            self.go("/approvals/" + i)
            self.assertEqual(self.text("#plan-name"), v)
            code = self.text("pre.plan")
            self.assertIn("goal " + q(v), code)
            self.assertIn("recipient = " + q(v), code)
            self.assertIn("recipient = " + q(v), self.text("#marks .action"))
            self.assert_clean("plan page " + i)
            self.go("/audit/runs/" + self.appr.get_approval(i).submission_id)
            self.assertIn("goal " + q(v), self.text("pre.plan"))
            self.assert_clean("run page " + i)
        self.go("/audit")
        self.assert_clean("audit page")
        # Give a payload that had run a moment to reach the canary.
        time.sleep(0.5)
        self.assertEqual(self.canary.hits, [])


if __name__ == "__main__":
    for exe in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(exe):
            sys.exit(f"{exe} is missing: run `make deps` (Debian packages chromium, chromium-driver)")
    unittest.main(verbosity=2)
