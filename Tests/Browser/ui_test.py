"""The web UI in a real headless Chromium, against the built `almanac serve` and a real
webhook receiver on 127.0.0.1. Run by tools/browser-test.sh (part of `make test`).

A person's path through the UI: create a task firing every 2 seconds through the form, watch
its state and runs change without reloading, pause it and see firing stop, edit it, get a
validation error for a bad cron expression, delete it. Screenshots of every page go to
SCREENSHOTS (default .build/browser-screenshots)."""

import http.server
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.support.ui import WebDriverWait

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ALMANAC = os.environ.get("ALMANAC", os.path.join(ROOT, ".build", "debug", "almanac"))
SCREENSHOTS = os.environ.get("SCREENSHOTS", os.path.join(ROOT, ".build", "browser-screenshots"))


class Receiver:
    """Counts the webhook calls it answers (200), by path."""

    def __init__(self):
        self.calls = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                with receiver.lock:
                    receiver.calls.append((time.time(), self.path, self.headers.get("Idempotency-Key"), self.headers.get("Authorization")))
                body = b"ok"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self, path):
        with self.lock:
            return sum(1 for _, p, _, _ in self.calls if p == path)

    def last_authorization(self, path):
        with self.lock:
            return next((a for _, p, _, a in reversed(self.calls) if p == path), None)

    def stop(self):
        self.server.shutdown()


def start_server(data_dir):
    process = subprocess.Popen(
        [ALMANAC, "serve", "--data-dir", data_dir, "--port", "0", "--log-format", "text", "--log-level", "warning"],
        stdout=subprocess.PIPE, text=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        line = process.stdout.readline()
        match = re.match(r"almanac: listening on (http://\S+)", line)
        if match:
            return process, match.group(1)
    process.kill()
    raise RuntimeError("almanac serve did not report its address")


def api(base, path):
    with urllib.request.urlopen(base + path, timeout=10) as response:
        return json.loads(response.read())


def post(base, path, body, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


class UI:
    def __init__(self, base):
        options = webdriver.ChromeOptions()
        options.add_argument("--headless=new")
        options.add_argument("--no-sandbox")
        options.add_argument("--disable-dev-shm-usage")
        options.add_argument("--window-size=1280,1000")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        binary = os.environ.get("CHROMIUM", "/usr/bin/chromium")
        if os.path.exists(binary):
            options.binary_location = binary
        service = webdriver.ChromeService(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
        self.driver = webdriver.Chrome(options=options, service=service)
        self.base = base
        self.shots = 0
        os.makedirs(SCREENSHOTS, exist_ok=True)

    def wait(self, condition, timeout=15, message=""):
        # Rows are redrawn as events arrive: an element found a moment ago may be replaced.
        ignored = [StaleElementReferenceException, NoSuchElementException]
        return WebDriverWait(self.driver, timeout, poll_frequency=0.1, ignored_exceptions=ignored).until(condition, message)

    def click(self, css):
        """Clicks the element `css` names, finding it again if a redraw replaced it."""
        def attempt(driver):
            driver.find_element(By.CSS_SELECTOR, css).click()
            return True
        self.wait(attempt, message=f"could not click {css}")

    def focused(self):
        """The focused element's tag, aria-label and text, read in one go (rows are redrawn live)."""
        return self.driver.execute_script(
            "const e = document.activeElement;"
            "return [e.tagName.toLowerCase(), e.getAttribute('aria-label') || '', (e.textContent || '').trim().slice(0, 40), e.className || ''];")

    def tab_to(self, label, limit=60):
        """Presses Tab until the control named `label` has the focus."""
        seen = []
        for _ in range(limit):
            tag, aria, text, _ = self.focused()
            if aria == label:
                return
            seen.append(aria or f"{tag}:{text[:20]}")
            ActionChains(self.driver).send_keys(Keys.TAB).perform()
        raise AssertionError(f"Tab never reached “{label}”; it went through {seen[:25]}")

    def attr(self, css, name):
        return self.wait(lambda d: d.find_element(By.CSS_SELECTOR, css).get_attribute(name) or "", message=f"no {css}")

    def find(self, css):
        return self.wait(EC.visibility_of_element_located((By.CSS_SELECTOR, css)), message=f"no visible {css}")

    def text_in(self, css, text, timeout=15):
        self.wait(EC.text_to_be_present_in_element((By.CSS_SELECTOR, css), text), timeout, f"“{text}” never appeared in {css}")

    def heading(self, text):
        self.text_in("main h1", text)

    def shot(self, name):
        self.shots += 1
        path = os.path.join(SCREENSHOTS, f"{self.shots:02d}-{name}.png")
        # The whole page: the window grows to the document's height for the picture.
        size = self.driver.get_window_size()
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(size["width"], min(max(height + 140, size["height"]), 4000))
        self.driver.save_screenshot(path)
        self.driver.set_window_size(size["width"], size["height"])
        print(f"  screenshot {path}")

    def set(self, css, value):
        element = self.find(css)
        element.clear()
        element.send_keys(value)

    def errors(self):
        """Severe console entries, except the 422 answers the invalid-cron step asks for."""
        return [entry for entry in self.driver.get_log("browser")
                if entry["level"] == "SEVERE" and not (entry["source"] == "network" and "status of 422" in entry["message"])]


def check(condition, message):
    if not condition:
        raise AssertionError(message)
    print(f"  ok: {message}")


def main():
    receiver = Receiver()
    hook = f"http://127.0.0.1:{receiver.port}/heartbeat"
    with tempfile.TemporaryDirectory(prefix="almanac-ui-") as data_dir:
        server, base = start_server(data_dir)
        ui = None
        try:
            ui = UI(base)
            driver = ui.driver

            # The dashboard, empty, with the live stream connected.
            driver.get(base + "/")
            ui.heading("Dashboard")
            ui.text_in("#live-status", "live")
            check("Nothing runs in the next hour." in driver.page_source, "the empty dashboard says nothing is due")
            ui.shot("dashboard-empty")
            driver.execute_script("window.__sameDocument = true")

            # Create through the form: every 2 seconds, to the receiver.
            driver.find_element(By.LINK_TEXT, "New task").click()
            ui.heading("New task")
            ui.set("#f-name", "heartbeat")
            ui.set("#f-description", "Pings the receiver every two seconds")
            ui.set("#f-labels", "team=ops")
            driver.find_element(By.CSS_SELECTOR, 'input[name="kind"][value="every"]').click()
            ui.set("#f-schedule-every", "2s")
            ui.set("#f-action-url", hook)
            ui.set("#f-action-body", '{"run": "{{runId}}"}')
            ui.set("#f-action-secretHeaders", "Authorization: Bearer ui-secret-123")
            # The preview follows the typing (debounced): wait for the one of the final schedule.
            ui.text_in(".preview", "every 2 seconds")
            ui.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".preview li")) == 10, message="the preview never showed 10 runs")
            check(True, "the preview describes the schedule in words and lists 10 runs")
            ui.shot("form-new")
            driver.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()
            ui.heading("heartbeat")
            task_id = re.search(r"#/tasks/([^/?]+)", driver.current_url).group(1)
            check(task_id.startswith("t"), f"created task {task_id}; the page shows it")

            # Runs appear on the task page without a reload.
            ui.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "tr[data-run-id] td.outcome-succeeded")) >= 2, 20,
                    "runs did not appear on the task page")
            check(driver.execute_script("return window.__sameDocument === true"), "runs appeared without reloading the page")
            ui.find("svg.chart")
            check(receiver.last_authorization("/heartbeat") == "Bearer ui-secret-123", "the secret header reached the receiver")
            check("Authorization: •••••• (secret)" in driver.find_element(By.CSS_SELECTOR, "main").text
                  and "ui-secret-123" not in driver.page_source, "the task page masks the secret header")
            ui.shot("task-detail")

            # The list: state and counts change live.
            driver.find_element(By.LINK_TEXT, "← All tasks").click()
            ui.heading("Tasks")
            row = f'tr[data-task-id="{task_id}"]'
            ui.find(row)
            first = ui.wait(lambda d: int(re.search(r"(\d+) ok", d.find_element(By.CSS_SELECTOR, row).text).group(1)) + 1) - 1
            ui.wait(lambda d: int(re.search(r"(\d+) ok", d.find_element(By.CSS_SELECTOR, row).text).group(1)) > first, 15,
                    "the run count in the list did not grow")
            check(driver.execute_script("return window.__sameDocument === true"), "the list updated from the stream, no reload")
            states = set()
            deadline = time.time() + 8
            while time.time() < deadline and len(states) < 2:
                states.add(ui.attr(f"{row} .badge", "data-state"))
                time.sleep(0.05)
            check(states <= {"waiting", "running"} and "waiting" in states, f"the state badge shows {sorted(states)}")
            ui.shot("tasks-live")

            # Pause: firing stops.
            ui.click(f'{row} button[aria-label="Pause heartbeat"]')
            ui.wait(lambda d: d.find_element(By.CSS_SELECTOR, f"{row} .badge").get_attribute("data-state") == "paused", 10,
                    "the badge never showed paused")
            time.sleep(1)  # a call in flight at the pause may still land
            paused_count = receiver.count("/heartbeat")
            time.sleep(5)
            check(receiver.count("/heartbeat") == paused_count, f"no call in the 5 s after pausing ({paused_count} before)")
            check(api(base, f"/v1/tasks/{task_id}")["status"] == "paused", "the API agrees the task is paused")
            ui.shot("tasks-paused")

            # Edit: every 3 s, a new name; resume.
            ui.click(f"{row} a")
            ui.heading("heartbeat")
            driver.find_element(By.LINK_TEXT, "Edit").click()
            ui.heading("Edit")
            check(driver.find_element(By.ID, "f-action-secretHeaders").get_attribute("value") == "Authorization: ••••••",
                  "the edit form shows the stored secret as kept, without its value")
            ui.set("#f-name", "heartbeat-3s")
            ui.set("#f-schedule-every", "3s")
            ui.wait(lambda d: "every 3 seconds" in d.find_element(By.CSS_SELECTOR, ".preview").text, message="preview did not follow the edit")
            ui.shot("form-edit")
            driver.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()
            ui.heading("heartbeat-3s")
            check("every 3 seconds" in driver.find_element(By.CSS_SELECTOR, "main").text, "the task page shows the new schedule")
            ui.click('button[aria-label="Resume heartbeat-3s"]')
            ui.wait(lambda d: d.find_element(By.CSS_SELECTOR, "main .badge").get_attribute("data-state") in ("waiting", "running"), 10,
                    "the task did not resume")
            resumed_at = receiver.count("/heartbeat")
            ui.wait(lambda d: receiver.count("/heartbeat") > resumed_at, 10, "no call after resuming")
            check(True, "calls resumed after Resume")
            check(receiver.last_authorization("/heartbeat") == "Bearer ui-secret-123", "the edit kept the secret header")

            # Live updates keep the keyboard focus where it was.
            driver.execute_script("document.querySelector('button[aria-label=\"Pause heartbeat-3s\"]').focus()")
            version_before = api(base, f"/v1/tasks/{task_id}")["version"]
            time.sleep(7)
            check(api(base, f"/v1/tasks/{task_id}")["version"] > version_before, "the task ran meanwhile (its page redrew)")
            check(ui.focused()[1] == "Pause heartbeat-3s",
                  "the focus stayed on Pause through the live redraws")

            # The skip link moves the focus to the content and stays on the page.
            driver.execute_script("document.querySelector('.skip-link').focus()")
            ActionChains(driver).send_keys(Keys.ENTER).perform()
            check(ui.focused()[0] == "h1" and "heartbeat-3s" in ui.focused()[2],
                  "the skip link focused the page's heading, not a 'Not found' page")

            # Editing while it runs (each run raises the version): saved, since the definition did not change meanwhile.
            driver.find_element(By.LINK_TEXT, "Edit").click()
            ui.heading("Edit")
            ui.set("#f-description", "Edited while running")
            time.sleep(4)  # at least one run lands between loading the form and saving it
            driver.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()
            ui.heading("heartbeat-3s")
            check(api(base, f"/v1/tasks/{task_id}")["description"] == "Edited while running", "an edit of a running task is saved")

            # A reason typed on the task page is recorded with the command, and shown as the "why".
            ui.set("#action-reason", "checking the hook by hand")
            ui.click('button[aria-label="Run heartbeat-3s now"]')
            ui.text_in('section[aria-labelledby="history-title"]', "checking the hook by hand")
            events = api(base, f"/v1/tasks/{task_id}/events?limit=1000")["items"]
            check(any(e["type"] == "RunTriggered" and e["reason"] == "checking the hook by hand" for e in events),
                  "the trigger's event carries the reason")

            # A bad cron expression: the server's reason next to the cron field, nothing created.
            before = len(api(base, "/v1/tasks?status=active,paused,completed,deleted")["items"])
            driver.find_element(By.LINK_TEXT, "New task").click()
            ui.heading("New task")
            ui.set("#f-name", "broken")
            driver.find_element(By.CSS_SELECTOR, 'input[name="kind"][value="cron"]').click()
            ui.set("#f-schedule-cron", "61 * * * * *")
            ui.set("#f-action-url", hook)
            ui.text_in(".preview", "Not a valid schedule")
            driver.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()
            error = ui.find('.field[data-field="schedule.cron"] .error')
            check("61" in error.text or "second" in error.text.lower(), f"the cron field shows the server's reason: {error.text!r}")
            check(driver.find_element(By.ID, "f-schedule-cron").get_attribute("aria-invalid") == "true", "the field is marked invalid")
            check(driver.switch_to.active_element.get_attribute("id") == "f-schedule-cron", "focus moved to the field in error")
            check(len(api(base, "/v1/tasks?status=active,paused,completed,deleted")["items"]) == before, "nothing was created")
            ui.shot("form-invalid-cron")

            # A cron task in a DST zone: the preview marks the transition.
            driver.find_element(By.CSS_SELECTOR, 'input[name="kind"][value="cron"]').click()
            ui.set("#f-schedule-cron", "0 30 2 * * *")
            ui.set("#f-schedule-timeZone", "America/New_York")
            # 2027-03-14 02:30 does not exist in New York (clocks go forward): starting from the 10th.
            driver.execute_script(
                "const input = document.getElementById('f-schedule-startAt');"
                "input.value = '2027-03-10T00:00:00'; input.dispatchEvent(new Event('input', {bubbles: true}));")
            ui.wait(lambda d: "DST" in d.find_element(By.CSS_SELECTOR, ".preview").text, message="no DST mark in the preview")
            check("daily at 02:30 America/New_York" in ui.find(".preview").text, "a cron schedule in words")
            ui.shot("form-dst-preview")

            # The dashboard with a task and runs.
            driver.find_element(By.LINK_TEXT, "Dashboard").click()
            ui.heading("Dashboard")
            ui.text_in("main", "runs started")
            ui.shot("dashboard")

            # Narrow screen.
            driver.set_window_size(400, 900)
            driver.find_element(By.LINK_TEXT, "Tasks").click()
            ui.heading("Tasks")
            ui.find(row)
            ui.shot("tasks-narrow")
            driver.set_window_size(1280, 1000)

            # The keyboard alone. The skip link is the first thing Tab can reach; from the page's
            # heading (focused on each page change), Tab reaches "Run now" and Enter runs it.
            first = driver.execute_script(
                "return document.querySelector('a[href], button, input, select, textarea, [tabindex]:not([tabindex=\"-1\"])').className")
            check(first == "skip-link", "the skip link is the first focusable element")
            check(ui.focused()[0] == "h1", "the page's heading has the focus after navigation")
            ui.wait(EC.invisibility_of_element_located((By.CSS_SELECTOR, "#toast")), 10, "a toast stayed up")
            before_trigger = receiver.count("/heartbeat")
            ui.tab_to("Run heartbeat-3s now")
            ActionChains(driver).send_keys(Keys.ENTER).perform()
            ui.text_in("#toast", "Triggered heartbeat-3s")
            ui.wait(lambda d: receiver.count("/heartbeat") > before_trigger, 10, "the keyboard trigger made no call")
            check(True, "a task triggered with the keyboard alone ran")

            # Delete, with the keyboard, after confirming: the dialog opens on Cancel.
            ui.tab_to("Delete heartbeat-3s")
            ActionChains(driver).send_keys(Keys.ENTER).perform()
            dialog = ui.find("dialog[open]")
            check(ui.focused()[2] == "Cancel", "the confirmation opens with Cancel focused")
            ui.shot("delete-confirm")
            ActionChains(driver).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
            check(ui.focused()[2] == "Delete", "Shift+Tab reaches Delete")
            ActionChains(driver).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
            check(ui.focused()[0] == "input", "Shift+Tab again reaches the reason field")
            ActionChains(driver).send_keys("cleanup after the test", Keys.TAB, Keys.ENTER).perform()
            ui.wait(lambda d: not d.find_elements(By.CSS_SELECTOR, row), 10, "the deleted task stayed in the list")
            check(api(base, f"/v1/tasks/{task_id}")["status"] == "deleted", "the API shows the task deleted")
            ui.shot("tasks-after-delete")

            # The history tells who did what.
            driver.get(f"{base}/#/tasks/{task_id}")
            ui.heading("heartbeat-3s")
            history = ui.find('section[aria-labelledby="history-title"]').text
            for words in ["created", "paused", "resumed", "definition replaced", "deleted", "web-ui", "cleanup after the test"]:
                check(words in history, f"the history shows “{words}”")
            ui.shot("task-history")

            errors = ui.errors()
            check(not errors, f"no errors in the browser console: {errors}")

            # Tokens: once one exists the UI asks for one; the stream carries it; a viewer gets
            # no command buttons; signing out asks again.
            admin = post(base, "/v1/tokens", {"name": "browser-admin", "role": "admin"})["token"]
            viewer = post(base, "/v1/tokens", {"name": "browser-viewer", "role": "viewer"}, admin)["token"]
            driver.get(f"{base}/#/tasks")
            driver.refresh()
            ui.heading("Sign in")
            ui.text_in("#live-status", "signed out")
            ui.shot("sign-in")
            ui.set("#token", viewer)
            ui.click("main form button.primary")
            ui.heading("Tasks")
            ui.text_in("#caller", "browser-viewer · viewer")
            ui.text_in("#live-status", "live")
            check(not driver.find_elements(By.CSS_SELECTOR, "main .actions button"), "a viewer sees no command buttons")
            check(not driver.find_element(By.CSS_SELECTOR, 'nav a[data-nav="new"]').is_displayed(), "a viewer is not offered New task")
            post(base, "/v1/tasks", {"name": "made-while-signed-in", "schedule": {"every": "1h"},
                                     "action": {"url": f"http://127.0.0.1:{receiver.port}/signed"}}, admin)
            ui.text_in("main", "made-while-signed-in", 15)
            check(True, "the list updated live through the authenticated stream")
            ui.shot("signed-in-viewer")
            ui.click("#caller button")
            ui.heading("Sign in")
            ui.set("#token", admin)
            ui.click("main form button.primary")
            ui.heading("Tasks")
            ui.text_in("#caller", "browser-admin · admin")
            ui.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "main .actions button"), 10, "an admin sees command buttons")
            check(driver.find_element(By.CSS_SELECTOR, 'nav a[data-nav="new"]').is_displayed(), "an admin is offered New task")
            # A long history shows the latest 200 events, and older ones on request.
            chatty = post(base, "/v1/tasks", {"name": "chatty", "schedule": {"every": "1h"},
                                              "action": {"url": f"http://127.0.0.1:{receiver.port}/chatty"}}, admin)["id"]
            for _ in range(80):
                post(base, f"/v1/tasks/{chatty}/trigger", {}, admin)
            def history_size():
                request = urllib.request.Request(f"{base}/v1/tasks/{chatty}/events?limit=1000", headers={"Authorization": f"Bearer {admin}"})
                with urllib.request.urlopen(request, timeout=10) as response:
                    return len(json.loads(response.read())["items"])
            ui.wait(lambda d: history_size() >= 241, 60, "the 80 triggered runs did not all finish")
            driver.get(f"{base}/#/tasks/{chatty}")
            ui.heading("chatty")
            ui.text_in('section[aria-labelledby="history-title"]', "The latest 200 of")
            rows = lambda d: len(d.find_elements(By.CSS_SELECTOR, 'section[aria-labelledby="history-title"] tbody tr'))
            check(rows(driver) == 200, "the history shows the latest 200 events")
            ui.click('section[aria-labelledby="history-title"] button.link')
            ui.wait(lambda d: rows(d) >= 241, 10, "older events did not appear")
            check(True, "older events appear on request")
            errors = [e for e in ui.errors() if "status of 401" not in e["message"]]
            check(not errors, f"no errors in the browser console besides the expected 401s: {errors}")
        finally:
            if ui:
                ui.driver.quit()
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
            receiver.stop()
    print("browser test passed")


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # noqa: BLE001 - report and fail
        print(f"browser test FAILED: {error}", file=sys.stderr)
        sys.exit(1)
