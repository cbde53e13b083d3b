# SPDX-License-Identifier: Apache-2.0
"""The status page of `iocbus run` in a real browser (issue #16 §1): Debian's
headless Chromium through chromedriver and Selenium, on loopback, with
http.auth on (the browser sends the bearer token through the DevTools
protocol, as a reverse proxy would add it).

- the page loads and fills in from /v1/status with no console error;
- the throughput charts render: a canvas per input and per source, with
  drawn pixels;
- the lookup box finds a planted indicator and shows its event;
- a MISP change published on ZeroMQ shows up without a reload (the store's
  indicator count and the source's update count move);
- the last matches list an amber match masked (http.status.max_tlp green) and
  show a hostile event info as text, with no element injected.

A screenshot is kept as a test artefact in the build directory
(<build>/test-artefacts/status_page.png), not in the repository.
Exits 77 (skipped, ctest SKIP_RETURN_CODE) with a message only when chromium,
chromedriver or python3-selenium are not installed (scripts/deps.sh installs them).
"""
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Iocbus, Misp, report, wait_until  # noqa: E402

TOKEN = "status-page-token-0123456789"
PLANTED = "203.0.113.77"
AMBER = "198.51.100.66"
HOSTILE = "op <img src=x onerror=\"document.title='pwned'\"> & \"quotes\""
NEW = "fresh-change.example"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def skip_if_no_browser():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("python3-selenium")
    if missing:
        print("SKIPPED: the status page browser test needs %s (scripts/deps.sh installs chromium, "
              "chromium-driver and python3-selenium)" % ", ".join(missing))
        sys.exit(77)


def artefact_dir():
    """<build dir>/test-artefacts: the build dir is the one holding CMakeCache.txt above IOCB_BIN."""
    d = os.path.dirname(os.path.abspath(os.environ.get("IOCB_BIN", "build/ci/src/cli/iocbus")))
    while d != "/" and not os.path.exists(os.path.join(d, "CMakeCache.txt")):
        d = os.path.dirname(d)
    if d == "/":
        d = tempfile.gettempdir()
    out = os.path.join(d, "test-artefacts")
    os.makedirs(out, exist_ok=True)
    return out


class AuthIocbus(Iocbus):
    """The harness's daemon, with the bearer token on every request of the test's own client."""

    def get(self, path, timeout=10):
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request("GET", path, headers={"Authorization": "Bearer " + TOKEN})
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()


def browser(tmp):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1400,2000", "--no-first-run", "--disable-extensions",
              "--disable-background-networking", "--user-data-dir=" + os.path.join(tmp, "chromium")):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER, log_path=os.path.join(tmp, "chromedriver.log")),
                           options=opts)
    drv.set_page_load_timeout(30)
    drv.set_script_timeout(30)
    drv.execute_cdp_cmd("Network.enable", {})
    drv.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": "Bearer " + TOKEN}})
    return drv


def text(drv, css):
    return drv.execute_script("var e = document.querySelector(arguments[0]); return e ? e.textContent : null;", css)


def store_count(drv):
    """The store table's "indicators" figure, as an int (None until rendered)."""
    v = drv.execute_script(
        "var r = [].slice.call(document.querySelectorAll('#store tr'));"
        "for (var i = 0; i < r.length; i++) if (r[i].cells[0].textContent === 'indicators')"
        "  return r[i].cells[1].textContent; return null;")
    return int(v.replace(",", "")) if v and v != "–" else None


# Per chart canvas: drawn pixels (alpha > 0), pixels of the "events" line's blue (#1f6feb, anti-aliased
# shades included) that rise above the baseline, and its data-points attribute.
CANVAS_JS = """
return [].slice.call(document.querySelectorAll('#charts canvas')).map(function (c) {
  var d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, n = 0, blue = 0;
  for (var i = 0; i < d.length; i += 4) {
    if (d[i + 3] > 0) n++;
    var y = Math.floor(i / 4 / c.width);
    if (d[i + 3] > 0 && d[i + 2] > 180 && d[i] < 120 && d[i + 1] < 160 && y < c.height - 4) blue++;
  }
  return {pixels: n, blue: blue, points: parseInt(c.dataset.points || '0', 10),
          title: c.parentNode.querySelector('figcaption').textContent};
});"""


def main():
    skip_if_no_browser()
    failures = []
    with tempfile.TemporaryDirectory(prefix="iocbus-status-") as tmp:
        tokens = os.path.join(tmp, "tokens")
        with open(tokens, "w") as f:
            f.write(TOKEN + "\n")
        os.chmod(tokens, 0o600)
        events = os.path.join(tmp, "events.ndjson")
        open(events, "w").close()
        with Misp(heartbeat=1) as misp:
            green = misp.control("event", info=HOSTILE, tags=["tlp:green"])
            misp.attribute(green, "ip-dst", PLANTED)
            amber = misp.control("event", info="amber-only operation", tags=["tlp:amber"])
            misp.attribute(amber, "ip-dst", AMBER)
            cfg = {"misp": misp.misp_config(zmq=True),
                   "http": {"auth": {"token_file": tokens}, "status": {"refresh": "1s", "max_tlp": "green"}},
                   "inputs": [{"name": "edge-logs", "type": "file", "path": events, "poll_interval": "20ms",
                               "start_at": "beginning"}],
                   "outputs": [{"name": "enriched", "type": "file", "path": os.path.join(tmp, "out.ndjson")}],
                   "pipeline": {"batch_interval": "20ms"}}
            d = AuthIocbus(cfg, workdir=tmp)
            drv = None
            try:
                wait_until(lambda: d.hits(PLANTED) == 1 and d.hits(AMBER) == 1, 30, what="intel pulled")
                with open(events, "a") as f:
                    for i in range(20):
                        f.write(json.dumps({"seq": i, "destination": {"ip": PLANTED if i % 2 else AMBER}}) + "\n")
                wait_until(lambda: json.loads(d.get("/v1/status")[1])["inputs"][0]["matched"] >= 20, 30,
                           what="events matched")
                raw = d.get("/v1/status")[1]
                if b"<img" in raw or b"\\u003cimg" not in raw:
                    failures.append("/v1/status does not escape '<' for HTML script contexts")
                if d.metric("iocbus_status_matches_total") != 20:
                    failures.append("iocbus_status_matches_total %r, want 20 (one per hit)"
                                    % d.metric("iocbus_status_matches_total"))
                drv = browser(tmp)
                drv.get("http://127.0.0.1:%d/" % d.port)
                wait_until(lambda: (text(drv, "#health") or "").startswith("health: ok"), 20,
                           what="the page filled in from /v1/status")

                # charts: a canvas for the input and one for the zmq source, with drawn pixels
                wait_until(lambda: len(drv.execute_script(CANVAS_JS)) >= 3, 20, what="three charts")
                # the 20 events land in the history's second point (10 s steps): the events line then rises
                wait_until(lambda: any(c["blue"] > 20 for c in drv.execute_script(CANVAS_JS)), 25,
                           what="the input chart's events line drawn above the baseline")
                charts = drv.execute_script(CANVAS_JS)
                for c in charts:
                    if c["pixels"] < 50 or c["points"] < 2:
                        failures.append("chart %r not drawn: %r" % (c["title"], c))
                titles = " ".join(c["title"] for c in charts)
                if "input edge-logs" not in titles or "source zmq" not in titles:
                    failures.append("charts: %r" % titles)

                # last matches: the amber one masked, the hostile event info as plain text
                wait_until(lambda: len(drv.find_elements("css selector", "#matches tbody tr")) >= 20, 20,
                           what="the last matches listed")
                rows = drv.execute_script(
                    "return [].slice.call(document.querySelectorAll('#matches tbody tr')).map("
                    "function (r) { return [].slice.call(r.cells).map(function (c) { return c.textContent; }); });")
                masked = [r for r in rows if r[6] == "AMBER"]
                shown = [r for r in rows if r[6] == "GREEN"]
                if not masked or any(AMBER in " ".join(r) or "amber-only" in " ".join(r) for r in masked):
                    failures.append("amber matches not masked: %r" % masked[:2])
                if not shown or shown[0][3] != PLANTED or shown[0][5] != HOSTILE or shown[0][1] != "edge-logs" \
                        or shown[0][2] != "destination.ip":
                    failures.append("green match row: %r" % shown[:1])
                if drv.execute_script("return document.querySelectorAll('main img').length") != 0 or \
                        drv.title != "iocbus status":
                    failures.append("the hostile event info was parsed as HTML")

                # lookup box
                box = drv.find_element("id", "lookup-value")
                box.send_keys(PLANTED)
                drv.find_element("css selector", "#lookup button").click()
                wait_until(lambda: len(drv.find_elements("css selector", "#lookup-result tbody tr")) >= 1, 20,
                           what="the lookup answered")
                cells = [c.text for c in drv.find_elements("css selector", "#lookup-result tbody tr td")]
                if PLANTED not in cells or "ip-dst" not in cells or HOSTILE not in cells:
                    failures.append("lookup row: %r" % cells)
                if text(drv, "#lookup-note") != "1 match":
                    failures.append("lookup note: %r" % text(drv, "#lookup-note"))

                # a MISP change on ZeroMQ shows up without reloading the page
                before = store_count(drv)
                misp.attribute(green, "domain", NEW)
                try:
                    wait_until(lambda: store_count(drv) == (before or 0) + 1, 20, what="the store count to move")
                except AssertionError as e:
                    failures.append("page after the MISP change: %s (store %r -> %r)" % (e, before, store_count(drv)))
                srcs = drv.execute_script(
                    "return [].slice.call(document.querySelectorAll('#sources tbody tr')).map(function (r) {"
                    " return [].slice.call(r.cells).map(function (c) { return c.textContent; }); });")
                z = [r for r in srcs if r[0] == "zmq"]
                if not z or z[0][1] != "up" or z[0][2] == "never" or z[0][4] != "1":
                    failures.append("zmq source row (one update, the change): %r" % srcs)

                shot = os.path.join(artefact_dir(), "status_page.png")
                drv.save_screenshot(shot)
                print("screenshot: %s" % shot)

                # the browser's console: no error at all (the log read empties it, so last)
                errors = [e for e in drv.get_log("browser") if e.get("level") == "SEVERE"]
                if errors:
                    failures.append("console errors: %r" % errors)
            except AssertionError as e:
                # a wait timed out: the browser's console usually says why (a script error)
                console = drv.get_log("browser") if drv is not None else []
                failures.append("%s; browser console: %r" % (e, console))
            finally:
                if drv is not None:
                    drv.quit()
                d.close()
    report(failures, "status page in headless Chromium: no console error, charts drawn, lookup, live "
                     "update on a MISP change, TLP masking, no HTML injection")


if __name__ == "__main__":
    main()
