// iso8601: a wall-clock time as the API writes it, "2026-01-01T12:00:00.123Z" (UTC, milliseconds).
//
// Thread-safety: pure function.
#pragma once

#include <string>

#include "core/clock.h"

namespace tgpulse {

std::string iso8601(Clock::WallTime t);

}  // namespace tgpulse
