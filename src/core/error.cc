#include "core/error.h"

namespace tgpulse {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tgpulse"; }
  std::string message(int ev) const override { return errc_name(static_cast<Errc>(ev)); }
};

}  // namespace

const std::error_category& tgpulse_category() noexcept {
  static const Category category;
  return category;
}

std::error_code make_error_code(Errc e) noexcept { return {static_cast<int>(e), tgpulse_category()}; }

const char* errc_name(Errc e) noexcept {
  switch (e) {
    case Errc::ok: return "ok";
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::not_found: return "not_found";
    case Errc::conflict: return "conflict";
    case Errc::unauthorized: return "unauthorized";
    case Errc::payload_too_large: return "payload_too_large";
    case Errc::timeout: return "timeout";
    case Errc::cancelled: return "cancelled";
    case Errc::flood_wait: return "flood_wait";
    case Errc::throttled: return "throttled";
    case Errc::unavailable: return "unavailable";
    case Errc::engine_error: return "engine_error";
    case Errc::store_error: return "store_error";
    case Errc::internal: return "internal";
  }
  return "unknown";
}

std::string Error::to_string() const { return std::string(errc_name(code)) + ": " + message; }

}  // namespace tgpulse
