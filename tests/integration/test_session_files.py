"""Files over HTTP end to end on tdsim: a 50 MB download with the right bytes and a bounded memory cost, a
Range request answered 206 with exactly those bytes, an upload sent with sendMessage whose bytes tdsim
reads back, the tenant's disk quota (507) and upload size limit (413) leaving nothing half-written, and
no way to reach another tenant's session, file or upload."""
import hashlib
import http.client
import os
import threading
import time
import urllib.parse

import harness
from session_util import SessionStack

MB = 1024 * 1024


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def raw_request(st, method, path, body=None, headers=None, timeout=120):
    """(status, headers, body bytes) over one connection, streaming `body` when it is an iterable of
    chunks (chunked transfer encoding)."""
    u = urllib.parse.urlparse(st.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        hdrs = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, bytearray)):
            conn.putrequest(method, path)
            for k, v in hdrs.items():
                conn.putheader(k, v)
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            try:
                for chunk in body:
                    conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                conn.send(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the service answered (and closed) before the whole body was sent
        else:
            conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def new_remote_file(st, size, name):
    doc = st.control("/file", {"size": size, "name": name})
    harness.check(doc["size"] == size and len(doc["sha256"]) == 64, doc)
    return doc


def upload(st, sid, data, name="report.pdf", headers=None):
    hdrs = dict(headers or st.auth())
    hdrs["Content-Type"] = "application/octet-stream"
    path = f"/v1/sessions/{sid}/files?name={urllib.parse.quote(name)}"
    return harness.http_json("POST", st.url + path, bytes(data), hdrs, timeout=60)


def uploads_on_disk(st, sid):
    root = os.path.join(st.engine_dir(sid), "uploads")
    if not os.path.isdir(root):
        return []
    return sorted(os.path.join(d, f) for d, _, files in os.walk(root) for f in files)


def invoke(st, sid, fn, headers=None):
    return harness.http_json("POST", f"{st.url}/v1/sessions/{sid}/invoke", fn, headers or st.auth())


def test_a_50mb_file_downloads_whole_and_by_range_without_a_copy_in_memory():
    with SessionStack() as st:
        sid = st.authorized_session()
        remote = new_remote_file(st, 50 * MB, "big.bin")
        fid = remote["file_id"]
        pid = st.service.p.pid
        before = rss_kib(pid)
        peak = [before]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], rss_kib(pid))
                time.sleep(0.02)
        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            status, hdrs, body = raw_request(st, "GET", f"/v1/sessions/{sid}/files/{fid}", headers=st.auth())
        finally:
            done.set()
            sampler.join()
        harness.check(status == 200, f"download: {status} {body[:200]!r}")
        harness.check(hdrs.get("content-length") == str(50 * MB), hdrs)
        harness.check(hdrs.get("accept-ranges") == "bytes", hdrs)
        harness.check('filename="big.bin"' in hdrs.get("content-disposition", ""), hdrs)
        harness.check(len(body) == 50 * MB, f"{len(body)} bytes")
        harness.check(hashlib.sha256(body).hexdigest() == remote["sha256"], "the downloaded bytes differ from tdsim's")
        grown_mib = (peak[0] - before) / 1024
        print(f"RSS before {before} KiB, peak {peak[0]} KiB: +{grown_mib:.1f} MiB for a 50 MiB download")
        if harness.sanitizer_build():
            # ASan keeps freed memory resident in its quarantine (256 MB by default), TSan shadows every
            # byte: RSS measures nothing there. The plain build makes the check.
            print(f"  ({harness.sanitizer_build()} build: RSS growth not checked)", flush=True)
        else:
            harness.check(grown_mib < 10, f"the service's RSS grew by {grown_mib:.1f} MiB during a 50 MiB download")

        # Range requests, served from the file TDLib now holds.
        status, hdrs, part = raw_request(st, "GET", f"/v1/sessions/{sid}/files/{fid}",
                                         headers={**st.auth(), "Range": "bytes=1000-1999"})
        harness.check(status == 206, f"range: {status}")
        harness.check(hdrs.get("content-range") == f"bytes 1000-1999/{50 * MB}", hdrs)
        harness.check(part == body[1000:2000], "the range's bytes differ")
        status, hdrs, part = raw_request(st, "GET", f"/v1/sessions/{sid}/files/{fid}",
                                         headers={**st.auth(), "Range": "bytes=-10"})
        harness.check(status == 206 and part == body[-10:], f"suffix range: {status} {hdrs}")
        status, hdrs, _ = raw_request(st, "GET", f"/v1/sessions/{sid}/files/{fid}",
                                      headers={**st.auth(), "Range": f"bytes={50 * MB}-"})
        harness.check(status == 416 and hdrs.get("content-range") == f"bytes */{50 * MB}", f"416: {status} {hdrs}")

        # The calls went through the invoke pipeline (counted per method like any invoke).
        harness.check(st.metric("telethon_requests_total", method="downloadFile") >= 1,
                      "downloadFile was not counted as a request to Telegram")
        harness.check(st.metric("tgpulse_file_transfers_total", direction="download", result="ok") == 3,
                      "three downloads answered 2xx")
        harness.check(st.metric("tgpulse_file_transfers_total", direction="download", result="refused") == 1,
                      "the 416 counted as refused")
        harness.check(st.metric("tgpulse_file_bytes_total", direction="download") == 50 * MB + 1000 + 10 + 0,
                      "bytes written to clients")
        # A file id the session does not know, and a malformed one.
        status, _, doc = harness.http_json("GET", f"{st.url}/v1/sessions/{sid}/files/999999", headers=st.auth())
        harness.check(status == 404 and doc["error"]["code"] == "not_found", f"unknown file: {status} {doc}")
        status, _, doc = harness.http_json("GET", f"{st.url}/v1/sessions/{sid}/files/x1", headers=st.auth())
        harness.check(status == 400, f"malformed file id: {status} {doc}")


def test_an_upload_is_sent_with_sendMessage_and_tdsim_reads_its_bytes():
    with SessionStack() as st:
        sid = st.authorized_session()
        data = os.urandom(3 * MB + 17)
        status, _, doc = upload(st, sid, data, name="Отчёт 2026.pdf")
        harness.check(status == 201, f"upload: {status} {doc}")
        harness.check(doc["size"] == len(data) and doc["name"] == "Отчёт 2026.pdf", doc)
        input_file = doc["input_file"]
        harness.check(input_file["@type"] == "inputFileLocal", doc)
        with open(input_file["path"], "rb") as f:
            harness.check(f.read() == data, "the stored upload differs from the body")

        status, _, chats = invoke(st, sid, {"@type": "getChats", "limit": 5})
        harness.check(status == 200 and chats["chat_ids"], f"getChats: {status} {chats}")
        send = {"@type": "sendMessage", "chat_id": chats["chat_ids"][0],
                "input_message_content": {"@type": "inputMessageDocument", "document": input_file}}
        status, _, msg = invoke(st, sid, send)
        harness.check(status == 200 and msg["@type"] == "message", f"sendMessage with the upload: {status} {msg}")
        want = hashlib.sha256(data).hexdigest()

        def seen():
            _, _, state = harness.http_json("GET", st.control_url + "/state")
            return any(u["sha256"] == want and u["size"] == len(data)
                       for c in state["clients"] for u in c.get("uploads", []))
        harness.wait_until(seen, timeout=30, what="tdsim reading the upload's bytes")

        # What a process killed in the middle of an upload leaves: a .part file under a name invoke never
        # accepts. The next quota walk of the session removes one nobody wrote to for 10 minutes, and
        # leaves a fresh one (an upload still arriving) alone.
        uploads = os.path.join(st.engine_dir(sid), "uploads")
        stale, fresh = os.path.join(uploads, "a" * 32 + ".part"), os.path.join(uploads, "b" * 32 + ".part")
        for part in (stale, fresh):
            with open(part, "wb") as f:
                f.write(b"half an upload")
        old = time.time() - 3600
        os.utime(stale, (old, old))
        # A chunked upload works too; an empty one is refused and leaves nothing.
        status, _, raw = raw_request(st, "POST", f"/v1/sessions/{sid}/files?name=chunked.txt",
                                     body=iter([b"hello ", b"world"]), headers=st.auth())
        harness.check(status == 201, f"chunked upload: {status} {raw!r}")
        harness.check(not os.path.exists(stale), "an abandoned .part outlived the quota walk")
        harness.check(os.path.exists(fresh), "the walk removed a .part that may still be written")
        os.remove(fresh)
        status, _, doc = upload(st, sid, b"", name="empty.txt")
        harness.check(status == 400 and "empty" in doc["error"]["message"], f"empty upload: {status} {doc}")
        for bad in ("..", "a/b", "x\ty"):
            status, _, doc = upload(st, sid, b"x", name=bad)
            harness.check(status == 400, f"upload named {bad!r}: {status} {doc}")
        harness.check(len(uploads_on_disk(st, sid)) == 2, uploads_on_disk(st, sid))

        # invoke takes only this session's own uploads as local files.
        for path in ("/etc/passwd", input_file["path"] + "/../../../td.binlog",
                     os.path.join(st.engine_dir(sid), "td.binlog")):
            fn = {**send, "input_message_content": {"@type": "inputMessageDocument",
                                                    "document": {"@type": "inputFileLocal", "path": path}}}
            status, _, doc = invoke(st, sid, fn)
            harness.check(status == 403 and doc["error"]["code"] == "forbidden_function", f"{path}: {status} {doc}")

        # DELETE removes an upload; the session's cleanup removes the rest.
        status, _, doc = harness.http_json("DELETE", f"{st.url}/v1/sessions/{sid}/uploads/{'0' * 32}",
                                           headers=st.auth())
        harness.check(status == 404, f"an unknown upload: {status} {doc}")
        upload_id = input_file["path"].split("/")[-2]
        status, _, doc = harness.http_json("DELETE", f"{st.url}/v1/sessions/{sid}/uploads/{upload_id}",
                                           headers=st.auth())
        harness.check(status == 200 and doc["deleted"] is True, f"delete upload: {status} {doc}")
        harness.check(not os.path.exists(input_file["path"]), "the deleted upload is still on disk")
        status, _, _ = harness.http_json("DELETE", f"{st.url}/v1/sessions/{sid}?logout=false", headers=st.auth())
        harness.check(status in (200, 202, 204), f"delete session: {status}")
        st.wait_gone(sid)
        harness.check(not os.path.exists(st.engine_dir(sid)), "the session's uploads outlived its cleanup")


def test_the_tenant_quota_and_the_upload_limit_answer_507_and_413_and_leave_nothing():
    config = "files:\n  max_bytes_per_tenant: 4MiB\n  max_upload_bytes: 3MiB\n"
    with SessionStack(config=config) as st:
        sid = st.authorized_session()
        status, _, doc = upload(st, sid, os.urandom(2 * MB))
        harness.check(status == 201, f"first upload: {status} {doc}")
        # Past the quota with a declared length: refused before the body is read.
        status, _, doc = upload(st, sid, os.urandom(2 * MB + 1))
        harness.check(status == 507 and doc["error"]["code"] == "insufficient_storage", f"over quota: {status} {doc}")
        harness.check("files.max_bytes_per_tenant" in doc["error"]["message"], doc)
        # Past the quota while a chunked body arrives: refused, the partial file removed.
        chunks = iter([os.urandom(256 * 1024) for _ in range(12)])
        status, _, raw = raw_request(st, "POST", f"/v1/sessions/{sid}/files?name=stream.bin", body=chunks,
                                     headers=st.auth())
        harness.check(status == 507, f"chunked over quota: {status} {raw[:200]!r}")
        harness.check(len(uploads_on_disk(st, sid)) == 1, f"a partial upload stayed: {uploads_on_disk(st, sid)}")
        # Larger than files.max_upload_bytes: 413 whatever the quota.
        status, _, doc = upload(st, sid, os.urandom(3 * MB + 1))
        harness.check(status == 413 and "3145728" in doc["error"]["message"], f"over the upload limit: {status} {doc}")
        # A download that cannot fit: TDLib drops the session's cache first, then 507.
        remote = new_remote_file(st, 3 * MB, "too-big.bin")
        status, _, doc = harness.http_json("GET", f"{st.url}/v1/sessions/{sid}/files/{remote['file_id']}",
                                           headers=st.auth())
        harness.check(status == 507, f"download over quota: {status} {doc}")
        _, _, state = harness.http_json("GET", st.control_url + "/state")
        harness.check("optimizeStorage" in state["clients"][0]["calls"], "no optimizeStorage before the 507")
        # A download that fits once the first upload is gone.
        upload_id = uploads_on_disk(st, sid)[0].split("/")[-2]
        status, _, _ = harness.http_json("DELETE", f"{st.url}/v1/sessions/{sid}/uploads/{upload_id}", headers=st.auth())
        harness.check(status == 200, f"delete: {status}")
        status, _, body = raw_request(st, "GET", f"/v1/sessions/{sid}/files/{remote['file_id']}", headers=st.auth())
        harness.check(status == 200 and hashlib.sha256(body).hexdigest() == remote["sha256"], f"download: {status}")
        # (The 413 of a declared length is the HTTP server's, before the route runs: not a transfer.)
        harness.check(st.metric("tgpulse_file_transfers_total", direction="upload", result="over_quota") == 2,
                      "the two 507s of the uploads")
        harness.check(st.metric("tgpulse_file_transfers_total", direction="download", result="over_quota") == 1,
                      "the 507 of the download")
        harness.check(st.metric("tgpulse_file_bytes_total", direction="upload") == 2 * MB, "bytes stored")


def test_another_tenants_session_file_and_upload_are_out_of_reach():
    with SessionStack() as st:
        sid = st.authorized_session()
        status, _, doc = upload(st, sid, b"secret bytes", name="a.txt")
        harness.check(status == 201, f"upload: {status} {doc}")
        remote = new_remote_file(st, 1000, "a.bin")
        other = st.new_tenant("globex")
        for method, path in (("GET", f"/v1/sessions/{sid}/files/{remote['file_id']}"),
                             ("POST", f"/v1/sessions/{sid}/files?name=x.txt"),
                             ("DELETE", f"/v1/sessions/{sid}/uploads/{doc['upload_id']}")):
            status, _, answer = harness.http_json(method, st.url + path, b"x" if method == "POST" else None, other)
            harness.check(status == 404 and answer["error"]["code"] == "not_found",
                          f"{method} {path} as another tenant: {status} {answer}")
        # The other tenant's own session cannot send the first tenant's upload.
        status, _, login = harness.http_json("POST", st.url + "/v1/qr-logins", {}, other)
        harness.check(status == 201, f"other login: {status} {login}")
        osid = login["session_id"]
        link = harness.wait_until(lambda: st.login_doc(osid, other)[2].get("link"), timeout=20, what="QR link")
        st.control("/scan", {"link": link, "outcome": "accept"})
        harness.wait_until(lambda: st.login_doc(osid, other)[2]["status"] == "authorized", what="other authorized")
        fn = {"@type": "sendMessage", "chat_id": 800000000,
              "input_message_content": {"@type": "inputMessageDocument", "document": doc["input_file"]}}
        status, _, answer = invoke(st, osid, fn, other)
        harness.check(status == 403 and answer["error"]["code"] == "forbidden_function",
                      f"another session's upload passed invoke: {status} {answer}")
        # No token: 401, before any body is read.
        status, _, answer = harness.http_json("POST", f"{st.url}/v1/sessions/{sid}/files?name=x", b"x", {})
        harness.check(status == 401, f"no token: {status} {answer}")


if __name__ == "__main__":
    harness.main([test_a_50mb_file_downloads_whole_and_by_range_without_a_copy_in_memory,
                  test_an_upload_is_sent_with_sendMessage_and_tdsim_reads_its_bytes,
                  test_the_tenant_quota_and_the_upload_limit_answer_507_and_413_and_leave_nothing,
                  test_another_tenants_session_file_and_upload_are_out_of_reach])
