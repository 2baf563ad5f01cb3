"""The invoke attacks replayed against `tgpulse serve`: process-wide, test, proxy, option, local-file and
service-owned TDLib functions (403 forbidden_function, counted), unknown and rotating @type values (403,
no per-method state), a 1 MB @type (400, RSS flat), a 100,000-deep body (400, the service still
answers), request smuggling by Transfer-Encoding (400 and closed), the login page's security headers,
and a configuration that tries to allow a denied function (start-up fails naming key and function).
On tdsim with an authorized session, and on the real libtdjson offline, where the session stays
qr_pending and setLogStream/addLogMessage/testReturnError would act on the real library."""
import base64
import hashlib
import json
import os
import re
import socket
import tempfile
import time

import harness
import serve_util
from session_util import ADMIN, ADMIN_TOKEN
from throttle_util import InvokeStack

stack = None

# One representative (or more) per denied family; each must answer 403 forbidden_function.
DENIED = [
    {"@type": "setLogStream", "log_stream": {"@type": "logStreamFile", "path": "/tmp/x.log", "max_file_size": 1 << 20}},
    {"@type": "getLogStream"},
    {"@type": "setLogVerbosityLevel", "new_verbosity_level": 1023},
    {"@type": "addLogMessage", "verbosity_level": 0, "text": "Delay: x because of [Error : 420 : FLOOD_WAIT_86400]"},
    {"@type": "setLogTagVerbosityLevel", "tag": "td_requests", "new_verbosity_level": 1023},
    {"@type": "getLogTags"},
    {"@type": "parseTextEntities", "text": "*x*", "parse_mode": {"@type": "textParseModeMarkdown"}},
    {"@type": "getOption", "name": "version"},
    {"@type": "testReturnError", "error": {"@type": "error", "code": 429, "message": "Too Many Requests: retry after 86400"}},
    {"@type": "testSquareInt", "x": 3},
    {"@type": "testNetwork"},
    {"@type": "addProxy", "server": "10.0.0.1", "port": 1080, "enable": True, "type": {"@type": "proxyTypeSocks5"}},
    {"@type": "pingProxy", "proxy_id": 1},
    {"@type": "testProxy", "server": "10.0.0.1", "port": 1080},
    {"@type": "setOption", "name": "use_storage_optimizer", "value": {"@type": "optionValueBoolean", "value": False}},
    {"@type": "optimizeStorage", "size": 0},
    {"@type": "setNetworkType", "type": {"@type": "networkTypeNone"}},
    {"@type": "preliminaryUploadFile", "file": {"@type": "inputFileLocal", "path": "/etc/passwd"}},
    {"@type": "readFilePart", "file_id": 1, "offset": 0, "count": 0},
    {"@type": "downloadFile", "file_id": 1, "priority": 1, "synchronous": True},
    {"@type": "writeGeneratedFilePart", "generation_id": "1", "offset": 0, "data": ""},
    {"@type": "setTdlibParameters", "database_directory": "/"},
    {"@type": "setDatabaseEncryptionKey", "new_encryption_key": ""},
    {"@type": "checkAuthenticationPassword", "password": "x"},
    {"@type": "requestQrCodeAuthentication"},
    {"@type": "getAuthorizationState"},
    {"@type": "close"},
    {"@type": "logOut"},
    {"@type": "destroy"},
    {"@type": "deleteAccount", "reason": ""},
]


def post_invoke(url, token, sid, body, timeout=30):
    """POST /v1/sessions/{sid}/invoke with a raw (str/bytes) or JSON body; (status, headers, doc)."""
    headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    status, hdrs, raw = harness.http("POST", f"{url}/v1/sessions/{sid}/invoke", body, headers, timeout=timeout)
    try:
        doc = json.loads(raw) if raw else None
    except ValueError:
        doc = None
    return status, hdrs, doc


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def check_forbidden(status, doc, name, hard=True):
    """403 forbidden_function naming `name`; `hard`: refused by the deny-list (which no configuration
    lifts), not merely absent from the allow-list."""
    harness.check(status == 403, f"{name}: {status} {doc}")
    err = (doc or {}).get("error", {})
    harness.check(err.get("code") == "forbidden_function", f"{name}: {doc}")
    harness.check(err.get("function") == name and name in err.get("message", ""), f"{name}: {doc}")
    if hard:
        harness.check(" may not be invoked" in err["message"], f"{name}: not on the deny-list: {doc}")


def getme_ok(url, token, sid):
    status, _, doc = post_invoke(url, token, sid, {"@type": "getMe"})
    harness.check(status == 200 and doc.get("@type") == "user", f"getMe after the attack: {status} {doc}")


# --- tdsim, authorized session ---------------------------------------------------------------------

def test_denied_families_answer_403_and_are_counted():
    sid = stack.sessions[0]
    before = stack.metric("tgpulse_rejected_total", reason="forbidden_function")
    sent_before = {fn["@type"]: stack.metric("telethon_requests_total", method=fn["@type"]) for fn in DENIED}
    for fn in DENIED:
        status, _, doc = post_invoke(stack.url, stack.token, sid, fn)
        check_forbidden(status, doc, fn["@type"])
    after = stack.metric("tgpulse_rejected_total", reason="forbidden_function")
    harness.check(after - before == len(DENIED), f"forbidden_function counted {after - before}, want {len(DENIED)}")
    # Nothing reached TDLib: no request counted for a refused name (the service's own logOut/close are
    # pre-created series, so compare), and no new series for the others.
    for name, count in sent_before.items():
        harness.check(stack.metric("telethon_requests_total", method=name) == count, f"{name} reached the engine")
    status, _, raw = harness.http("GET", stack.url + "/metrics")
    text = raw.decode()
    for name in ("setLogStream", "testReturnError", "addProxy", "readFilePart"):
        harness.check(f'method="{name}"' not in text, f"{name} became a per-method series")
    harness.check(stack.metric("telethon_floodwait_total", reason="testReturnError") == 0, "a forged FloodWait")
    getme_ok(stack.url, stack.token, sid)


def test_local_file_arguments_are_refused():
    sid = stack.sessions[0]
    status, _, chats = post_invoke(stack.url, stack.token, sid, {"@type": "getChats", "limit": 5})
    harness.check(status == 200 and chats.get("chat_ids"), f"getChats: {status} {chats}")
    fn = {"@type": "sendMessage", "chat_id": chats["chat_ids"][0],
          "input_message_content": {"@type": "inputMessageDocument",
                                    "document": {"@type": "inputFileLocal", "path": "/etc/passwd"}}}
    status, _, doc = post_invoke(stack.url, stack.token, sid, fn)
    check_forbidden(status, doc, "sendMessage")
    harness.check("/etc/passwd" not in json.dumps(doc), f"the path was echoed: {doc}")
    fn["input_message_content"] = {"@type": "inputMessageText",
                                   "text": {"@type": "formattedText", "text": "hi", "entities": []}}
    status, _, doc = post_invoke(stack.url, stack.token, sid, fn)
    harness.check(status == 200, f"a plain sendMessage: {status} {doc}")


def test_unknown_and_rotating_types_answer_403_without_state():
    sid = stack.sessions[0]
    before = stack.metric("tgpulse_rejected_total", reason="forbidden_function")
    for i in range(300):
        name = f"rotating{i}Method"
        status, _, doc = post_invoke(stack.url, stack.token, sid, {"@type": name})
        check_forbidden(status, doc, name, hard=False)
    harness.check(stack.metric("tgpulse_rejected_total", reason="forbidden_function") - before == 300, "not counted")
    status, _, raw = harness.http("GET", stack.url + "/metrics")
    harness.check("rotating" not in raw.decode(), "a rotating @type became a metric series")


def test_invalid_type_answers_400_and_rss_stays_flat():
    sid = stack.sessions[0]
    pid = stack.service.p.pid
    before = stack.metric("tgpulse_rejected_total", reason="invalid_function")
    bad = [{"@type": "get_chats"}, {"@type": ""}, {"@type": 7}, {"@type": "9getMe"}, {"limit": 1},
           {"@type": "a" * 65}, {"@type": "getMe\u0000"}]
    for fn in bad:
        status, _, doc = post_invoke(stack.url, stack.token, sid, fn)
        harness.check(status == 400 and doc["error"]["code"] == "invalid_argument", f"{fn!r:.60}: {status} {doc}")
    big = {"@type": "A" * ((1 << 20) - 64)}  # just under the 1 MiB body limit
    warm = post_invoke(stack.url, stack.token, sid, big)
    harness.check(warm[0] == 400, f"1 MB @type: {warm[0]} {warm[2]}")
    rss0 = rss_kib(pid)
    for i in range(30):
        big = {"@type": chr(ord("A") + i % 26) * ((1 << 20) - 64)}
        status, _, doc = post_invoke(stack.url, stack.token, sid, big)
        harness.check(status == 400, f"1 MB @type: {status}")
        harness.check(len(json.dumps(doc)) < 1000, "the 1 MB name was echoed back")
    rss1 = rss_kib(pid)
    print(f"  RSS {rss0} KiB -> {rss1} KiB after 30 more 1 MB @type bodies", flush=True)
    if harness.asan_build():
        # ASan keeps freed memory resident in its quarantine (256 MB by default): RSS measures nothing
        # there. The plain build makes the check.
        print("  (ASan build: RSS growth not checked)", flush=True)
    else:
        harness.check(rss1 - rss0 < 8 * 1024, f"RSS grew by {rss1 - rss0} KiB")
    counted = stack.metric("tgpulse_rejected_total", reason="invalid_function") - before
    harness.check(counted == len(bad) + 31, f"invalid_function counted {counted}")
    getme_ok(stack.url, stack.token, sid)


def test_deep_and_wide_bodies_answer_400_and_the_service_lives():
    sid = stack.sessions[0]
    before = stack.metric("tgpulse_rejected_total", reason="body_bounds")
    deep = '{"@type":"getChats","x":' + "[" * 100000 + "]" * 100000 + "}"
    status, _, doc = post_invoke(stack.url, stack.token, sid, deep)
    harness.check(status == 400 and doc["error"]["code"] == "invalid_argument", f"deep: {status} {doc}")
    harness.check("64 levels" in doc["error"]["message"], f"the limit is not named: {doc}")
    deep_objects = '{"a":' * 100000 + "1" + "}" * 100000
    status, _, doc = post_invoke(stack.url, stack.token, sid, deep_objects)
    harness.check(status == 400 and "64 levels" in doc["error"]["message"], f"deep objects: {status} {doc}")
    wide = '{"@type":"getChats","x":[' + "0," * 100000 + "0]}"
    status, _, doc = post_invoke(stack.url, stack.token, sid, wide)
    harness.check(status == 400 and "100000 values" in doc["error"]["message"], f"wide: {status} {doc}")
    # The other JSON routes share the parser.
    status, _, raw = harness.http("POST", stack.url + "/v1/qr-logins", deep, stack.auth())
    harness.check(status == 400 and b"64 levels" in raw, f"qr-logins deep: {status} {raw[:200]}")
    status, _, raw = harness.http("POST", stack.url + "/v1/tenants", deep, ADMIN)
    harness.check(status == 400 and b"64 levels" in raw, f"tenants deep: {status} {raw[:200]}")
    counted = stack.metric("tgpulse_rejected_total", reason="body_bounds") - before
    harness.check(counted == 5, f"body_bounds counted {counted}, want 5")
    # Exactly 64 levels is a valid body (and reaches the function policy, then TDLib).
    ok = '{"@type":"getChats","limit":1,"x":' + "[" * 63 + "]" * 63 + "}"
    status, _, doc = post_invoke(stack.url, stack.token, sid, ok)
    harness.check(status != 400, f"64 levels refused: {status} {doc}")
    harness.check(stack.service.alive(), "the service died")
    getme_ok(stack.url, stack.token, sid)


def test_policy_answers_before_the_session_is_authorized():
    status, _, doc = harness.http_json("POST", stack.url + "/v1/qr-logins", {}, stack.auth())
    harness.check(status == 201, f"qr-login: {status} {doc}")
    sid = doc["session_id"]
    status, _, doc = post_invoke(stack.url, stack.token, sid, {"@type": "setLogVerbosityLevel", "new_verbosity_level": 5})
    check_forbidden(status, doc, "setLogVerbosityLevel")
    status, _, doc = post_invoke(stack.url, stack.token, sid, {"@type": "getMe"})
    harness.check(status == 409, f"getMe on a pending session: {status} {doc}")
    harness.http_json("DELETE", f"{stack.url}/v1/qr-logins/{sid}", headers=stack.auth(), timeout=30)


def smuggle(port, te_headers):
    """POST with the given framing headers, a chunked body, then a smuggled GET; (status, raw, closed)."""
    body = b"5\r\nhello\r\n0\r\n\r\n"
    smuggled = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
    req = b"POST /v1/qr-logins HTTP/1.1\r\nHost: t\r\n" + te_headers + b"\r\n" + body + smuggled
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(req)
        chunks = []
        closed = False
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                closed = True
                break
            chunks.append(chunk)
    raw = b"".join(chunks)
    status, _, _ = serve_util.parse_response(raw)
    return status, raw, closed


def test_transfer_encoding_smuggling_is_refused():
    before = stack.metric("tgpulse_rejected_total", reason="request_framing")
    variants = [b"Transfer-Encoding: gzip, chunked\r\n", b"Transfer-Encoding: chunked, identity\r\n",
                b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                b"Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n",
                b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
                b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                b"Transfer-Encoding: gzip\r\nContent-Length: 5\r\n",
                b"Transfer-Encoding: identity\r\n"]
    for v in variants:
        status, raw, closed = smuggle(stack.service.port, v)
        harness.check(status == 400, f"{v!r}: {raw[:300]!r}")
        harness.check(closed, f"{v!r}: the connection stayed open")
        harness.check(raw.count(b"HTTP/1.1 ") == 1, f"{v!r}: the smuggled request was answered: {raw!r}")
    counted = stack.metric("tgpulse_rejected_total", reason="request_framing") - before
    harness.check(counted == len(variants), f"request_framing counted {counted}, want {len(variants)}")
    harness.check(stack.service.alive(), "the service died")


def test_security_headers():
    # Tenant creation carries the token.
    status, hdrs, doc = harness.http_json("POST", stack.url + "/v1/tenants", {"tenant_id": "headers"}, ADMIN)
    harness.check(status == 201 and hdrs.get("cache-control") == "no-store", f"tenant: {status} {hdrs}")
    # QR login create/get carry the link and the page key.
    status, hdrs, doc = harness.http_json("POST", stack.url + "/v1/qr-logins", {}, stack.auth())
    harness.check(status == 201 and hdrs.get("cache-control") == "no-store", f"create: {hdrs}")
    sid, page = doc["session_id"], doc["page_url"]
    status, hdrs, _ = harness.http_json("GET", f"{stack.url}/v1/qr-logins/{sid}", headers=stack.auth())
    harness.check(status == 200 and hdrs.get("cache-control") == "no-store", f"get: {hdrs}")
    harness.wait_until(lambda: harness.http("GET", f"{stack.url}/v1/qr-logins/{sid}/qr.svg", headers=stack.auth())[0] == 200,
                       timeout=20, what="QR svg")
    status, hdrs, _ = harness.http("GET", f"{stack.url}/v1/qr-logins/{sid}/qr.svg", headers=stack.auth())
    harness.check(hdrs.get("cache-control") == "no-store", f"svg: {hdrs}")
    # The page: a script hash instead of 'unsafe-inline', no framing, no caching.
    status, hdrs, html = harness.http("GET", stack.url + page)
    harness.check(status == 200, f"page: {status}")
    csp = hdrs.get("content-security-policy", "")
    directives = {d.strip().split(" ", 1)[0]: d.strip() for d in csp.split(";") if d.strip()}
    script_src = directives.get("script-src", "")
    harness.check(script_src and "unsafe-inline" not in script_src, f"script-src: {csp}")
    harness.check(directives.get("frame-ancestors") == "frame-ancestors 'none'", f"frame-ancestors: {csp}")
    harness.check(hdrs.get("x-frame-options") == "DENY", f"X-Frame-Options: {hdrs}")
    harness.check(hdrs.get("cache-control") == "no-store", f"page Cache-Control: {hdrs}")
    scripts = re.findall(rb"<script>(.*?)</script>", html, re.S)
    harness.check(len(scripts) == 1, f"{len(scripts)} scripts in the page")
    digest = "'sha256-" + base64.b64encode(hashlib.sha256(scripts[0]).digest()).decode() + "'"
    harness.check(digest in script_src, f"{digest} not in {script_src}")
    harness.check(b"Content-Security-Policy" not in html, "the page still declares a looser <meta> policy")
    # Event streams (the tenant's and the page's) carry links.
    path = page.split("?")[0].replace("/login/", "/v1/login/") + "/events?" + page.split("?")[1]
    for target, extra in ((f"/v1/qr-logins/{sid}/events", f"Authorization: Bearer {stack.token}\r\n"), (path, "")):
        with socket.create_connection(("127.0.0.1", stack.service.port), timeout=10) as s:
            s.sendall(f"GET {target} HTTP/1.1\r\nHost: t\r\n{extra}\r\n".encode())
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = s.recv(4096)
                if not chunk:
                    break
                head += chunk
        harness.check(b" 200 " in head.split(b"\r\n")[0] and b"Cache-Control: no-store" in head, f"{target}: {head!r}")
    harness.http_json("DELETE", f"{stack.url}/v1/qr-logins/{sid}", headers=stack.auth(), timeout=30)


# --- configuration ---------------------------------------------------------------------------------

def test_config_cannot_allow_a_denied_function():
    for key, env, name in (("invoke.allow_extra", "TGPULSE_INVOKE_ALLOW_EXTRA", "setLogStream"),
                           ("invoke.allow", "TGPULSE_INVOKE_ALLOW", "testReturnError"),
                           ("invoke.allow_extra", "TGPULSE_INVOKE_ALLOW_EXTRA", "addProxy")):
        code, err = serve_util.run_serve_expecting_failure(
            ["--listen", f"127.0.0.1:{harness.free_port()}", "--data-dir", tempfile.mkdtemp(prefix="tgpulse-cfg-")],
            env={env: "getMe, " + name, "TGPULSE_TD_LIBRARY": harness.TDSIM_LIB})
        harness.check(code != 0, f"{key}={name}: started")
        harness.check(key in err and name in err, f"{key}={name}: {err}")


def test_config_allow_extra_opens_a_function():
    with serve_util.Service(env={"TGPULSE_ADMIN_TOKEN": ADMIN_TOKEN, "TGPULSE_TD_LIBRARY": harness.TDSIM_LIB,
                                 "TGPULSE_INVOKE_ALLOW": "getMe,getChats"}) as svc:
        code, _, tenant = harness.http_json("POST", svc.url + "/v1/tenants", {"tenant_id": "acme"}, ADMIN)
        code, _, doc = harness.http_json("POST", svc.url + "/v1/qr-logins", {},
                                         {"Authorization": "Bearer " + tenant["token"]})
        sid = doc["session_id"]
        status, _, doc = post_invoke(svc.url, tenant["token"], sid, {"@type": "getChat", "chat_id": 1})
        check_forbidden(status, doc, "getChat", hard=False)  # not on the replaced list
        status, _, doc = post_invoke(svc.url, tenant["token"], sid, {"@type": "getChats", "limit": 1})
        harness.check(status == 409, f"getChats passes the policy (then 409, not authorized): {status} {doc}")


# --- the real libtdjson, offline -------------------------------------------------------------------

def test_real_tdlib_process_functions_are_refused():
    if not os.path.exists(harness.TDJSON_LIB):
        raise AssertionError(f"{harness.TDJSON_LIB} is missing: run scripts/install-deps.sh")
    target_dir = tempfile.mkdtemp(prefix="tgpulse-logstream-")
    target = os.path.join(target_dir, "stolen.log")
    env = {"TGPULSE_ADMIN_TOKEN": ADMIN_TOKEN, "TGPULSE_TD_LIBRARY": harness.TDJSON_LIB}
    with serve_util.Service(env=env) as svc:
        code, _, tenant = harness.http_json("POST", svc.url + "/v1/tenants", {"tenant_id": "acme"}, ADMIN)
        harness.check(code == 201, f"tenant: {code}")
        token = tenant["token"]
        code, _, doc = harness.http_json("POST", svc.url + "/v1/qr-logins", {}, {"Authorization": "Bearer " + token},
                                         timeout=30)
        harness.check(code == 201 and doc["status"] == "qr_pending", f"qr-login: {code} {doc}")
        sid = doc["session_id"]
        attacks = [
            {"@type": "setLogStream", "log_stream": {"@type": "logStreamFile", "path": target,
                                                     "max_file_size": 1 << 20, "redirect_stderr": True}},
            {"@type": "setLogVerbosityLevel", "new_verbosity_level": 1023},
            {"@type": "addLogMessage", "verbosity_level": 0, "text": "abort"},
            {"@type": "testReturnError", "error": {"@type": "error", "code": 429,
                                                   "message": "Too Many Requests: retry after 86400"}},
            {"@type": "getLogStream"},
        ]
        for fn in attacks:
            status, _, doc = post_invoke(svc.url, token, sid, fn)
            check_forbidden(status, doc, fn["@type"])
        deep = '{"@type":"getMe","x":' + "[" * 100000 + "]" * 100000 + "}"
        status, _, doc = post_invoke(svc.url, token, sid, deep)
        harness.check(status == 400 and "64 levels" in doc["error"]["message"], f"deep: {status} {doc}")
        time.sleep(1)
        harness.check(svc.alive(), f"the service died: {svc.stderr()[-2000:]}")
        harness.check(not os.path.exists(target), "setLogStream created its file")
        harness.check(os.listdir(target_dir) == [], f"files appeared: {os.listdir(target_dir)}")
        code, _, doc = harness.http_json("GET", f"{svc.url}/v1/qr-logins/{sid}", headers={"Authorization": "Bearer " + token})
        harness.check(code == 200 and doc["status"] == "qr_pending", f"the session after the attacks: {code} {doc}")
        status, raw = harness.http("GET", svc.url + "/metrics")[0::2]
        harness.check(status == 200, "metrics")
        harness.check('tgpulse_rejected_total{reason="forbidden_function"} 5' in raw.decode(), "not counted")


PROBE = r"""
import ctypes, json, sys
lib = ctypes.CDLL(sys.argv[1])
lib.td_execute.argtypes = [ctypes.c_char_p]
lib.td_execute.restype = ctypes.c_char_p
lib.td_execute(b'{"@type":"setLogVerbosityLevel","new_verbosity_level":0}')
for name in sys.stdin.read().split():
    print("?" + name, flush=True)  # a crash leaves this as the last line
    if name == "addLogMessage":  # at level 0 it aborts the process
        print("!" + name, flush=True)
        continue
    answer = lib.td_execute(json.dumps({"@type": name}).encode())
    doc = json.loads(answer) if answer else {}
    message = doc.get("message", "")
    if doc.get("@type") == "error" and ("can't be executed synchronously" in message or "Unknown class" in message):
        continue
    print("!" + name, flush=True)
"""


def synchronous_functions(library):
    """The functions `library` runs through td_execute: every constructor-like name in the binary is
    tried in a child process; one that crashes the child counts as synchronous too."""
    import subprocess
    import sys
    with open(library, "rb") as f:
        data = f.read()
    names = sorted({m.decode() for m in re.findall(rb"(?<=\x00)([a-z][A-Za-z0-9]{3,60})(?=\x00)", data)})
    found = set()
    for _ in range(20):
        if not names:
            break
        p = subprocess.run([sys.executable, "-c", PROBE, library], input="\n".join(names), capture_output=True,
                           text=True, timeout=300)
        lines = p.stdout.splitlines()
        found.update(line[1:] for line in lines if line.startswith("!"))
        if p.returncode == 0:
            break
        tried = [line[1:] for line in lines if line.startswith("?")]
        crashed = tried[-1]
        print(f"  td_execute({crashed}) crashed the library (exit {p.returncode})", flush=True)
        found.add(crashed)
        names = names[names.index(crashed) + 1:]
    return found


def test_real_tdlib_every_synchronous_function_is_refused():
    if not os.path.exists(harness.TDJSON_LIB):
        raise AssertionError(f"{harness.TDJSON_LIB} is missing: run scripts/install-deps.sh")
    sync = synchronous_functions(harness.TDJSON_LIB)
    print(f"  {len(sync)} synchronous functions: {' '.join(sorted(sync))}", flush=True)
    harness.check(len(sync) >= 20 and "setLogStream" in sync and "getTextEntities" in sync, f"probe found {sync}")
    env = {"TGPULSE_ADMIN_TOKEN": ADMIN_TOKEN, "TGPULSE_TD_LIBRARY": harness.TDJSON_LIB}
    with serve_util.Service(env=env) as svc:
        code, _, tenant = harness.http_json("POST", svc.url + "/v1/tenants", {"tenant_id": "acme"}, ADMIN)
        token = tenant["token"]
        code, _, doc = harness.http_json("POST", svc.url + "/v1/qr-logins", {}, {"Authorization": "Bearer " + token},
                                         timeout=30)
        harness.check(code == 201, f"qr-login: {code} {doc}")
        sid = doc["session_id"]
        for name in sorted(sync):
            status, _, answer = post_invoke(svc.url, token, sid, {"@type": name})
            check_forbidden(status, answer, name)
        harness.check(svc.alive(), "the service died")


if __name__ == "__main__":
    # Hundreds of refused requests in a few seconds: the tenant request quota (tested on its own in
    # test_security_isolation.py) is off here, so each answer is the policy's, not the quota's.
    with InvokeStack(sessions=1, config="limits:\n  tenant_request_rate: 0\n") as s:
        stack = s
        harness.main([test_denied_families_answer_403_and_are_counted, test_local_file_arguments_are_refused,
                      test_unknown_and_rotating_types_answer_403_without_state,
                      test_invalid_type_answers_400_and_rss_stays_flat,
                      test_deep_and_wide_bodies_answer_400_and_the_service_lives,
                      test_policy_answers_before_the_session_is_authorized,
                      test_transfer_encoding_smuggling_is_refused, test_security_headers,
                      test_config_cannot_allow_a_denied_function, test_config_allow_extra_opens_a_function,
                      test_real_tdlib_process_functions_are_refused,
                      test_real_tdlib_every_synchronous_function_is_refused])
