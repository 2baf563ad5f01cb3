"""Invoke against tdsim's flood control, one path each: a wait TDLib absorbs, a 429 within the threshold
(slept, then the call succeeds), a 429 beyond it (HTTP 429 with Retry-After), the flood ledger keeping
a second call from Telegram, and flood=fail. Each checks the seed metrics, the "FloodWait detected"
log line and the invoke span."""
import harness
from session_util import FLOOD_CONFIG as CONFIG
from throttle_util import InvokeStack, span_attr

stack = None
GET_CHATS = {"@type": "getChats", "limit": 10}


def floodwait_lines(operation, method=None):
    return [line for line in stack.logs("FloodWait detected")
            if line.get("operation") == operation and (method is None or line.get("td.method") == method)]


def test_absorbed_flood_wait():
    stack.control("/profile", {"flood_wait_limit_seconds": 60})
    sid = stack.sessions[0]
    engine_before = stack.metric("telethon_floodwait_total", reason="engine")
    stack.control("/flood", {"method": "getMe", "seconds": 1})
    status, _, doc, elapsed, _ = stack.invoke(sid, {"@type": "getMe"})
    harness.check(status == 200, f"getMe: {status} {doc}")  # answered (late), not a 429
    harness.check(elapsed >= 0.9, f"the absorbed wait did not delay the answer ({elapsed:.3f}s)")
    harness.wait_until(lambda: stack.metric("telethon_floodwait_total", reason="engine") == engine_before + 1,
                       timeout=10, what="telethon_floodwait_total{reason=engine} + 1")
    harness.wait_until(lambda: floodwait_lines("engine"), timeout=10, what="the engine's FloodWait log line")
    # Attributed through TDLib's client tag: the tenant and session of the client the wait delayed.
    line = floodwait_lines("engine")[-1]
    harness.check(line.get("tenant_id") == stack.tenant_id and line.get("session_id") == sid,
                  f"the absorbed wait's line does not name its tenant and session: {line}")
    harness.check(line["seconds"] == 1 and line["delay"] == 1, f"seconds/delay: {line}")
    harness.check(stack.metric("telethon_floodwait_total", reason="getMe") == 0,
                  "an absorbed wait was counted by the invoke path too")


def test_429_within_threshold_is_slept_then_succeeds():
    stack.control("/profile", {"flood_wait_limit_seconds": 0})  # every flood wait comes back as a 429
    sid = stack.sessions[1]
    stack.control("/flood", {"method": "getChats", "seconds": 2})
    status, _, doc, elapsed, trace = stack.invoke(sid, GET_CHATS, deadline_ms=10000)
    harness.check(status == 200, f"getChats: {status} {doc}")
    harness.check(elapsed >= 1.9, f"the FloodWait was not waited out ({elapsed:.3f}s)")
    harness.check(stack.metric("telethon_floodwait_total", reason="getChats", seconds="5") == 1,
                  "telethon_floodwait_total{reason=getChats,seconds=5}")
    harness.check(stack.metric("telethon_floodwait_duration_seconds_count", reason="getChats") == 1,
                  "the wait was not observed")
    harness.check(stack.metric("telethon_floodwait_duration_seconds_sum", reason="getChats") == 2,
                  "the observed wait is not the one Telegram asked for")
    harness.check(stack.metric("telethon_requests_total", method="getChats", status="flood_wait") == 1,
                  "requests_total{getChats,flood_wait}")
    harness.check(stack.metric("telethon_requests_total", method="getChats", status="success") == 1,
                  "requests_total{getChats,success}: the retry")
    line = stack.wait_logs("FloodWait detected", 1)
    line = floodwait_lines("invoke", "getChats")[-1]
    harness.check(line["log.level"] == "warn", f"level: {line}")
    harness.check(line["seconds"] == 2 and line["delay"] == 2, f"seconds/delay: {line}")
    harness.check(line["tenant_id"] == stack.tenant_id and line["session_id"] == sid, f"ids: {line}")
    harness.check(line.get("trace.id") == trace, f"trace.id {line.get('trace.id')} != {trace}")
    spans = stack.spans(trace, "telethon_invoke")
    invoke = next(s for s in spans if s["name"] == "telethon_invoke")
    harness.check(span_attr(invoke, "telethon.floodwait_seconds") == 2, f"span attributes: {invoke}")
    events = [e["name"] for e in invoke.get("events", [])]
    harness.check("floodwait" in events, f"span events: {events}")


def test_429_beyond_threshold_answers_429_and_the_ledger_blocks_the_next_call():
    stack.control("/profile", {"flood_wait_limit_seconds": 0})
    sid = stack.sessions[2]
    method = "searchPublicChat"
    call = {"@type": method, "username": "telegram"}
    stack.control("/flood", {"method": method, "seconds": 120})
    sent_before = stack.metric("telethon_requests_total", method=method)
    status, headers, doc, elapsed, trace = stack.invoke(sid, call)
    harness.check(status == 429, f"expected 429, got {status} {doc}")
    harness.check(headers.get("retry-after") == "120", f"Retry-After: {headers.get('retry-after')}")
    err = doc["error"]
    harness.check(err["code"] == "flood_wait" and err["method"] == method and err["retry_after"] == 120,
                  f"error body: {doc}")
    harness.check(elapsed < 2, f"a wait beyond the threshold was slept ({elapsed:.3f}s)")
    harness.check(stack.metric("telethon_floodwait_total", reason=method, seconds="300") == 1,
                  f"telethon_floodwait_total{{reason={method},seconds=300}}")
    harness.check(stack.metric("telethon_floodwait_duration_seconds_sum", reason=method) == 120,
                  "the wait Telegram asked for was not observed although the call failed fast")
    stack.wait_logs("FloodWait detected", 1)
    line = floodwait_lines("invoke", method)[-1]
    harness.check(line["seconds"] == 120 and line["delay"] == 0, f"seconds/delay: {line}")
    spans = stack.spans(trace, "telethon_invoke")
    invoke = next(s for s in spans if s["name"] == "telethon_invoke")
    harness.check(span_attr(invoke, "telethon.floodwait_seconds") == 120, f"span attributes: {invoke}")
    harness.check(stack.metric("telethon_requests_total", method=method) == sent_before + 1, "one call sent")

    # The ledger: the next call of the method on this session never reaches Telegram.
    hits_before = stack.metric("telethon_rate_limit_hits_total", endpoint=method)
    status, headers, doc, elapsed, trace = stack.invoke(sid, call)
    harness.check(status == 429 and doc["error"]["code"] == "flood_wait", f"second call: {status} {doc}")
    harness.check(headers.get("retry-after") in ("119", "120"), f"Retry-After: {headers.get('retry-after')}")
    harness.check(stack.metric("telethon_requests_total", method=method) == sent_before + 1,
                  "the ledger let the second call through to TDLib")
    harness.check(stack.metric("telethon_floodwait_total", reason=method) == 1, "a ledger block counted as FloodWait")
    harness.check(stack.metric("telethon_rate_limit_hits_total", endpoint=method) == hits_before + 1,
                  "the ledger block was not counted as a rate-limit hit")
    spans = stack.spans(trace, "telethon_invoke")
    invoke = next(s for s in spans if s["name"] == "telethon_invoke")
    harness.check("flood_ledger" in [e["name"] for e in invoke.get("events", [])], f"span events: {invoke}")
    # Another session is not blocked.
    status, _, doc, _, _ = stack.invoke(stack.sessions[3], call)
    harness.check(status != 429, f"another session was blocked: {status} {doc}")


def test_flood_fail_answers_at_once():
    stack.control("/profile", {"flood_wait_limit_seconds": 0})
    sid = stack.sessions[3]
    stack.control("/flood", {"method": "getMe", "seconds": 3})
    status, headers, doc, elapsed, _ = stack.invoke(sid, {"@type": "getMe"}, flood="fail")
    harness.check(status == 429 and doc["error"]["code"] == "flood_wait", f"{status} {doc}")
    harness.check(headers.get("retry-after") == "3", f"Retry-After: {headers.get('retry-after')}")
    harness.check(elapsed < 1.5, f"flood=fail slept ({elapsed:.3f}s)")


def test_a_deleted_session_takes_its_flood_state_with_it():
    # After the 429 beyond the threshold, session 2's searchPublicChat is in the ledger (120 s) and its
    # throttle bucket for the method is slowed. Deleting the session drops both: the gauges say so.
    method = "searchPublicChat"
    sid = stack.sessions[2]
    harness.check(stack.metric("tgpulse_flood_ledger_entries") >= 1, "no running FloodWait in the ledger")
    slowed_before = stack.metric("tgpulse_throttle_slowed_sessions", method=method)
    harness.check(slowed_before >= 1, "the FloodWait did not slow the session's bucket")
    configured = 0.5  # the default session rate of searchPublicChat (docs/throttling.md)
    harness.check(stack.metric("tgpulse_throttle_rate", method=method) < configured,
                  "tgpulse_throttle_rate does not show the slowed session")
    ledger_before = stack.metric("tgpulse_flood_ledger_entries")
    buckets_before = stack.metric("tgpulse_throttle_buckets", layer="session")
    status, _, doc = harness.http_json("DELETE", f"{stack.url}/v1/sessions/{sid}?logout=false", headers=stack.auth())
    harness.check(status == 200, f"DELETE: {status} {doc}")
    harness.check(stack.metric("tgpulse_flood_ledger_entries") == ledger_before - 1, "the ledger kept the session")
    harness.check(stack.metric("tgpulse_throttle_slowed_sessions", method=method) == slowed_before - 1,
                  "the slowed bucket outlived its session")
    harness.check(stack.metric("tgpulse_throttle_buckets", layer="session") < buckets_before,
                  "the session's buckets were kept")
    if slowed_before == 1:
        harness.check(stack.metric("tgpulse_throttle_rate", method=method) == configured,
                      "tgpulse_throttle_rate did not return to the configured rate")


if __name__ == "__main__":
    with InvokeStack(config=CONFIG, sessions=4) as s:
        stack = s
        harness.main([test_absorbed_flood_wait, test_429_within_threshold_is_slept_then_succeeds,
                      test_429_beyond_threshold_answers_429_and_the_ledger_blocks_the_next_call,
                      test_flood_fail_answers_at_once, test_a_deleted_session_takes_its_flood_state_with_it])
