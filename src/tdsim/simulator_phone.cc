// The Simulator's phone-number login on Telegram's test data centres (docs/tdsim.md#phone-number-login):
// setAuthenticationPhoneNumber → authorizationStateWaitCode, resendAuthenticationCode along TDLib's
// chain of code types, checkAuthenticationCode → Ready, WaitPassword or WaitRegistration.
#include "tdsim/simulator.h"

namespace tgpulse::tdsim {

using nlohmann::json;

namespace {

// A string argument (FunctionArguments let only strings or null through); "" for null or missing.
std::string string_argument(const json& request, const char* key) {
  auto it = request.find(key);
  return it != request.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// TDLib's chain: a Telegram message, then an SMS, then a call, then nothing (index past the end: null).
json code_type(int index) {
  static const char* const kTypes[] = {"authenticationCodeTypeTelegramMessage", "authenticationCodeTypeSms",
                                       "authenticationCodeTypeCall"};
  if (index < 0 || index > 2) return nullptr;
  return {{"@type", kTypes[index]}, {"length", 5}};
}

}  // namespace

json Simulator::code_info(const SimClient& c) const {
  const json next = code_type(c.code_type + 1);
  return {{"@type", "authenticationCodeInfo"},
          {"phone_number", c.phone_number},
          {"type", code_type(c.code_type)},
          {"next_type", next},
          {"timeout", next.is_null() ? 0 : profile_.phone.resend_timeout_seconds}};
}

void Simulator::handle_phone_login(SimClient& client, const TdRequest& request, Outgoing& out, TimePoint at) {
  const auto& t = request.type;
  auto answer = [&](json object) { emit(out, client, std::move(object), at, request.extra); };
  auto error = [&](std::string message) { answer(TdRequest::error(400, std::move(message))); };
  const auto now = std::chrono::steady_clock::now();
  const auto window = std::chrono::duration<double>(profile_.phone.flood_window_seconds);
  const int sends = profile_.phone.code_sends_per_window;

  if (t == "setAuthenticationPhoneNumber") {
    if (client.state != SimAuthState::wait_phone_number && client.state != SimAuthState::wait_code &&
        client.state != SimAuthState::wait_other_device_confirmation &&
        client.state != SimAuthState::wait_registration) {
      error("Call to " + t + " unexpected");
      return;
    }
    const std::string given = string_argument(request.object, "phone_number");
    const auto digits = TestPhoneNumbers::normalize(given);
    if (!digits) return error("PHONE_NUMBER_INVALID");
    if (!phones_.try_send_code(*digits, now, sends, window)) return error("PHONE_NUMBER_FLOOD");
    client.phone_number = given;
    client.phone_digits = *digits;
    client.code_type = 0;
    client.code_sent_at = now;
    client.link.clear();  // a QR login in progress is abandoned: its token's expiry finds a new generation
    client.token_generation++;
    set_state(client, SimAuthState::wait_code, out, at);  // TDLib's order: the state, then ok
    answer(TdRequest::ok());
    return;
  }
  if (client.state != SimAuthState::wait_code) return error("Call to " + t + " unexpected");
  if (t == "resendAuthenticationCode") {
    if (code_type(client.code_type + 1).is_null()) return error("Authentication code can't be resend");
    if (!phones_.try_send_code(client.phone_digits, now, sends, window)) return error("PHONE_NUMBER_FLOOD");
    client.code_type++;
    client.code_sent_at = now;
    set_state(client, SimAuthState::wait_code, out, at);
    answer(TdRequest::ok());
    return;
  }
  // checkAuthenticationCode
  if (now - client.code_sent_at > std::chrono::duration<double>(profile_.phone.code_ttl_seconds)) {
    return error("PHONE_CODE_EXPIRED");
  }
  if (string_argument(request.object, "code") != TestPhoneNumbers::code_for(client.phone_digits)) {
    return error("PHONE_CODE_INVALID");
  }
  const PhoneAccount account = phones_.account(client.phone_digits);
  if (!account.registered) {
    set_state(client, SimAuthState::wait_registration, out, at);
    answer(TdRequest::ok());
    return;
  }
  client.password = account.password;
  client.password_hint = account.password_hint;
  if (!client.password.empty()) {
    set_state(client, SimAuthState::wait_password, out, at);  // checkAuthenticationPassword takes over
    answer(TdRequest::ok());
    return;
  }
  authorize(client);
  set_state(client, SimAuthState::ready, out, at);
  answer(TdRequest::ok());
  start_incoming(client, json(), out, at);
}

Result<json> Simulator::set_phone_account(const std::string& phone_number, std::optional<std::string> password,
                                          std::optional<std::string> password_hint, std::optional<bool> registered) {
  const auto digits = TestPhoneNumbers::normalize(phone_number);
  if (!digits) return Error(Errc::invalid_argument, "phone_number must be a test number 99966XYYYY (X = 1, 2 or 3)");
  std::lock_guard lock(mutex_);
  PhoneAccount account = phones_.account(*digits);
  if (password) account.password = std::move(*password);
  if (password_hint) account.password_hint = std::move(*password_hint);
  if (registered) account.registered = *registered;
  phones_.set_account(*digits, account);
  return json{{"phone_number", *digits},
              {"code", TestPhoneNumbers::code_for(*digits)},
              {"has_password", !account.password.empty()},
              {"password_hint", account.password_hint},
              {"registered", account.registered}};
}

}  // namespace tgpulse::tdsim
