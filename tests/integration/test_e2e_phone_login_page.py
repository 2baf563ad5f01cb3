"""The login page's phone-number path in headless Chromium against `tgpulse serve` on tdsim: the end user
types a test number, a wrong code (the page says so, with the attempts left), asks for the code another
way (the page then says "by SMS"), meets a flood wait on the next resend (the page says how long), and
types the right code → authorized, without a reload. A 2FA account (set through tdsim's control
interface) asks for its password after the code. Neither the number nor a code appears in a URL the page
requests, its console, its storage or the service's log output.

tdsim's test numbers 99966XYYYY take the code X five times; its profile here lets the page resend after
a few seconds and refuses the third code send to a number within the hour (PHONE_NUMBER_FLOOD)."""
import re

import harness
from browser_util import Browser
from session_util import SessionStack

NUMBER = "9996621234"
RIGHT_CODE = "22222"
WRONG_CODE = "13579"
NUMBER_2FA = "9996631234"
CODE_2FA = "33333"
PASSWORD_2FA = "pw"
RESEND_AFTER_S = 3  # phone.resend_timeout_seconds: the page keeps the resend button disabled this long
PROFILE = {"phone": {"resend_timeout_seconds": RESEND_AFTER_S, "code_sends_per_window": 2}}


def open_phone_login(st, browser):
    """Creates a phone login without a number (the end user gives it) and opens its page."""
    status, _, doc = harness.http_json("POST", st.url + "/v1/phone-logins", {}, st.auth())
    harness.check(status == 201, f"phone-login: {status} {doc}")
    browser("goto", url=st.url + doc["page_url"])
    browser.wait_status("phone_number_required")
    browser("eval", expr="window.__same_page = true")
    return doc["session_id"]


def attr(browser, selector, name):
    return browser("eval", expr=f"document.querySelector('{selector}').getAttribute('{name}')")


def enter_number(browser, number):
    harness.check(browser("visible", selector="#phone-form"), "the number form is shown")
    harness.check(not browser("visible", selector="#qr"), "no QR code on a phone login")
    harness.check(not browser("visible", selector="#instructions"), "no scan instructions on a phone login")
    harness.check(attr(browser, "#phone", "autocomplete") == "tel", "the number field has autocomplete=tel")
    harness.check(attr(browser, "label[for=phone]", "for") == "phone", "the number field has a label")
    browser("fill", selector="#phone", value=number)
    browser("click", selector="#phone-submit")
    browser.wait_status("code_required")
    harness.check(not browser("visible", selector="#phone-form"), "the number form is gone once the code is asked")
    harness.check(browser("eval", expr="document.getElementById('phone').value") == "", "the number stays in the page")
    harness.check(attr(browser, "#code", "autocomplete") == "one-time-code", "the code field has autocomplete=one-time-code")
    harness.check(browser("eval", expr="document.getElementById('code').inputMode") == "numeric", "numeric keyboard for the code")
    harness.check(attr(browser, "label[for=code]", "for") == "code", "the code field has a label")


def enter_code(browser, code):
    browser("fill", selector="#code", value=code)
    browser("click", selector="#code-submit")


def wait_resend_enabled(browser):
    browser.wait("!document.getElementById('resend').disabled", timeout=(RESEND_AFTER_S + 10) * 1000)


def check_no_leaks(st, browser, secrets):
    """No secret in a URL the page requested or shows, its console, its storage or the service's logs."""
    urls = browser("requests") + [browser("eval", expr="location.href")]
    console = browser("console")
    harness.check(not [c for c in console if c.startswith("pageerror")], f"the page threw: {console}")
    stored = browser("eval", expr="localStorage.length + sessionStorage.length + document.cookie.length")
    harness.check(stored == 0, f"the page stored something ({stored} entries/characters)")
    logs = st.service.stdout() + st.service.stderr()
    harness.check(logs.strip(), "the service wrote no log output to check")
    for secret in secrets:
        pattern = re.compile(r"(?<![0-9])" + re.escape(secret) + r"(?![0-9])")
        harness.check(not [u for u in urls if secret in u], f"{secret} in a URL: {urls}")
        harness.check(not [c for c in console if secret in c], f"{secret} on the console: {console}")
        found = [line for line in logs.splitlines() if pattern.search(line)]
        harness.check(not found, f"{secret} in the service's log output: {found[:3]}")


def test_phone_login_wrong_code_resend_flood_then_right_code():
    with SessionStack(profile=PROFILE) as st, Browser() as browser:
        sid = open_phone_login(st, browser)
        harness.check("Enter the phone number" in browser("text", selector="#message"), "asks for the number")
        enter_number(browser, NUMBER)
        info = browser.wait_text("#code-info", "in Telegram")
        harness.check("5 digits" in info, f"the code's length: {info!r}")
        resend = browser("text", selector="#resend")
        harness.check("by SMS" in resend, f"the resend button names the next way: {resend!r}")
        harness.check(browser("eval", expr="document.getElementById('resend').disabled"),
                      "the resend button waits for Telegram's timeout")

        enter_code(browser, WRONG_CODE)
        error = browser.wait_text("#code-error", "not correct")
        harness.check("4 attempts left" in error, f"the attempts left: {error!r}")
        harness.check(browser("text", selector="#status") == "code_required", "still asks for the code")

        wait_resend_enabled(browser)
        browser("click", selector="#resend")
        info = browser.wait_text("#code-info", "by SMS")
        harness.check("5 digits" in info, f"the SMS code's length: {info!r}")
        harness.check("by a call" in browser("text", selector="#resend"), "the next way after SMS is a call")

        wait_resend_enabled(browser)
        browser("click", selector="#resend")  # the number's third code send within the hour
        error = browser.wait_text("#code-error", "Try again in")
        harness.check("1 hour" in error, f"the flood wait: {error!r}")
        harness.check(browser("eval", expr="document.getElementById('resend').disabled"), "no resend during the wait")
        harness.check(browser("text", selector="#status") == "code_required", "still asks for the code")

        enter_code(browser, RIGHT_CODE)
        browser.wait_status("authorized")
        harness.check(browser("eval", expr="window.__same_page === true"), "no reload happened")
        harness.check(not browser("visible", selector="#code-form"), "the code form is gone once authorized")
        status, _, doc = harness.http_json("GET", f"{st.url}/v1/phone-logins/{sid}", headers=st.auth())
        harness.check(status == 200 and doc["status"] == "authorized", f"the service does not agree: {status} {doc}")
        check_no_leaks(st, browser, [NUMBER, WRONG_CODE, RIGHT_CODE])


def test_phone_login_two_factor_asks_for_the_password():
    with SessionStack(profile=PROFILE) as st, Browser() as browser:
        st.control("/phone-account", {"phone_number": NUMBER_2FA, "password": PASSWORD_2FA, "password_hint": "hint"})
        sid = open_phone_login(st, browser)
        enter_number(browser, NUMBER_2FA)
        browser.wait_text("#code-info", "in Telegram")
        enter_code(browser, CODE_2FA)
        browser.wait_status("password_required")
        harness.check(browser("visible", selector="#password-form"), "the password form is shown")
        harness.check("hint" in browser("text", selector="#hint"), "the hint is shown")
        harness.check(not browser("visible", selector="#code-form"), "the code form is gone")
        browser("fill", selector="#password", value=PASSWORD_2FA)
        browser("click", selector="#password-submit")
        browser.wait_status("authorized")
        harness.check(browser("eval", expr="window.__same_page === true"), "no reload happened")
        status, _, doc = harness.http_json("GET", f"{st.url}/v1/phone-logins/{sid}", headers=st.auth())
        harness.check(status == 200 and doc["status"] == "authorized", f"the service does not agree: {status} {doc}")
        check_no_leaks(st, browser, [NUMBER_2FA, CODE_2FA])


if __name__ == "__main__":
    harness.main([test_phone_login_wrong_code_resend_flood_then_right_code,
                  test_phone_login_two_factor_asks_for_the_password])
