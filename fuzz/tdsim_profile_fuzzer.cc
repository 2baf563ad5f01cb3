// Fuzz target: tdsim profiles (src/tdsim/profile.*). The input is a profile file (YAML or JSON, the
// TDSIM_PROFILE path) and, when it is JSON, also a live patch as the control interface's POST /profile
// applies it. A profile that loads must survive its own to_json() (what GET /profile shows) unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fuzz_temp_file.h"
#include "tdsim/profile.h"

using tgpulse::tdsim::Profile;

namespace {

void check_round_trip(const Profile& p) {
  const nlohmann::json shown = p.to_json();
  auto again = Profile::apply(Profile::defaults(), shown);
  if (!again.ok()) std::abort();
  if (again->to_json() != shown) std::abort();
  (void)p.latency_for("getChats");
  (void)p.flood_for("getChatHistory");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static tgpulse::fuzz::FuzzTempFile file(".yaml");
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  auto loaded = Profile::load_file(file.write(text));
  if (loaded.ok()) check_round_trip(*loaded);

  const nlohmann::json patch = nlohmann::json::parse(text, nullptr, false);
  if (!patch.is_discarded()) {
    auto applied = Profile::apply(Profile::defaults(), patch);
    if (applied.ok()) check_round_trip(*applied);
  }
  return 0;
}
