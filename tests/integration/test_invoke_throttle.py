"""Invoke through the throttle against tdsim: a call with a token at hand, a call that waits for its
token (then succeeds), and one whose wait would pass its deadline (429 throttled with Retry-After) —
each checked in the seed metrics, and the success in its span."""
import harness
from throttle_util import InvokeStack, span_attr

CONFIG = """
throttle:
  session:
    methods:
      getChats: {rate: 1, burst: 1}
  process:
    methods:
      forwardMessages: {rate: 100, burst: 100}
"""

stack = None


def test_success():
    sid = stack.sessions[0]
    sent_before = stack.metric("telethon_requests_total", method="getMe", status="success")
    delays_before = stack.metric("telethon_throttling_delay_seconds_count")
    status, _, doc, _, trace = stack.invoke(sid, {"@type": "getMe"})
    harness.check(status == 200, f"getMe: {status} {doc}")
    harness.check(doc.get("@type") == "user", f"getMe answer: {doc}")
    harness.check(stack.metric("telethon_requests_total", method="getMe", status="success") == sent_before + 1,
                  "requests_total{getMe,success} did not count the call")
    harness.check(stack.metric("telethon_throttling_delay_seconds_count") == delays_before + 1,
                  "the throttle delay (0) was not observed")
    spans = stack.spans(trace, "telethon_invoke")
    invoke = next(s for s in spans if s["name"] == "telethon_invoke")
    harness.check(span_attr(invoke, "telethon.tenant_id") == stack.tenant_id, f"span attributes: {invoke}")
    harness.check(span_attr(invoke, "telethon.session_id") == sid, f"span attributes: {invoke}")
    harness.check(span_attr(invoke, "telethon.floodwait_seconds") is None, "no FloodWait, yet the attribute is set")


def test_throttled_then_success():
    sid = stack.sessions[1]
    hits_before = stack.metric("telethon_rate_limit_hits_total", endpoint="getChats")
    delay_sum_before = stack.metric("telethon_throttling_delay_seconds_sum")
    status, _, doc, first, _ = stack.invoke(sid, {"@type": "getChats", "limit": 10})
    harness.check(status == 200, f"first getChats: {status} {doc}")
    # 1/s with a burst of 1: the second call waits about a second for its token, then goes.
    status, _, doc, second, _ = stack.invoke(sid, {"@type": "getChats", "limit": 10}, deadline_ms=5000)
    harness.check(status == 200, f"second getChats: {status} {doc}")
    harness.check(second >= 0.8, f"the second call did not wait for its token ({second:.3f}s)")
    harness.check(stack.metric("telethon_rate_limit_hits_total", endpoint="getChats") == hits_before + 1,
                  "the wait was not counted in rate_limit_hits_total{endpoint=getChats}")
    harness.check(stack.metric("telethon_throttling_delay_seconds_sum") - delay_sum_before >= 0.8,
                  "the throttle delay was not observed")
    harness.check(stack.metric("tgpulse_throttle_rate", method="getChats") == 1, "tgpulse_throttle_rate{getChats}")


def test_wait_past_the_deadline_is_refused():
    sid = stack.sessions[2]
    status, _, doc, _, _ = stack.invoke(sid, {"@type": "getChats", "limit": 10})
    harness.check(status == 200, f"first getChats: {status} {doc}")
    hits_before = stack.metric("telethon_rate_limit_hits_total", endpoint="getChats")
    sent_before = stack.metric("telethon_requests_total", method="getChats")
    status, headers, doc, elapsed, _ = stack.invoke(sid, {"@type": "getChats", "limit": 10}, deadline_ms=200)
    harness.check(status == 429, f"expected 429, got {status} {doc}")
    harness.check(doc["error"]["code"] == "throttled", f"error body: {doc}")
    harness.check(headers.get("retry-after") == "1", f"Retry-After: {headers.get('retry-after')}")
    harness.check(elapsed < 0.5, f"the refusal waited ({elapsed:.3f}s)")
    harness.check(stack.metric("telethon_rate_limit_hits_total", endpoint="getChats") == hits_before + 1,
                  "the refusal was not counted")
    harness.check(stack.metric("telethon_requests_total", method="getChats") == sent_before,
                  "a refused call reached TDLib")


def test_a_configured_method_is_a_label_of_its_own():
    # forwardMessages is in no built-in list, only in the throttle configuration: its series exist from
    # the start under its own name instead of being folded into "other".
    status, _, raw = harness.http("GET", stack.url + "/metrics")
    harness.check(status == 200, f"/metrics: {status}")
    text = raw.decode()
    for series in ('telethon_requests_total{method="forwardMessages",status="success"} 0',
                   'telethon_floodwait_total{reason="forwardMessages",seconds="60"} 0',
                   'tgpulse_throttle_rate{method="forwardMessages"} '):
        harness.check(series in text, f"{series!r} missing from /metrics")


if __name__ == "__main__":
    with InvokeStack(config=CONFIG, sessions=3) as s:
        stack = s
        harness.main([test_success, test_throttled_then_success, test_wait_past_the_deadline_is_refused,
                      test_a_configured_method_is_a_label_of_its_own])
