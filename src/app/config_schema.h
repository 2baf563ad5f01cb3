// ConfigSchema: the table of every configuration key — its dotted path in the YAML file
// ("server.listen"), its environment variable (TGPULSE_LISTEN) and flag (--listen) if any, a one-line
// help, whether it is a secret, and how a text value is parsed and checked into Config. File, env and
// flags all go through the same parser, so a value means the same thing wherever it comes from.
// A path segment "*" matches any name (throttle.session.methods.*.rate); the matched names are passed
// to the parser.
//
// Thread-safety: the table is immutable after first use; safe from any thread.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "app/config.h"
#include "core/result.h"

namespace tgpulse::app {

struct ConfigKey {
  std::string path;   // "server.listen"
  std::string env;    // "TGPULSE_LISTEN", or "" when not settable from the environment
  std::string flag;   // "--listen", or "" when not settable from the command line
  std::string help;   // what it is and what is allowed
  bool secret = false;  // the value never appears in messages or output
  // Parses `value` into the config. Returns "" on success, else what is wrong, phrased to follow the
  // quoted value: `is not HOST:PORT (e.g. 127.0.0.1:8080)`.
  std::function<std::string(Config&, std::string_view value, const std::vector<std::string>& wildcards)> apply;
  // The current value as text (for start-up logs and docs); secrets are shown as "(set)" or "".
  std::function<std::string(const Config&)> show;
};

class ConfigSchema {
 public:
  static const ConfigSchema& instance();

  const std::vector<ConfigKey>& keys() const noexcept { return keys_; }
  // The key whose path matches `path` (wildcards filled into *wildcards), or nullptr.
  const ConfigKey* find(std::string_view path, std::vector<std::string>* wildcards) const;
  // True when some key lives under the section `path` ("server", "throttle.session.methods.getMe").
  bool is_section(std::string_view path) const;
  // Paths of the keys directly or indirectly under `section` (for "known keys" hints).
  std::vector<std::string> keys_under(std::string_view section) const;

 private:
  ConfigSchema();
  std::vector<ConfigKey> keys_;
};

// Checks that involve several keys or the file system; returns messages like the parsers'
// ("config: td.library: ..."), empty when all is well.
std::vector<std::string> validate_config(const Config& config);

// store.master_key_file: reads the key from the file into config.store.master_key (once, by the
// loader). Returns "" when all is well or no file is set, else a message like the parsers' naming the
// file, never its content.
std::string read_master_key_file(Config& config);
// The loader's reading of store.url_password_file into store.url_password; "" or the problem.
std::string read_store_password_file(Config& config);
// "" when `url` is empty or a postgresql:// URL without a password; else what is wrong (never the URL).
std::string check_store_url(std::string_view url);
// The loader's reading of quota.redis_password_file into quota.redis_password; "" or the problem.
std::string read_quota_password_file(Config& config);
// "" when `url` is empty or a redis:// URL without a password; else what is wrong (never the URL).
std::string check_redis_url(std::string_view url);
// The master key held in the file at `path` (text as read; KeyCipher::from_base64 accepts it).
// invalid_argument phrased to follow the quoted path ("cannot be read: No such file or directory"),
// never containing the file's content.
Result<std::string> read_key_file(const std::string& path);

}  // namespace tgpulse::app
