// TestPhoneNumbers: the phone numbers of Telegram's test data centres as tdsim plays them — which
// strings are valid numbers, the login code each gets, the account behind each (2FA, registered) and
// how many codes each was sent lately (Telegram's PHONE_NUMBER_FLOOD).
//
// Telegram's convention: 99966XYYYY, X (1..3) the data centre, YYYY any four digits; the code is X five
// times. Only such numbers are accepted, so the tables here hold at most 30,000 numbers.
//
// Thread-safety: none; owned by the Simulator and touched under its lock.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace tgpulse::tdsim {

// The account behind a test number. Default: registered, no 2FA.
struct PhoneAccount {
  std::string password;       // 2FA password; "" = none
  std::string password_hint;  // shown in authorizationStateWaitPassword
  bool registered = true;     // false: authorizationStateWaitRegistration after the right code
};

class TestPhoneNumbers {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // The ten digits "99966XYYYY" of `phone_number` once a leading '+', spaces and dashes are dropped;
  // nullopt when it is not a test number.
  static std::optional<std::string> normalize(std::string_view phone_number);
  // The code the test data centre accepts for a normalized number: its DC digit five times.
  static std::string code_for(const std::string& number);

  PhoneAccount account(const std::string& number) const;
  void set_account(const std::string& number, PhoneAccount account);

  // Records a code sent to `number` at `now`, unless `limit` were sent within the last `window`
  // (then false: Telegram answers PHONE_NUMBER_FLOOD and the attempt does not count).
  bool try_send_code(const std::string& number, TimePoint now, int limit, std::chrono::duration<double> window);

 private:
  std::map<std::string, PhoneAccount> accounts_;
  std::map<std::string, std::deque<TimePoint>> sends_;  // per number, at most `limit` within the window
};

}  // namespace tgpulse::tdsim
