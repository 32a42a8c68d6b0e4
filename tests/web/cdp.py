"""A small driver for headless Chromium over its DevTools protocol (Debian's chromium and python3-websocket)."""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

import websocket


class Browser:
    """Starts headless Chromium with a private profile; `page()` is its first tab."""

    def __init__(self, width=1280, height=900):
        self.profile = tempfile.mkdtemp(prefix="facefill-chromium-")
        binary = shutil.which("chromium") or "/usr/bin/chromium"
        self.proc = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars",
             "--disable-background-networking", "--remote-allow-origins=*", f"--window-size={width},{height}",
             "--remote-debugging-port=0", f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.time() + 60
        while not os.path.exists(port_file) or not open(port_file).read().strip():
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("chromium did not start (exit %s)" % self.proc.poll())
            time.sleep(0.1)
        self.port = int(open(port_file).read().split()[0])
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=10))
        page = next(t for t in targets if t["type"] == "page")
        self._page = Page(page["webSocketDebuggerUrl"])

    def page(self):
        return self._page

    def close(self):
        self._page.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self.next_id = 0
        self.call("Page.enable")
        self.call("Runtime.enable")

    def close(self):
        self.ws.close()

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def eval(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_loaded(self, timeout=30):
        """Waits for the document and its images in view (lazy images further down may stay unloaded)."""
        deadline = time.time() + timeout
        while self.eval("document.readyState") != "complete":
            if time.time() > deadline:
                raise RuntimeError("page did not finish loading")
            time.sleep(0.05)
        self.eval("""Promise.race([new Promise(r => setTimeout(r, %d)), Promise.all([...document.images]
            .filter(i => i.getBoundingClientRect().top < innerHeight)
            .map(i => i.complete ? 1 : new Promise(r => { i.onload = i.onerror = r; })))])""" % (timeout * 1000))

    def navigate(self, url):
        self.call("Page.navigate", url=url)
        time.sleep(0.1)
        self.wait_loaded()

    def click_and_wait(self, selector):
        """Clicks an element that loads a new page, and waits for that page."""
        marker = "window.__facefill_old_page"
        self.eval(f"{marker} = true")
        self.eval(f"document.querySelector({json.dumps(selector)}).click()")
        deadline = time.time() + 30
        while self.eval(f"window.__facefill_old_page === true"):
            if time.time() > deadline:
                raise RuntimeError(f"clicking {selector} did not load a page")
            time.sleep(0.05)
        self.wait_loaded()

    def set_file(self, selector, path):
        root = self.call("DOM.getDocument")["root"]["nodeId"]
        node = self.call("DOM.querySelector", nodeId=root, selector=selector)["nodeId"]
        self.call("DOM.setFileInputFiles", nodeId=node, files=[path])

    def screenshot(self, path, scale=1.0):
        if scale == 1.0:
            data = self.call("Page.captureScreenshot", format="png")["data"]
        else:
            size = self.eval("[innerWidth, innerHeight]")
            data = self.call("Page.captureScreenshot", format="png",
                             clip={"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": scale})["data"]
        with open(path, "wb") as out:
            out.write(base64.b64decode(data))
