// Fuzz target: the configuration loader (src/app/config_loader.*): YAML file < TGPULSE_* environment <
// flags, each value through its schema parser, then validate_config(). The input is
//
//   <YAML file text>
//   #@env
//   TGPULSE_LISTEN=127.0.0.1:9000        (one NAME=value a line)
//   #@flags
//   server.listen=127.0.0.1:9001          (one key.path=value a line)
//
// (both sections optional; "#@..." lines are YAML comments, so a plain config file is a valid input).
// Beyond not crashing, it checks the loader's promise that a secret never appears in an error message.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "app/config_loader.h"
#include "fuzz_temp_file.h"

namespace {

using Lines = std::vector<std::pair<std::string, std::string>>;

Lines split_assignments(std::string_view text) {
  Lines out;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    out.emplace_back(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static tgpulse::fuzz::FuzzTempFile file(".yaml");
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  std::string_view yaml = input;
  std::string_view env_text;
  std::string_view flag_text;
  if (auto f = yaml.find("#@flags\n"); f != std::string_view::npos) {
    flag_text = yaml.substr(f + 8);
    yaml = yaml.substr(0, f);
  }
  if (auto e = yaml.find("#@env\n"); e != std::string_view::npos) {
    env_text = yaml.substr(e + 6);
    yaml = yaml.substr(0, e);
  }

  std::map<std::string, std::string> env;
  for (auto& [name, value] : split_assignments(env_text)) env[name] = value;

  tgpulse::app::ConfigSources sources;
  sources.file = file.write(yaml);
  sources.env = [&env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  sources.flags = split_assignments(flag_text);
  sources.binary_dir = file.dir();

  auto config = tgpulse::app::load_config(sources);
  if (config.ok()) return 0;

  // Secrets never show up in the report. Checked with a marker in place of each secret given by env or
  // flag (the input's own value may be any text, even a piece of the loader's wording).
  constexpr std::string_view kMarker = "fuzz-secret-marker-q7";
  bool has_secret = false;
  for (const char* name : {"TGPULSE_ADMIN_TOKEN", "TGPULSE_TD_API_HASH"}) {
    if (auto it = env.find(name); it != env.end()) {
      it->second = std::string(kMarker);
      has_secret = true;
    }
  }
  for (auto& [key, value] : sources.flags) {
    if (key == "admin_token" || key == "td.api_hash") {
      value = std::string(kMarker);
      has_secret = true;
    }
  }
  if (!has_secret || input.find(kMarker) != std::string_view::npos) return 0;
  auto marked = tgpulse::app::load_config(sources);
  if (!marked.ok() && marked.error().message.find(kMarker) != std::string::npos) {
    std::fprintf(stderr, "a secret appears in the config error:\n%s\n", marked.error().message.c_str());
    std::abort();
  }
  return 0;
}
