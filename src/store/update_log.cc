#include "store/update_log.h"

namespace tgpulse::store {

Status validate_update_read(std::int64_t from_id, std::size_t limit) {
  if (from_id < 0) return Error(Errc::invalid_argument, "offset must not be negative");
  if (limit < 1 || limit > kMaxUpdateReadLimit) {
    return Error(Errc::invalid_argument, "limit must be 1.." + std::to_string(kMaxUpdateReadLimit));
  }
  return {};
}

}  // namespace tgpulse::store
