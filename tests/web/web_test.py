"""`facefill serve` end to end: a catalog of the shared photos (catalog), the server's safety over plain HTTP
(security), and headless Chromium through People, a person, a photo, Search and Status (browser).

  web_test.py catalog  FACEFILL SHARED WORKDIR   scan + backfill + cluster the shared photos into WORKDIR
  web_test.py security FACEFILL SHARED WORKDIR
  web_test.py browser  FACEFILL SHARED WORKDIR   screenshots in WORKDIR/screenshots
  web_test.py live     FACEFILL SHARED WORKDIR   /api/status while a backfill runs in another process
  web_test.py queue    FACEFILL SHARED WORKDIR   serve --queue: a queued job's progress while a worker runs it
                                                 (PostgreSQL + Redis from $FACEFILL_SERVICES_ENV)
  web_test.py service  FACEFILL SHARED WORKDIR   serve on a PostgreSQL catalog (the service's database, or one of
                                                 facefill's own), read only; set up by tests/service_web_test.cc:
                                                 $FACEFILL_SERVICE_STORES (the store flags, JSON), _PG, _LIBRARY
"""
import csv
import http.client
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

failures = []


def check(condition, what):
    print(("ok    " if condition else "FAIL  ") + what, flush=True)
    if not condition:
        failures.append(what)


def run(cli, *args):
    done = subprocess.run([cli, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"facefill {' '.join(args)}: exit {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done.stdout


def make_catalog(cli, shared, work):
    shutil.rmtree(work, ignore_errors=True)
    library = os.path.join(work, "library")
    shutil.copytree(os.path.join(shared, "images"), library)
    # A photo that will be swapped for a symlink leading out of the library once it is catalogued.
    os.makedirs(os.path.join(library, "linked"))
    shutil.copy(os.path.join(shared, "images/biden/biden.jpg"), os.path.join(library, "linked/biden_link.jpg"))
    # Files whose scan fails, for the Status page's errors.
    os.makedirs(os.path.join(library, "broken"))
    with open(os.path.join(shared, "images/obama/obama.jpg"), "rb") as f:
        head = f.read(6000)
    with open(os.path.join(library, "broken/truncated.jpg"), "wb") as f:
        f.write(head)
    with open(os.path.join(library, "broken/notes.jpg"), "wb") as f:
        f.write(b"\xff\xd8\xff not really a JPEG" * 40)
    db = "sqlite:" + os.path.join(work, "facefill.db")
    run(cli, "scan", library, "--db", db)
    subprocess.run([cli, "backfill", "--db", db, "-q"], check=False)  # exit 1: the broken files failed
    run(cli, "cluster", "--min-cluster-size", "3", "--db", db)
    outside = os.path.join(work, "outside")
    os.makedirs(outside)
    shutil.copy(os.path.join(shared, "images/biden/biden.jpg"), os.path.join(outside, "secret.jpg"))
    os.remove(os.path.join(library, "linked/biden_link.jpg"))
    os.symlink(os.path.join(outside, "secret.jpg"), os.path.join(library, "linked/biden_link.jpg"))
    print(run(cli, "stats", "--db", db))


class Server:
    """`facefill serve --port 0` over the work catalog, with its own copy of the database (tests may write); or
    over the catalog `stores` name (e.g. ["--service-env", FILE])."""

    def __init__(self, cli, work, name, *flags, stores=None):
        self.dir = os.path.join(work, name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        if stores is None:
            for suffix in ["", ".hnsw"]:
                if os.path.exists(os.path.join(work, "facefill.db" + suffix)):
                    shutil.copy(os.path.join(work, "facefill.db" + suffix),
                                os.path.join(self.dir, "facefill.db" + suffix))
            self.db_path = os.path.join(self.dir, "facefill.db")
            stores = ["--db", "sqlite:" + self.db_path]
        self.log = open(os.path.join(self.dir, "serve.log"), "w")
        self.proc = subprocess.Popen([cli, "serve", *stores, "--port", "0",
                                      "--bind", "127.0.0.1", *flags],
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if not match:
            self.proc.kill()
            raise RuntimeError("serve did not start: " + line + open(os.path.join(self.dir, "serve.log")).read())
        self.port = int(match.group(1))
        self.url = f"http://127.0.0.1:{self.port}"

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        conn.putrequest(method, path, skip_host=bool(headers and "Host" in headers), skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        if body is not None:
            try:
                for i in range(0, len(body), 1 << 20):
                    conn.send(body[i:i + (1 << 20)])
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered before reading it all; its answer is what counts
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response.status, dict(response.getheaders()), data.decode("utf-8", "replace")

    def stop(self):
        self.proc.terminate()
        code = self.proc.wait(timeout=30)
        self.log.close()
        return code


def multipart(token, filename, content, content_type="application/octet-stream"):
    boundary = "facefilltestboundary7d3a"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n{token}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"{filename}\"\r\n"
            f"Content-Type: {content_type}\r\n\r\n").encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def token_of(server):
    status, _, page = server.request("GET", "/search")
    match = re.search(r'name="token" value="([0-9a-f]+)"', page)
    return match.group(1) if match else ""


def security(cli, shared, work):
    server = Server(cli, work, "security", "--max-upload-mb", "8", "--cache-mb", "1")
    db = sqlite3.connect(server.db_path)
    asset_id, face_id, path = db.execute(
        "SELECT a.id, f.id, a.path FROM image_assets a JOIN face_instances f ON f.asset_id = a.id "
        "WHERE a.path NOT LIKE '%linked%' LIMIT 1").fetchone()
    cluster = db.execute("SELECT cluster_id FROM face_instances WHERE cluster_id IS NOT NULL LIMIT 1").fetchone()[0]
    linked_asset, linked_face = db.execute(
        "SELECT a.id, f.id FROM image_assets a JOIN face_instances f ON f.asset_id = a.id "
        "WHERE a.path LIKE '%linked/biden_link.jpg'").fetchone()
    try:
        status, headers, _ = server.request("GET", f"/image/{asset_id}.jpg")
        check(status == 200 and headers.get("Content-Type") == "image/jpeg", "a catalog photo is served")
        status, headers, _ = server.request("GET", f"/crop/{face_id}.jpg")
        check(status == 200 and "ETag" in headers and "max-age" in headers.get("Cache-Control", ""),
              "a face crop has ETag and Cache-Control")
        status, _, body = server.request("GET", f"/crop/{face_id}.jpg", headers={"If-None-Match": headers["ETag"]})
        check(status == 304 and body == "", "If-None-Match answers 304")
        status, headers, _ = server.request("GET", "/")
        check(headers.get("Cache-Control") == "no-store", "pages are not cached")
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        conn.request("GET", "/", headers={"Accept-Encoding": "gzip, deflate, br"})
        response = conn.getresponse()
        response.read()
        conn.close()
        check(response.getheader("Content-Encoding") in (None, "gzip"),
              f"a browser asking for Brotli gets gzip ({response.getheader('Content-Encoding')})")
        quoted = urllib.parse.quote(path, safe="")
        for probe in ["/../../../../etc/passwd", "/image/../../../../etc/passwd", "/etc/passwd", "//etc/passwd",
                      "/image/%2e%2e%2f%2e%2e%2fetc%2fpasswd.jpg", "/image/..%2F..%2Fetc%2Fpasswd",
                      "/crop/%2e%2e%2ffacefill.db", "/image/" + quoted, "/photo/" + quoted, "/" + quoted,
                      "/image/" + path, "/crop/../facefill.db.jpg", "/image/-1.jpg", "/image/99999999.jpg",
                      "/photo/99999999", "/person/..", "/person/%3Cscript%3E", "/crop/nothere.jpg",
                      "/static/../../etc/passwd", "/image/%00.jpg"]:
            status, _, body = server.request("GET", probe)
            check(status == 404 and "root:" not in body and "<html" in body, f"GET {probe} -> 404 page ({status})")
        status, _, _ = server.request("GET", f"/image/{linked_asset}.jpg")
        check(status == 404, f"a catalog photo swapped for a symlink out of the library -> 404 ({status})")
        status, _, _ = server.request("GET", f"/crop/{linked_face}.jpg")
        check(status == 404, f"its face crop -> 404 ({status})")
        status, _, _ = server.request("GET", "/", headers={"Host": "attacker.example"})
        check(status == 403, f"a request for another host name (DNS rebinding) -> 403 ({status})")

        form = {"Content-Type": "application/x-www-form-urlencoded"}
        status, _, body = server.request("POST", f"/person/{cluster}/name", b"name=Mallory", form)
        check(status == 403, f"POST without the token -> 403 ({status})")
        status, _, _ = server.request("POST", f"/person/{cluster}/name", b"name=Mallory&token=0123456789abcdef", form)
        check(status == 403, f"POST with a wrong token -> 403 ({status})")
        status, _, _ = server.request("POST", f"/face/{face_id}/split", b"", form)
        check(status == 403, f"split without the token -> 403 ({status})")
        named = db.execute("SELECT COUNT(*) FROM persons WHERE name = 'Mallory'").fetchone()[0]
        check(named == 0, "no person was named by the refused POSTs")
        token = token_of(server)
        check(len(token) == 32, "the pages carry a per-process token")
        status, _, _ = server.request("GET", f"/person/{cluster}/name?name=Mallory&token={token}")
        check(status == 404, f"a write by GET, even with the token -> 404 ({status})")

        # With the token: move a face out, merge it back, and two named persons refuse to merge (409 page).
        moved = db.execute("SELECT id FROM face_instances WHERE cluster_id = ? LIMIT 1", (cluster,)).fetchone()[0]
        status, headers, _ = server.request("POST", f"/face/{moved}/split", f"token={token}".encode(), form)
        new_cluster = db.execute("SELECT cluster_id FROM face_instances WHERE id = ?", (moved,)).fetchone()[0]
        check(status == 303 and headers.get("Location") == f"/person/{cluster}" and new_cluster != cluster,
              f"move out with the token -> 303, the face has a cluster of its own ({status})")
        status, _, _ = server.request("POST", f"/person/{cluster}/merge",
                                      f"token={token}&from={new_cluster}".encode(), form)
        back = db.execute("SELECT cluster_id FROM face_instances WHERE id = ?", (moved,)).fetchone()[0]
        check(status == 303 and back == cluster, f"merge with the token -> 303, the face is back ({status})")
        other = db.execute("SELECT cluster_id FROM face_instances WHERE cluster_id IS NOT NULL AND cluster_id != ? "
                           "LIMIT 1", (cluster,)).fetchone()[0]
        for c, name in [(cluster, "Ada"), (other, "Grace")]:
            status, _, _ = server.request("POST", f"/person/{c}/name", f"token={token}&name={name}".encode(), form)
            check(status == 303, f"name {name} -> 303 ({status})")
        status, _, page = server.request("POST", f"/person/{cluster}/merge",
                                         f"token={token}&from={other}".encode(), form)
        check(status == 409 and 'id="notice"' in page, f"merging two named persons -> 409 with the reason ({status})")

        body, content_type = multipart(token, "big.jpg", os.urandom(50 << 20))
        status, _, page = server.request("POST", "/search", body, {"Content-Type": content_type})
        check(status == 413 and "larger than this server takes" in page, f"a 50 MB upload -> 413 page ({status})")
        body, content_type = multipart(token, "ten.jpg", os.urandom(10 << 20))
        status, _, page = server.request("POST", "/search", body, {"Content-Type": content_type})
        check(status == 413, f"a 10 MB upload over --max-upload-mb 8 -> 413 ({status})")
        body, content_type = multipart(token, "notes.txt", b"these are not pixels\n" * 100, "text/plain")
        status, _, page = server.request("POST", "/search", body, {"Content-Type": content_type})
        check(status == 415 and "notes.txt is not a photo facefill can read" in page,
              f"a text upload -> 415 page naming it ({status})")
        body, content_type = multipart(token, "broken.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 4000, "image/jpeg")
        status, _, page = server.request("POST", "/search", body, {"Content-Type": content_type})
        check(status == 415 and "broken.jpg" in page, f"a broken JPEG -> 415 page ({status})")
        status, _, _ = server.request("GET", "/status")
        check(status == 200, "the server still answers after the bad uploads")

        # The crop cache keeps to --cache-mb 1 however many photos are shown.
        for (aid,) in db.execute("SELECT id FROM image_assets").fetchall():
            server.request("GET", f"/image/{aid}.jpg")
        cache = os.path.join(server.dir, "facefill.db.webcache")
        size = sum(os.path.getsize(os.path.join(cache, f)) for f in os.listdir(cache))
        check(0 < size <= 1 << 20, f"the image cache stays within --cache-mb 1 ({size} bytes)")
    finally:
        check(server.stop() == 0, "serve stops cleanly on SIGTERM")


def manifest_identity_photos(shared, identity):
    out = []
    with open(os.path.join(shared, "MANIFEST.tsv")) as f:
        for row in csv.reader(f, delimiter="\t"):
            if len(row) > 7 and row[0] == "image" and row[7] == identity and row[1].startswith("images/"):
                out.append(row[1][len("images/"):])
    return out


def browser(cli, shared, work):
    import cdp
    shots = os.path.join(work, "screenshots")
    os.makedirs(shots, exist_ok=True)
    server = Server(cli, work, "browser")
    db = sqlite3.connect(server.db_path)
    library = os.path.join(work, "library")
    clusters = json.loads(run(cli, "people", "--json", "--db", "sqlite:" + server.db_path))
    # The obama cluster: where the faces of the one-face photos of Obama lie (MANIFEST.tsv).
    obama_faces = {}
    for relative in manifest_identity_photos(shared, "obama"):
        rows = db.execute("SELECT f.id, COALESCE(f.cluster_id, '') FROM face_instances f JOIN image_assets a "
                          "ON a.id = f.asset_id WHERE a.path = ?", (os.path.join(library, relative),)).fetchall()
        if len(rows) == 1:
            obama_faces[rows[0][0]] = rows[0][1]
    check(len(obama_faces) >= 4, f"the catalog holds the one-face Obama photos ({len(obama_faces)})")
    obama_clusters = set(obama_faces.values())
    check(len(obama_clusters) == 1 and "" not in obama_clusters, f"they lie in one cluster ({obama_clusters})")
    obama = next(iter(obama_clusters))
    b = cdp.Browser()
    page = b.page()
    try:
        page.navigate(server.url + "/")
        tiles = page.eval("document.querySelectorAll('#people .tile').length")
        check(tiles == len(clusters) and tiles > 5, f"People: one tile per cluster ({tiles} of {len(clusters)})")
        counts = page.eval("[...document.querySelectorAll('#people .tile')].map(t => +t.dataset.faces)")
        check(counts == sorted(counts, reverse=True), f"People: largest first {counts}")
        loaded = page.eval("[...document.querySelectorAll('#people .tile img')].slice(0, 6)"
                           ".every(i => i.complete && i.naturalWidth > 0)")
        check(loaded, "People: the first tiles show their face crop")
        unclustered = db.execute("SELECT COUNT(*) FROM face_instances WHERE cluster_id IS NULL").fetchone()[0]
        shown = page.eval("document.querySelectorAll('#unclustered .face').length")
        check(shown == min(unclustered, 500), f"People: unclustered faces at the end ({shown} of {unclustered})")
        page.screenshot(os.path.join(shots, "1-people.png"))
        page.screenshot(os.path.join(shots, "serve-small.png"), scale=0.5)

        page.click_and_wait(f"#people .tile[data-cluster='{obama}']")
        check(page.eval("location.pathname") == f"/person/{obama}", "a tile leads to its person")
        faces = set(page.eval("[...document.querySelectorAll('#faces .face')].map(f => f.dataset.face)"))
        in_cluster = {r[0] for r in db.execute("SELECT id FROM face_instances WHERE cluster_id = ?", (obama,))}
        check(faces == in_cluster, f"Person: every face of the cluster is shown ({len(faces)} of {len(in_cluster)})")
        check(set(obama_faces) <= faces, "Person: the obama cluster holds every Obama face")
        # Naming, with markup in the name: shown as text, never run.
        name = "<script>window.pwned=1</script>Barack <b>Obama</b>"
        page.eval(f"document.querySelector('input[name=name]').value = {json.dumps(name)}")
        page.click_and_wait("#name-button")
        check(page.eval("document.getElementById('person-name').textContent") == name, "Person: the name as text")
        check(page.eval("window.pwned === undefined && document.querySelectorAll('main script, main b').length == 0"),
              "Person: the <script> in the name did not run and made no element")
        stored = db.execute("SELECT COUNT(*) FROM persons WHERE name = ?", (name,)).fetchone()[0]
        check(stored == 1, "Person: the name is stored, the same operation as `facefill people name`")
        page.screenshot(os.path.join(shots, "2-person.png"))
        # Search by picking a face: its "similar" link.
        page.click_and_wait("#faces a[href^='/search?face=']")
        picked = page.eval("[...document.querySelectorAll('#results .face')].map(f => f.dataset.face)")
        check(len(picked) >= 5 and in_cluster_of(db, picked[1]) == obama,
              f"Search by a face: Obama's faces first ({len(picked)} shown)")
        page.call("Page.navigate", url=server.url + f"/person/{obama}")
        page.wait_loaded()

        # A photo with several faces: boxes and landmarks drawn over it.
        face = page.eval("document.querySelector('#faces .face').dataset.face")
        page.click_and_wait("#faces .face")
        asset = db.execute("SELECT asset_id FROM face_instances WHERE id = ?", (face,)).fetchone()[0]
        check(page.eval("location.pathname") == f"/photo/{asset}", "a face leads to its photo")
        page.navigate(server.url + "/photo/" + str(db.execute(
            "SELECT asset_id FROM face_instances GROUP BY asset_id ORDER BY COUNT(*) DESC LIMIT 1").fetchone()[0]))
        asset = int(page.eval("location.pathname.split('/')[2]"))
        n_faces = db.execute("SELECT COUNT(*) FROM face_instances WHERE asset_id = ?", (asset,)).fetchone()[0]
        boxes = page.eval("document.querySelectorAll('#photo svg rect.box').length")
        marks = page.eval("document.querySelectorAll('#photo svg circle.landmark').length")
        check(boxes == n_faces and n_faces >= 3, f"Photo: a box per face ({boxes} of {n_faces})")
        check(marks == 5 * n_faces, f"Photo: five landmarks per face ({marks})")
        check(page.eval("document.querySelector('#photo img').naturalWidth > 0"), "Photo: the image is shown")
        page.screenshot(os.path.join(shots, "3-photo.png"))

        page.navigate(server.url + "/search")
        page.set_file("#photo-input", os.path.join(shared, "images/obama/obama2.jpg"))
        page.click_and_wait("#search-button")
        hits = page.eval("[...document.querySelectorAll('#results .face')].map(f => [f.dataset.face, "
                         "f.classList.contains('same')])")
        check(len(hits) >= 5, f"Search: similar faces for the uploaded photo ({len(hits)})")
        same = [h[0] for h in hits if h[1]]
        check(len(same) >= 3 and all(in_cluster_of(db, f) == obama for f in same),
              f"Search: the faces marked same person are Obama's ({len(same)})")
        page.screenshot(os.path.join(shots, "4-search.png"))

        page.navigate(server.url + "/status?every=300")
        assets = db.execute("SELECT COUNT(*) FROM image_assets").fetchone()[0]
        check(page.eval("document.getElementById('n-assets').textContent") == str(assets), "Status: asset count")
        deadline = time.time() + 10
        while not page.eval("+(document.getElementById('status').dataset.polls || 0) >= 1"):
            if time.time() > deadline:
                break
            time.sleep(0.2)
        check(page.eval("+(document.getElementById('status').dataset.polls || 0) >= 1"), "Status: live polling runs")
        errors = db.execute("SELECT COUNT(*) FROM facefill_scan_status WHERE status = 'error'").fetchone()[0]
        listed = page.eval("document.querySelectorAll('#failed tr.failed').length")
        check(listed == errors and errors > 0, f"Status: the failing files are listed ({listed} of {errors})")
        check(page.eval("document.getElementById('live').dataset.running") == "0" and
              page.eval("document.getElementById('live-text').textContent") == "No backfill is running.",
              "Status: the live element says nothing is running")
        check(page.eval("!!document.getElementById('no-queue')"), "Status: without --queue, says how to see jobs")
        page.screenshot(os.path.join(shots, "5-status.png"))

        # Live progress: new photos scanned, then backfilled in another process, while the page is open.
        extra = os.path.join(server.dir, "extra")
        os.makedirs(extra)
        for name in ["obama/obama.jpg", "biden/biden2.jpg", "celeb/rose_leslie_1.jpg"]:
            shutil.copy(os.path.join(shared, "images", name), os.path.join(extra, os.path.basename(name)))
        added = 3 + copy_photos(shared, os.path.join(extra, "more"), 2)
        url = "sqlite:" + server.db_path

        def wait_for(element, value):
            deadline = time.time() + 20
            while page.eval(f"document.getElementById('{element}').textContent") != str(value):
                if time.time() > deadline:
                    return False
                time.sleep(0.2)
            return True

        run(cli, "scan", extra, "--db", url)
        check(wait_for("n-assets", assets + added) and wait_for("n-pending", added),
              "Status: a scan's new photos appear as pending without a reload")
        backfill = subprocess.Popen([cli, "backfill", "--db", url, "-q"], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
        seen = []
        shot = False
        while backfill.poll() is None:
            state = page.eval("(function(){var l=document.getElementById('live');return [l.dataset.running, "
                              "+l.dataset.processed, document.getElementById('rate').textContent, "
                              "document.getElementById('live-text').textContent];})()")
            seen.append(state)
            if state[0] == "1" and not shot and state[1] > assets:
                page.screenshot(os.path.join(shots, "6-status-live.png"))
                shot = True
            time.sleep(0.2)
        running = [s for s in seen if s[0] == "1"]
        print(f"Status: {len(seen)} looks while the backfill ran, {len(running)} running, "
              f"processed {sorted(set(s[1] for s in running))[:10]}, last text {running[-1][3] if running else None}")
        check(len(set(s[1] for s in running)) >= 2, "Status: the live element's count grows while the backfill runs")
        check(any(s[3].startswith("A backfill is running: ") and s[2] not in ("", "\u2013") and float(s[2]) > 0
                  for s in running), "Status: the live element shows the backfill running, with its pace")
        check(wait_for("n-pending", 0) and wait_for("progress-text", "100% processed") and
              wait_for("live-text", "No backfill is running."),
              "Status: the backfill's end appears without a reload")
    finally:
        b.close()
        check(server.stop() == 0, "serve stops cleanly on SIGTERM")


def status_json(server):
    status, _, body = server.request("GET", "/api/status")
    assert status == 200, (status, body)
    return json.loads(body)


def copy_photos(shared, into, copies):
    """`copies` copies of the shared photos under `into`; returns how many files."""
    for i in range(copies):
        shutil.copytree(os.path.join(shared, "images"), os.path.join(into, f"copy{i}"))
    return sum(len(files) for _, _, files in os.walk(into))


def live(cli, shared, work):
    """A backfill in another process over new photos: the status JSON shows its progress growing, with a pace."""
    server = Server(cli, work, "live")
    url = "sqlite:" + server.db_path
    try:
        before = status_json(server)
        check(before["pending"] == 0 and not before["running"] and before["leased"] == 0,
              f"live: nothing running at first ({before['pending']} pending, running {before['running']})")
        added = copy_photos(shared, os.path.join(server.dir, "more"), 3)
        run(cli, "scan", os.path.join(server.dir, "more"), "--db", url)
        scanned = status_json(server)
        check(scanned["pending"] == added and scanned["assets"] == before["assets"] + added,
              f"live: the scanned photos are pending ({scanned['pending']} of {added})")
        log = open(os.path.join(server.dir, "backfill.log"), "w")
        backfill = subprocess.Popen([cli, "backfill", "--db", url, "-q", "--no-people"], stdout=log, stderr=log)
        samples = []
        while backfill.poll() is None:
            j = status_json(server)
            samples.append((j["processed"], j["rate"], j["running"], j["pending"]))
            time.sleep(0.25)
        log.close()
        after = status_json(server)
        processed = [p for p, _, _, _ in samples]
        growing = sorted(set(p for p, _, _, pending in samples if pending > 0))
        print(f"live: {len(samples)} polls while the backfill ran, processed {processed[0]} .. {processed[-1]}, "
              f"{len(growing)} distinct counts, rates {[round(r, 1) for _, r, _, _ in samples if r]}")
        check(processed == sorted(processed), "live: the processed count never goes down between polls")
        check(len(growing) >= 3, f"live: the count grows while the backfill runs ({len(growing)} distinct values)")
        check(any(r and r > 0 and running for _, r, running, _ in samples),
              "live: a pace (assets per second) and running are shown while it runs")
        check(all(p <= before["processed"] + added for p in processed), "live: never more than there is")
        check(after["pending"] == 0 and after["processed"] == before["processed"] + added and not after["running"],
              f"live: when it ends, nothing pending and not running ({after['pending']}, {after['running']})")
        check(after["leased"] == 0 and after["holders"] == [] and after["queue"] is False and after["jobs"] == [],
              "live: an embedded catalog has no leases; no queue given, no jobs")
    finally:
        check(server.stop() == 0, "serve stops cleanly on SIGTERM")


def services_env():
    path = os.environ.get("FACEFILL_SERVICES_ENV", "")
    values = {}
    if path and os.path.exists(path):
        for line in open(path):
            match = re.match(r"export (\w+)=(.*)", line.strip())
            if match:
                values[match.group(1)] = match.group(2)
    return values


def queue(cli, shared, work):
    """`serve --queue`: a job queued by `backfill --queue` on a PostgreSQL catalog is shown queued, then its
    progress grows while a real `facefill worker` runs it, then done."""
    env = services_env()
    if "FACEFILL_TEST_REDIS" not in env:
        check(False, "the PostgreSQL + Redis services are running (FACEFILL_SERVICES_ENV)")
        return
    redis = env["FACEFILL_TEST_REDIS"].rsplit("/", 1)[0] + "/6"
    admin = env["FACEFILL_TEST_PG_ADMIN"]
    name = f"t_web_queue_{os.getpid()}"
    subprocess.run(["psql", admin, "-q", "-c", f"DROP DATABASE IF EXISTS {name}", "-c", f"CREATE DATABASE {name}"],
                   check=True, capture_output=True)
    pg = admin.rsplit("/", 1)[0] + "/" + name
    photos = os.path.join(work, "queue-photos")
    shutil.rmtree(photos, ignore_errors=True)
    added = copy_photos(shared, photos, 2)
    run(cli, "scan", photos, "--db", pg, "--standalone")
    job = json.loads(run(cli, "backfill", "--db", pg, "--queue", redis, "--json"))["job"]
    server = Server(cli, work, "queue", "--queue", redis)
    worker = None
    try:
        def job_of(j):
            return next((x for x in j["jobs"] if x["id"] == job), None)

        first = status_json(server)
        shown = job_of(first)
        check(first["queue"] and shown is not None and shown["status"] == "queued" and shown["processed"] == 0,
              f"queue: the job is shown queued ({shown and shown['status']})")
        log = open(os.path.join(server.dir, "worker.log"), "w")
        worker = subprocess.Popen([cli, "worker", "--db", pg, "--queue", redis, "--exit-when-idle", "--worker-id",
                                   "web-test-worker", "--inference-threads", "1", "--assets-per-lease", "4"],
                                  stdout=log, stderr=log)
        samples = []
        deadline = time.time() + 300
        while worker.poll() is None and time.time() < deadline:
            shown = job_of(status_json(server))
            samples.append((shown["status"], shown["processed"], shown["total"], shown["workers"]))
            time.sleep(0.25)
        log.close()
        last = job_of(status_json(server))
        running = [s for s in samples if s[0] == "running"]
        counts = [p for _, p, _, _ in samples]
        print(f"queue: {len(samples)} polls, {len(running)} while running, processed {sorted(set(counts))[:12]}...")
        check(len(set(p for _, p, _, _ in running)) >= 2, "queue: the running job's progress grows between polls")
        check(counts == sorted(counts), "queue: its processed count never goes down")
        check(any(s[3] == ["web-test-worker"] for s in running), "queue: the running job names its worker")
        check(last["status"] == "done" and last["processed"] == added and last["total"] == added and
              last["percent"] == 100, f"queue: done, every asset processed ({last['status']}, {last['processed']} "
              f"of {added})")
        page_status, _, page = server.request("GET", "/status")
        check(page_status == 200 and 'id="jobs"' in page and "no-queue" not in page,
              "queue: the Status page has the jobs table")
        import cdp
        b = cdp.Browser()
        try:
            tab = b.page()
            tab.navigate(server.url + "/status?every=300")
            deadline = time.time() + 10
            row = f"document.querySelector('#jobs tr.job[data-job=\"{job}\"]')"
            while not tab.eval(f"!!{row}") and time.time() < deadline:
                time.sleep(0.2)
            shown = tab.eval(f"(function(r){{return r ? [r.dataset.status, r.querySelector('progress').value, "
                             f"r.querySelector('progress').max, r.textContent] : null;}})({row})")
            check(shown is not None and shown[0] == "done" and shown[1] == shown[2] == added and
                  "web-test-worker" not in shown[3] and f"{added} of {added} assets (100%)" in shown[3],
                  f"queue: the page's jobs table shows the job done with a full progress bar ({shown})")
            os.makedirs(os.path.join(work, "screenshots"), exist_ok=True)
            tab.screenshot(os.path.join(work, "screenshots", "7-status-jobs.png"))
        finally:
            b.close()
    finally:
        if worker and worker.poll() is None:
            worker.kill()
        check(server.stop() == 0, "serve stops cleanly on SIGTERM")


def psql(url, sql):
    """The rows of a query, as lists of strings."""
    done = subprocess.run(["psql", url, "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          capture_output=True, text=True, check=True)
    return [line.split("\t") for line in done.stdout.splitlines() if line]


def faces_shown(page, section):
    """The data-face ids of the crops in the element with this id (up to the next section)."""
    start = page.find(f'id="{section}"')
    if start < 0:
        return []
    return re.findall(r'class="face[^"]*" href="[^"]*" data-face="([^"]+)"', page[start:])


def service(cli, shared, work):
    """serve on a PostgreSQL catalog as tests/service_web_test.cc set it up: the image-search service's database
    (--service-env: Qdrant on the loopback server, the test Redis as its queue) or one of facefill's own (--db, with
    pgvector). Every page read from PostgreSQL and the vector store, writes refused with nothing changed, nothing
    outside the catalog served."""
    stores, pg, library = (os.environ[k] for k in ["FACEFILL_SERVICE_STORES", "FACEFILL_SERVICE_PG",
                                                   "FACEFILL_SERVICE_LIBRARY"])
    stores = json.loads(stores)
    service_db = "--service-env" in stores
    cache = os.path.join(work, "crops")
    server = Server(cli, work, "service", "--cache-dir", cache, "--max-upload-mb", "8", stores=stores)
    clusters = json.loads(run(cli, "people", "--json", *stores).strip().splitlines()[-1])
    face_rows = psql(pg, "SELECT f.id, COALESCE(f.cluster_id, ''), a.id, a.path FROM face_instances f "
                         "JOIN image_assets a ON a.id = f.asset_id")
    cluster_of = {r[0]: r[1] for r in face_rows}
    # What a refused write must leave as it is: every face's labels and every person.
    snapshot_sql = ("SELECT string_agg(id::text || ' ' || COALESCE(cluster_id, '') || ' ' || "
                    "COALESCE(person_id::text, '') || ' ' || updated_at::text, ',' ORDER BY id) FROM face_instances")
    before = (psql(pg, snapshot_sql), psql(pg, "SELECT COUNT(*) FROM persons"))
    try:
        status, _, page = server.request("GET", "/")
        tiles = re.findall(r'class="tile" href="/person/[^"]+" data-cluster="([^"]+)" data-faces="(\d+)"', page)
        check(status == 200 and len(tiles) == len(clusters) and len(tiles) >= 4,
              f"People: one tile per cluster of `facefill people --json` ({len(tiles)} of {len(clusters)})")
        check([t[0] for t in tiles] == [c["cluster_id"] for c in clusters] and
              [int(t[1]) for t in tiles] == [c["faces"] for c in clusters], "People: the same clusters, largest first")
        unclustered = sum(1 for c in cluster_of.values() if c in ("", "-1"))
        shown = faces_shown(page, "unclustered")
        check(len(shown) == min(unclustered, 500) and all(cluster_of[f] in ("", "-1") for f in shown),
              f"People: the unclustered faces at the end ({len(shown)} of {unclustered})")
        noise = [f for f, c in cluster_of.items() if c == "-1"]
        check(len(noise) == 1 and noise[0] in shown and noise[0] not in page[:page.find('id="unclustered"')],
              "People: the service's noise marker (-1) is no person; its face is among the unclustered")

        # The obama person: where the faces of the one-face Obama photos lie (MANIFEST.tsv).
        obama_faces = {}
        for relative in manifest_identity_photos(shared, "obama"):
            rows = [r for r in face_rows if r[3] == os.path.join(library, relative)]
            if len(rows) == 1:
                obama_faces[rows[0][0]] = rows[0][1]
        obama_clusters = set(obama_faces.values())
        check(len(obama_faces) >= 4 and len(obama_clusters) == 1 and "" not in obama_clusters,
              f"the one-face Obama photos ({len(obama_faces)}) lie in one cluster ({obama_clusters})")
        obama = next(iter(obama_clusters))
        status, _, page = server.request("GET", f"/person/{obama}")
        faces = set(faces_shown(page, "faces"))
        in_cluster = {f for f, c in cluster_of.items() if c == obama}
        check(status == 200 and faces == in_cluster and set(obama_faces) <= faces,
              f"Person: the obama cluster's faces, the Obama faces among them ({len(faces)} of {len(in_cluster)})")
        check('id="read-only"' in page and "<form" not in page and "on PostgreSQL" in page,
              "Person: no naming, merging or moving forms; the page says the catalog is read only here")
        face = next(iter(obama_faces))
        status, headers, _ = server.request("GET", f"/crop/{face}.jpg")
        check(status == 200 and headers.get("Content-Type") == "image/jpeg" and "ETag" in headers,
              f"a face crop from the service's database ({status})")

        # A photo with several faces: a box per face, five landmarks each, the image served.
        per_asset = {}
        for r in face_rows:
            per_asset[r[2]] = per_asset.get(r[2], 0) + 1
        asset = max(per_asset, key=lambda a: (per_asset[a], a))
        status, _, page = server.request("GET", f"/photo/{asset}")
        boxes = page.count('<rect class="box"')
        marks = page.count('<circle class="landmark"')
        check(status == 200 and boxes == per_asset[asset] >= 2, f"Photo: a box per face ({boxes} of {per_asset[asset]})")
        check(marks == 5 * boxes, f"Photo: five landmarks per face ({marks})")
        status, headers, _ = server.request("GET", f"/image/{asset}.jpg")
        check(status == 200 and headers.get("Content-Type") == "image/jpeg", f"Photo: the image is served ({status})")

        # Search by a stored face and by an upload, through the service's Qdrant collection.
        status, _, page = server.request("GET", f"/search?face={face}")
        hits = re.findall(r'class="face( same)?" href="[^"]*" data-face="([^"]+)"',
                          page[page.find("<h2>Similar</h2>"):])
        same = [f for s, f in hits if s]
        check(status == 200 and len(hits) >= 5 and len(same) >= 3 and all(cluster_of[f] == obama for f in same),
              f"Search by a stored face: the faces marked same person are the obama cluster's ({len(same)} of "
              f"{len(hits)})")
        check(all(cluster_of[f] == obama for _, f in hits[:len(obama_faces)]),
              "Search by a stored face: Obama's faces first")
        token = token_of(server)
        with open(os.path.join(shared, "images/obama/obama2.jpg"), "rb") as f:
            body, content_type = multipart(token, "obama2.jpg", f.read(), "image/jpeg")
        status, _, page = server.request("POST", "/search", body, {"Content-Type": content_type})
        hits = re.findall(r'class="face( same)?" href="[^"]*" data-face="([^"]+)"', page)
        same = [f for s, f in hits if s]
        check(status == 200 and len(same) >= 3 and all(cluster_of[f] == obama for f in same),
              f"Search by upload: the faces marked same person are the obama cluster's ({len(same)} of {len(hits)})")

        # Status: the database's counts and the collection's.
        status, _, page = server.request("GET", "/status")

        def cell(name):
            match = re.search(f'id="n-{name}">(\\d+)<', page)
            return int(match.group(1)) if match else None

        assets = int(psql(pg, "SELECT COUNT(*) FROM image_assets")[0][0])
        check(status == 200 and cell("assets") == assets and cell("faces") == len(face_rows) and
              cell("vectors") == len(face_rows) and cell("pending") == 0,
              f"Status: assets {cell('assets')} of {assets}, faces {cell('faces')} and vectors {cell('vectors')} of "
              f"{len(face_rows)}")
        live = status_json(server)
        check(live["assets"] == assets and not live["running"], "Status: the live counts from PostgreSQL")
        check(live["queue"] is service_db and ('id="jobs"' in page) is service_db,
              "Status: the service's job queue (its REDIS_URL) on its database; none on facefill's own")

        # Writes: refused without the token, and with it, on the service's database; nothing changed.
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        status, _, _ = server.request("POST", f"/person/{obama}/name", b"name=Mallory", form)
        check(status == 403, f"naming without the token -> 403 ({status})")
        status, _, page = server.request("POST", f"/person/{obama}/name", f"token={token}&name=Mallory".encode(), form)
        reason = "image-search service&#39;s database" if service_db else "is on PostgreSQL: it is read only here"
        check(status == 403 and reason in page, f"naming with the token -> 403, the page says why ({status})")
        other = next(c["cluster_id"] for c in clusters if c["cluster_id"] != obama)
        status, _, _ = server.request("POST", f"/person/{obama}/merge", f"token={token}&from={other}".encode(), form)
        check(status == 403, f"merging with the token -> 403 ({status})")
        status, _, _ = server.request("POST", f"/face/{face}/split", f"token={token}".encode(), form)
        check(status == 403, f"moving a face out with the token -> 403 ({status})")
        after = (psql(pg, snapshot_sql), psql(pg, "SELECT COUNT(*) FROM persons"))
        check(after == before and before[1] == [["0"]], "nothing in the service's database changed")

        # Nothing outside the catalog: paths, encodings, ids that are not the catalog's, a symlink out of the library.
        path = next(r[3] for r in face_rows if "/linked/" not in r[3])
        quoted = urllib.parse.quote(path, safe="")
        for probe in ["/../../../../etc/passwd", "/image/../../../../etc/passwd", "/etc/passwd", "//etc/passwd",
                      "/image/%2e%2e%2f%2e%2e%2fetc%2fpasswd.jpg", "/image/..%2F..%2Fetc%2Fpasswd",
                      "/image/" + quoted, "/photo/" + quoted, "/" + quoted, "/image/" + path,
                      "/image/4294967297.jpg", "/photo/99999999", "/image/0.jpg", "/crop/not-a-face-id.jpg",
                      "/crop/00000000-0000-0000-0000-000000000000.jpg", "/person/..", "/person/%3Cscript%3E",
                      "/person/-1", "/search?face=../../etc/passwd"]:
            status, _, body = server.request("GET", probe)
            check(status == 404 and "root:" not in body and "<html" in body, f"GET {probe} -> 404 page ({status})")
        linked_asset, linked_face = next((r[2], r[0]) for r in face_rows if r[3].endswith("/linked/biden_link.jpg"))
        status, _, _ = server.request("GET", f"/image/{linked_asset}.jpg")
        check(status == 404, f"a catalog photo swapped for a symlink out of the library -> 404 ({status})")
        status, _, _ = server.request("GET", f"/crop/{linked_face}.jpg")
        check(status == 404, f"its face crop -> 404 ({status})")
        check(os.path.isdir(cache) and len(os.listdir(cache)) > 0, "the crops are cached in --cache-dir")

        # In headless Chromium: the tiles' and the person's crops load, the photo's boxes are drawn.
        import cdp
        shots = os.environ.get("FACEFILL_SERVICE_SHOTS") or os.path.join(work, "screenshots")
        os.makedirs(shots, exist_ok=True)
        b = cdp.Browser()
        try:
            tab = b.page()
            loaded = "[...document.querySelectorAll('{} img')].every(i => i.complete && i.naturalWidth > 0)"
            tab.navigate(server.url + "/")
            check(tab.eval("document.querySelectorAll('#people .tile').length") == len(clusters) and
                  tab.eval(loaded.format("#people .tile")), "browser: People's tiles show their crops")
            prefix = "service-" if service_db else "postgres-"
            tab.screenshot(os.path.join(shots, prefix + "1-people.png"))
            tab.click_and_wait(f"#people .tile[data-cluster='{obama}']")
            check(tab.eval("document.querySelectorAll('#faces .face').length") == len(in_cluster) and
                  tab.eval(loaded.format("#faces .face")), "browser: the obama person's crops")
            tab.screenshot(os.path.join(shots, prefix + "2-person.png"))
            tab.navigate(server.url + f"/photo/{asset}")
            check(tab.eval("document.querySelectorAll('#photo svg rect.box').length") == per_asset[asset] and
                  tab.eval("document.querySelector('#photo img').naturalWidth > 0"), "browser: the photo and its boxes")
            tab.screenshot(os.path.join(shots, prefix + "3-photo.png"))
        finally:
            b.close()
    finally:
        check(server.stop() == 0, "serve stops cleanly on SIGTERM")


def in_cluster_of(db, face_id):
    row = db.execute("SELECT COALESCE(cluster_id, '') FROM face_instances WHERE id = ?", (face_id,)).fetchone()
    return row[0] if row else None


def main():
    mode, cli, shared, work = sys.argv[1:5]
    shared = os.environ.get("FACEFILL_SHARED") or shared
    shared = os.path.realpath(shared)  # chromium refuses to upload a file named through ".."
    work = os.path.realpath(work)
    if not os.path.isdir(os.path.join(shared, "images")):
        print(f"{shared}/images is missing")
        sys.exit(1 if os.environ.get("CI") == "true" else 77)
    if mode == "catalog":
        make_catalog(cli, shared, work)
    elif mode == "security":
        security(cli, shared, work)
    elif mode == "browser":
        browser(cli, shared, work)
    elif mode == "live":
        live(cli, shared, work)
    elif mode == "queue":
        queue(cli, shared, work)
    elif mode == "service":
        service(cli, shared, work)
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
