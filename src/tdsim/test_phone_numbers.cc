#include "tdsim/test_phone_numbers.h"

namespace tgpulse::tdsim {

std::optional<std::string> TestPhoneNumbers::normalize(std::string_view phone_number) {
  if (!phone_number.empty() && phone_number.front() == '+') phone_number.remove_prefix(1);
  std::string digits;
  for (char c : phone_number) {
    if (c == ' ' || c == '-') continue;
    if (c < '0' || c > '9' || digits.size() == 10) return std::nullopt;
    digits.push_back(c);
  }
  if (digits.size() != 10 || digits.compare(0, 5, "99966") != 0 || digits[5] < '1' || digits[5] > '3') {
    return std::nullopt;
  }
  return digits;
}

std::string TestPhoneNumbers::code_for(const std::string& number) { return std::string(5, number.at(5)); }

PhoneAccount TestPhoneNumbers::account(const std::string& number) const {
  auto it = accounts_.find(number);
  return it == accounts_.end() ? PhoneAccount{} : it->second;
}

void TestPhoneNumbers::set_account(const std::string& number, PhoneAccount account) {
  accounts_[number] = std::move(account);
}

bool TestPhoneNumbers::try_send_code(const std::string& number, TimePoint now, int limit,
                                     std::chrono::duration<double> window) {
  auto& sends = sends_[number];
  while (!sends.empty() && now - sends.front() >= window) sends.pop_front();
  if (static_cast<int>(sends.size()) >= limit) return false;
  sends.push_back(now);
  return true;
}

}  // namespace tgpulse::tdsim
