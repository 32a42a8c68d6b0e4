"""Page-load figure for `facefill serve`: a person page of 1,000 faces and all its crops, with a cold crop cache
(every crop decoded from its photo), a warm one (crops read from the disk cache) and a browser revalidating by ETag
(304s). Six connections at once, as a browser opens per host.

  web_bench.py FACEFILL CATALOG_DIR [--faces 1000] [--rounds 3]
CATALOG_DIR holds facefill.db from the WebCatalog test (build/tests/web-test); the bench works on a copy.
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import re
import shutil
import sqlite3
import statistics
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "web"))
import web_test  # noqa: E402

CONNECTIONS = 6


def add_faces(db_path, n):
    """One cluster of n faces: copies of the stored faces, each box moved a pixel or more (a crop of its own)."""
    db = sqlite3.connect(db_path)
    faces = db.execute("SELECT asset_id, bbox_x, bbox_y, bbox_w, bbox_h, landmarks, detection_confidence "
                       "FROM face_instances f JOIN image_assets a ON a.id = f.asset_id "
                       "WHERE a.path NOT LIKE '%/linked/%'").fetchall()  # not the photo swapped for a symlink
    for i in range(n):
        asset, x, y, w, h, landmarks, confidence = faces[i % len(faces)]
        shift = 1 + i // len(faces)
        db.execute("INSERT INTO face_instances(id, asset_id, bbox_x, bbox_y, bbox_w, bbox_h, landmarks, "
                   "detection_confidence, cluster_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'bench-cluster')",
                   (str(uuid.uuid4()), asset, x + shift, y + shift, w, h, landmarks, confidence))
    db.commit()
    db.close()  # checkpoints the WAL into the file the server copies


local = threading.local()


def get(port, path, headers=None):
    if not hasattr(local, "conn"):
        local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    local.conn.request("GET", path, headers=headers or {})
    response = local.conn.getresponse()
    body = response.read()
    return response.status, response.getheader("ETag"), len(body)


def load_page(port, etags=None):
    """Seconds to load the page and every crop on it; the crops' ETags; bytes."""
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", "/person/bench-cluster")
    html = conn.getresponse().read().decode()
    conn.close()
    html_seconds = time.perf_counter() - start
    crops = re.findall(r'src="(/crop/[0-9a-f-]+\.jpg)"', html)
    with concurrent.futures.ThreadPoolExecutor(CONNECTIONS) as pool:
        results = list(pool.map(lambda c: get(port, c, {"If-None-Match": etags[c]} if etags else None), crops))
    seconds = time.perf_counter() - start
    codes = {r[0] for r in results}
    return seconds, dict(zip(crops, (r[1] for r in results))), sum(r[2] for r in results), len(crops), codes, \
        html_seconds


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("facefill")
    parser.add_argument("catalog_dir")
    parser.add_argument("--faces", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work = os.path.realpath(os.path.join(args.catalog_dir, "bench"))
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    shutil.copy(os.path.join(args.catalog_dir, "facefill.db"), os.path.join(work, "facefill.db"))
    add_faces(os.path.join(work, "facefill.db"), args.faces)
    figures = {"faces": args.faces, "connections": CONNECTIONS, "html_s": [], "cold_s": [], "warm_s": [],
               "revalidate_s": []}
    for _ in range(args.rounds):
        shutil.rmtree(os.path.join(work, "serve"), ignore_errors=True)
        server = web_test.Server(args.facefill, work, "serve")
        try:
            cold, etags, size, crops, codes, html = load_page(server.port)
            assert crops == args.faces and codes == {200}, (crops, codes)
            warm, _, _, _, codes, _ = load_page(server.port)
            assert codes == {200}, codes
            revalidate, _, _, _, codes, _ = load_page(server.port, etags)
            assert codes == {304}, codes
        finally:
            server.stop()
        figures["html_s"].append(round(html, 3))
        figures["cold_s"].append(round(cold, 3))
        figures["warm_s"].append(round(warm, 3))
        figures["revalidate_s"].append(round(revalidate, 3))
        figures["crop_bytes"] = size
    for k in ["html_s", "cold_s", "warm_s", "revalidate_s"]:
        figures[k.replace("_s", "_median_s")] = statistics.median(figures[k])
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
