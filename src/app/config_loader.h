// load_config: builds the Config of `tgpulse serve` from its sources, in increasing precedence:
// defaults < YAML file < TGPULSE_* environment < command-line flags. Every value goes through the
// ConfigSchema parser of its key; unknown keys in the file are errors naming them; then
// validate_config() runs the cross-key and file-system checks. All problems are reported at once, one
// line each ("config: server.listen: \"abc\" is not HOST:PORT (e.g. 127.0.0.1:8080) [from --listen]"),
// and secrets never appear in them.
//
// Thread-safety: reentrant (reads the environment through ConfigSources::env).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "app/config.h"
#include "core/result.h"

namespace tgpulse::app {

struct ConfigSources {
  std::string file;  // --config FILE; "" = no file
  // Looks up an environment variable; the default reads the process environment.
  std::function<std::optional<std::string>(const std::string&)> env;
  // (key path, value) pairs given as flags, in command-line order ("server.listen", "127.0.0.1:9000").
  std::vector<std::pair<std::string, std::string>> flags;
  // Directory of the tgpulse binary: td.library defaults to <binary_dir>/libtdsim.so.
  std::string binary_dir;
};

// On failure the Error (invalid_argument) carries every problem, one line each.
Result<Config> load_config(const ConfigSources& sources);

// The process environment, for ConfigSources::env.
std::optional<std::string> process_env(const std::string& name);

}  // namespace tgpulse::app
