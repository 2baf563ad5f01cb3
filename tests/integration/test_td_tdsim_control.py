"""tdsim's control interface driven from another process: every route, every QR outcome, forced flood
waits (absorbed and 429), revoke, live profile changes, phone-number login with a configured account,
an unreachable proxy holding a login until it is reachable, and the TDSIM_PROFILE / TDSIM_CONTROL_ADDR
environment."""
import json
import os
import time

import harness
from harness import check
from td_util import TdsimProcess

FAST = {"latency_ms": {"min": 0, "max": 1}, "auth_latency_ms": {"min": 0, "max": 0}}


def test_state_and_scan_accept():
    with TdsimProcess(FAST) as sim:
        link = sim.start_qr()
        status, _, state = sim.control("GET", "/state")
        check(status == 200, status)
        clients = [c for c in state["clients"] if c["client_id"] == sim.client_id]
        check(clients and clients[0]["link"] == link, state)
        check(clients[0]["state"] == "authorizationStateWaitOtherDeviceConfirmation", clients)
        status, _, body = sim.control("POST", "/scan", {"link": link, "outcome": "accept"})
        check(status == 200 and body["state"] == "authorizationStateReady", (status, body))
        sim.state("authorizationStateReady")
        sim.send({"@type": "getMe", "@extra": "me"})
        check(sim.answer("me")["@type"] == "user", sim.seen[-1])


def test_scan_password_then_wrong_and_right_password():
    with TdsimProcess(FAST) as sim:
        link = sim.start_qr()
        status, _, _ = sim.control("POST", "/scan", {"link": link, "outcome": "password", "password": "pa55"})
        check(status == 200, status)
        st = sim.state("authorizationStateWaitPassword")
        check("password_hint" in st and st["has_recovery_email_address"] is False, st)
        sim.send({"@type": "checkAuthenticationPassword", "password": "nope", "@extra": "bad"})
        bad = sim.answer("bad")
        check(bad == {"@type": "error", "code": 400, "message": "PASSWORD_HASH_INVALID", "@extra": "bad",
                      "@client_id": sim.client_id}, bad)
        sim.send({"@type": "checkAuthenticationPassword", "password": "pa55", "@extra": "good"})
        sim.state("authorizationStateReady")


def test_scan_decline():
    with TdsimProcess(FAST) as sim:
        link = sim.start_qr()
        status, _, _ = sim.control("POST", "/scan", {"link": link, "outcome": "decline"})
        check(status == 200, status)
        sim.state("authorizationStateWaitPhoneNumber")
        status, _, body = sim.control("POST", "/scan", {"link": link})
        check(status == 404 and "error" in body, (status, body))


def test_flood_absorbed_then_429():
    with TdsimProcess(FAST) as sim:
        link = sim.start_qr()
        sim.control("POST", "/scan", {"link": link})
        sim.state("authorizationStateReady")
        status, _, _ = sim.control("POST", "/flood", {"method": "getChats", "seconds": 2})
        check(status == 200, status)
        t0 = time.monotonic()
        sim.send({"@type": "getChats", "limit": 5, "@extra": "late"})
        answer = sim.answer("late", timeout=10)
        check(answer["@type"] == "chats" and time.monotonic() - t0 >= 1.9, (answer, time.monotonic() - t0))
        logs = [o for o in sim.seen if o.get("@type") == "log"]
        check(any("Delay: " in l["message"] and "FLOOD_WAIT_2" in l["message"] and l["verbosity"] == 2
                  for l in logs), logs)
        status, _, _ = sim.control("POST", "/flood", {"method": "getChats", "seconds": 120,
                                                       "client_id": sim.client_id})
        check(status == 200, status)
        sim.send({"@type": "getChats", "limit": 5, "@extra": "refused"})
        refused = sim.answer("refused")
        check(refused["code"] == 429 and refused["message"] == "Too Many Requests: retry after 120", refused)


def test_revoke_by_link():
    with TdsimProcess(FAST) as sim:
        link = sim.start_qr()
        sim.control("POST", "/scan", {"link": link})
        sim.state("authorizationStateReady")
        status, _, body = sim.control("POST", "/revoke", {"link": link})
        check(status == 200, (status, body))
        sim.state("authorizationStateLoggingOut")
        sim.state("authorizationStateClosed")
        check(not os.path.exists(os.path.join(sim.dir, "db", "td.binlog")), "database kept after revoke")
        status, _, _ = sim.control("POST", "/revoke", {"client_id": sim.client_id})
        check(status == 409, status)


def test_incoming_messages_reach_an_authorized_client():
    with TdsimProcess(FAST) as sim:
        link = sim.start_qr()
        status, _, body = sim.control("POST", "/incoming", {"client_id": sim.client_id, "count": 1})
        check(status == 409 and "not authorized" in body["error"], (status, body))
        sim.control("POST", "/scan", {"link": link})
        sim.state("authorizationStateReady")
        status, _, body = sim.control("POST", "/incoming", {"count": 2, "text": "hello from outside"})
        check(status == 200 and body == {"messages": 2, "delivered": 1, "kept": 0}, (status, body))
        for i in (1, 2):
            update = sim.next(lambda o: o.get("@type") == "updateNewMessage", what="updateNewMessage")
            message = update["message"]
            check(message["@type"] == "message" and message["is_outgoing"] is False, update)
            check(message["content"]["text"]["text"] == "hello from outside #%d" % i, update)
        status, _, body = sim.control("POST", "/incoming", {"count": 1001})
        check(status == 400 and "count" in body["error"], (status, body))


def start_phone_wait(sim):
    sim.send({"@type": "setTdlibParameters", "database_directory": os.path.join(sim.dir, "db"),
              "api_id": 1, "api_hash": "x", "@extra": "params"})
    sim.state("authorizationStateWaitPhoneNumber")


def test_phone_login_with_an_account_configured_by_the_control_route():
    with TdsimProcess(FAST) as sim:
        status, _, body = sim.control("POST", "/phone-account", {"phone_number": "+999 662 4321",
                                                                 "password": "pa55", "password_hint": "h"})
        check(status == 200 and body["phone_number"] == "9996624321" and body["code"] == "22222", (status, body))
        status, _, body = sim.control("POST", "/phone-account", {"phone_number": "555"})
        check(status == 400 and "error" in body, (status, body))
        start_phone_wait(sim)
        sim.send({"@type": "setAuthenticationPhoneNumber", "phone_number": "9996624321", "@extra": "phone"})
        wait_code = sim.state("authorizationStateWaitCode")
        check(wait_code["code_info"]["type"] == {"@type": "authenticationCodeTypeTelegramMessage", "length": 5},
              wait_code)
        check(sim.answer("phone")["@type"] == "ok", sim.seen[-1])
        sim.send({"@type": "checkAuthenticationCode", "code": "11111", "@extra": "wrong"})
        check(sim.answer("wrong")["message"] == "PHONE_CODE_INVALID", sim.seen[-1])
        sim.send({"@type": "checkAuthenticationCode", "code": "22222", "@extra": "code"})
        check(sim.state("authorizationStateWaitPassword")["password_hint"] == "h", sim.seen[-1])
        sim.send({"@type": "checkAuthenticationPassword", "password": "pa55", "@extra": "pw"})
        sim.state("authorizationStateReady")


def test_an_unreachable_proxy_holds_the_login_until_it_is_reachable():
    with TdsimProcess(FAST) as sim:
        proxy = {"server": "10.1.2.3", "port": 1080}
        status, _, body = sim.control("POST", "/proxy", dict(proxy, reachable=False))
        check(status == 200 and body["released"] == 0, (status, body))
        start_phone_wait(sim)
        sim.send({"@type": "addProxy", "enable": True, "@extra": "add",
                  "proxy": {"@type": "proxy", "server": "10.1.2.3", "port": 1080,
                            "type": {"@type": "proxyTypeSocks5", "username": "u", "password": "secret-pw"}}})
        check(sim.answer("add")["@type"] == "addedProxy", sim.seen[-1])
        sim.send({"@type": "requestQrCodeAuthentication", "@extra": "qr"})
        deadline = time.monotonic() + 5
        while True:
            _, _, state = sim.control("GET", "/state")
            mine = [c for c in state["clients"] if c["client_id"] == sim.client_id][0]
            if mine["held_requests"] == 1 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        check(mine["held_requests"] == 1 and mine["connected"] is False, mine)
        check(mine["proxy"] == {"server": "10.1.2.3", "port": 1080, "type": "proxyTypeSocks5"}, mine)
        check("secret-pw" not in json.dumps(state), "the proxy password leaked into /state")
        check(mine["calls"] == ["setTdlibParameters", "addProxy", "requestQrCodeAuthentication"], mine)
        status, _, body = sim.control("POST", "/proxy", dict(proxy, reachable=True))
        check(status == 200 and body["released"] == 1, (status, body))
        sim.state("authorizationStateWaitOtherDeviceConfirmation")
        check(sim.answer("qr")["@type"] == "ok", sim.seen[-1])
        status, _, body = sim.control("POST", "/proxy", {"server": "x", "port": 0, "reachable": True})
        check(status == 400, (status, body))


def test_profile_from_env_and_live_changes():
    with TdsimProcess(dict(FAST, qr_token_ttl_seconds=0.3)) as sim:
        first = sim.start_qr()
        refreshed = sim.state("authorizationStateWaitOtherDeviceConfirmation", timeout=5)["link"]
        check(refreshed != first and refreshed.startswith("tg://login?token="), (first, refreshed))
        status, _, body = sim.control("POST", "/profile", {"qr_token_ttl_seconds": 60})
        check(status == 200 and body["qr_token_ttl_seconds"] == 60, body)
        status, _, state = sim.control("GET", "/state")
        check(state["profile"]["qr_token_ttl_seconds"] == 60, state["profile"])


def test_bad_requests_get_json_errors():
    with TdsimProcess(FAST) as sim:
        for method, path, body, want in [
            ("GET", "/nope", None, 404),
            ("GET", "/scan", None, 405),
            ("POST", "/scan", "not json", 400),
            ("POST", "/scan", {"outcome": "accept"}, 400),
            ("POST", "/flood", {"method": "getMe"}, 400),
            ("POST", "/flood", {"method": "getMe", "seconds": 1, "client_id": 999999}, 404),
            ("POST", "/revoke", {}, 400),
            ("POST", "/incoming", {"count": 0}, 400),
            ("GET", "/incoming", None, 405),
            ("POST", "/profile", {"seed": "x"}, 400),
        ]:
            status, _, doc = sim.control(method, path, body)
            check(status == want and isinstance(doc, dict) and "error" in doc, (method, path, status, doc))


def test_bad_control_address_is_reported_and_tdsim_still_works():
    with TdsimProcess(FAST, control=False, extra_env={"TDSIM_CONTROL_ADDR": "not-an-address"}) as sim:
        sim.send({"@type": "getOption", "name": "version", "@extra": "v"})
        check(sim.answer("v")["value"] == "1.8.67", sim.seen)
        err = sim.stderr()
    check("control interface disabled" in err, err)


def test_bad_profile_is_reported_and_defaults_used():
    with TdsimProcess({"qr_token_ttl_seconds": "soon"}) as sim:
        sim.send({"@type": "getOption", "name": "version", "@extra": "v"})
        check(sim.answer("v")["value"] == "1.8.67", sim.seen)
        status, _, state = sim.control("GET", "/state")
        check(state["profile"]["qr_token_ttl_seconds"] == 30, state["profile"])
        err = sim.stderr()
    check("qr_token_ttl_seconds" in err, err)


if __name__ == "__main__":
    harness.main([test_state_and_scan_accept, test_scan_password_then_wrong_and_right_password, test_scan_decline,
                  test_flood_absorbed_then_429, test_revoke_by_link,
                  test_incoming_messages_reach_an_authorized_client,
                  test_phone_login_with_an_account_configured_by_the_control_route,
                  test_an_unreachable_proxy_holds_the_login_until_it_is_reachable, test_profile_from_env_and_live_changes,
                  test_bad_requests_get_json_errors, test_bad_control_address_is_reported_and_tdsim_still_works,
                  test_bad_profile_is_reported_and_defaults_used])
