#include <cctype>
#include "app/config_schema.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "app/config_values.h"
#include "http/connection_budget.h"
#include "store/key_cipher.h"
#include "throttle/redis_client.h"

namespace tgpulse::app {

namespace {

using std::chrono::milliseconds;
using Wild = std::vector<std::string>;

std::vector<std::string_view> split(std::string_view path) {
  std::vector<std::string_view> out;
  while (true) {
    const auto dot = path.find('.');
    out.push_back(path.substr(0, dot));
    if (dot == std::string_view::npos) break;
    path.remove_prefix(dot + 1);
  }
  return out;
}

std::string fmt_number(double v) { return fmt::format("{}", v); }

// Builders: `get` is a generic lambda returning a reference to the field, for const and non-const Config.
template <typename Get>
ConfigKey duration_key(std::string path, std::string env, std::string flag, std::string help, Get get,
                       milliseconds min, milliseconds max) {
  ConfigKey k{std::move(path), std::move(env), std::move(flag), std::move(help), false, nullptr, nullptr};
  k.apply = [get, min, max](Config& c, std::string_view v, const Wild&) -> std::string {
    auto d = parse_duration(v);
    if (!d) return "is not a duration (a number with a unit: 500ms, 120s, 2m, 1h)";
    if (*d < min || *d > max) return "must be between " + format_duration(min) + " and " + format_duration(max);
    get(c) = *d;
    return {};
  };
  k.show = [get](const Config& c) { return format_duration(get(c)); };
  return k;
}

template <typename Get>
ConfigKey int_key(std::string path, std::string env, std::string flag, std::string help, Get get, std::int64_t min,
                  std::int64_t max) {
  ConfigKey k{std::move(path), std::move(env), std::move(flag), std::move(help), false, nullptr, nullptr};
  k.apply = [get, min, max](Config& c, std::string_view v, const Wild&) -> std::string {
    auto n = parse_int(v);
    if (!n) return "is not a whole number";
    if (*n < min || *n > max) return fmt::format("must be between {} and {}", min, max);
    get(c) = static_cast<std::remove_reference_t<decltype(get(c))>>(*n);
    return {};
  };
  k.show = [get](const Config& c) { return std::to_string(get(c)); };
  return k;
}

template <typename Get>
ConfigKey size_key(std::string path, std::string env, std::string flag, std::string help, Get get,
                   std::uint64_t min, std::uint64_t max) {
  ConfigKey k{std::move(path), std::move(env), std::move(flag), std::move(help), false, nullptr, nullptr};
  k.apply = [get, min, max](Config& c, std::string_view v, const Wild&) -> std::string {
    auto n = parse_byte_size(v);
    if (!n) return "is not a size (bytes, or a number with a unit: 64KiB, 1MiB)";
    if (*n < min || *n > max) return "must be between " + format_byte_size(min) + " and " + format_byte_size(max);
    get(c) = static_cast<std::size_t>(*n);
    return {};
  };
  k.show = [get](const Config& c) { return format_byte_size(get(c)); };
  return k;
}

template <typename Get>
ConfigKey bool_key(std::string path, std::string env, std::string flag, std::string help, Get get) {
  ConfigKey k{std::move(path), std::move(env), std::move(flag), std::move(help), false, nullptr, nullptr};
  k.apply = [get](Config& c, std::string_view v, const Wild&) -> std::string {
    auto b = parse_bool(v);
    if (!b) return "is not a boolean (true or false)";
    get(c) = *b;
    return {};
  };
  k.show = [get](const Config& c) { return get(c) ? std::string("true") : std::string("false"); };
  return k;
}

template <typename Get>
ConfigKey number_key(std::string path, std::string help, Get get, double min, double max, bool min_open) {
  ConfigKey k{std::move(path), "", "", std::move(help), false, nullptr, nullptr};
  k.apply = [get, min, max, min_open](Config& c, std::string_view v, const Wild&) -> std::string {
    auto n = parse_number(v);
    if (!n) return "is not a number";
    if ((min_open ? *n <= min : *n < min) || *n > max) {
      return fmt::format("must be in {}{}, {}]", min_open ? "(" : "[", fmt_number(min), fmt_number(max));
    }
    get(c) = *n;
    return {};
  };
  k.show = [get](const Config& c) { return fmt_number(get(c)); };
  return k;
}

bool is_method_name(std::string_view s) {
  if (s.empty() || s.size() > 64 || !std::isalpha(static_cast<unsigned char>(s[0]))) return false;
  for (char ch : s) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_') return false;
  }
  return true;
}

// throttle.<layer>.default_rate|default_burst and throttle.<layer>.methods.*.rate|burst
void add_layer_keys(std::vector<ConfigKey>& keys, const std::string& layer,
                    throttle::LayerOptions throttle::ThrottleOptions::*member, const std::string& what) {
  const std::string base = "throttle." + layer;
  auto layer_of = [member](Config& c) -> throttle::LayerOptions& { return c.throttle.*member; };
  auto clayer_of = [member](const Config& c) -> const throttle::LayerOptions& { return c.throttle.*member; };
  auto rate_apply = [](double* field, std::string_view v) -> std::string {
    auto n = parse_number(v);
    if (!n) return "is not a number (tokens per second; 0 = unlimited)";
    if (*n < 0 || *n > 1e6) return "must be between 0 and 1000000 tokens per second (0 = unlimited)";
    *field = *n;
    return {};
  };
  auto burst_apply = [](double* field, std::string_view v) -> std::string {
    auto n = parse_number(v);
    if (!n) return "is not a number (tokens)";
    if (*n < 1 || *n > 1e6) return "must be between 1 and 1000000 tokens";
    *field = *n;
    return {};
  };
  keys.push_back({base + ".default_rate", "", "", what + ": tokens per second for methods not listed (0 = unlimited)",
                  false,
                  [=](Config& c, std::string_view v, const Wild&) { return rate_apply(&layer_of(c).default_limit.rate, v); },
                  [=](const Config& c) { return fmt_number(clayer_of(c).default_limit.rate); }});
  keys.push_back({base + ".default_burst", "", "", what + ": bucket capacity for methods not listed", false,
                  [=](Config& c, std::string_view v, const Wild&) { return burst_apply(&layer_of(c).default_limit.burst, v); },
                  [=](const Config& c) { return fmt_number(clayer_of(c).default_limit.burst); }});
  for (const char* field : {"rate", "burst"}) {
    const bool is_rate = std::string_view(field) == "rate";
    keys.push_back({base + ".methods.*." + field, "", "",
                    what + ": " + (is_rate ? "tokens per second" : "bucket capacity") + " for one TDLib method",
                    false,
                    [=](Config& c, std::string_view v, const Wild& w) -> std::string {
                      if (w.empty() || !is_method_name(w[0])) return "names no TDLib method (letters, digits, _)";
                      auto& limit = layer_of(c).per_method[w[0]];
                      if (layer_of(c).per_method.size() > 1000) return "too many methods (at most 1000)";
                      return is_rate ? rate_apply(&limit.rate, v) : burst_apply(&limit.burst, v);
                    },
                    [](const Config&) { return std::string(); }});
  }
}

}  // namespace

const ConfigSchema& ConfigSchema::instance() {
  static const ConfigSchema schema;
  return schema;
}

ConfigSchema::ConfigSchema() {
  using namespace std::chrono_literals;
  auto& k = keys_;

  // server
  {
    ConfigKey listen{"server.listen", "TGPULSE_LISTEN", "--listen",
                     "HOST:PORT to serve HTTP on (IP literal or localhost; port 0 = any free port)", false, nullptr,
                     nullptr};
    listen.apply = [](Config& c, std::string_view v, const Wild&) -> std::string {
      auto hp = parse_host_port(v);
      if (!hp) return "is not HOST:PORT (e.g. 127.0.0.1:8080)";
      c.server.host = hp->host;
      c.server.port = hp->port;
      return {};
    };
    listen.show = [](const Config& c) { return c.listen(); };
    k.push_back(std::move(listen));

    ConfigKey admin{"server.admin_listen", "TGPULSE_ADMIN_LISTEN", "--admin-listen",
                    "HOST:PORT of a separate listener, with its own thread, for /healthz, /readyz and /metrics "
                    "(\"\" = off)",
                    false, nullptr, nullptr};
    admin.apply = [](Config& c, std::string_view v, const Wild&) -> std::string {
      if (v.empty()) {
        c.admin_listener = AdminListenerConfig{};
        return {};
      }
      auto hp = parse_host_port(v);
      if (!hp) return "is not HOST:PORT (e.g. 127.0.0.1:9464) or \"\" (off)";
      c.admin_listener.enabled = true;
      c.admin_listener.host = hp->host;
      c.admin_listener.port = hp->port;
      return {};
    };
    admin.show = [](const Config& c) { return c.admin_listen(); };
    k.push_back(std::move(admin));
  }
  k.push_back(int_key("server.threads", "TGPULSE_THREADS", "--threads", "threads serving HTTP (1-64)",
                      [](auto& c) -> auto& { return c.server.threads; }, 1, 64));
  k.push_back(size_key("server.body_limit", "TGPULSE_BODY_LIMIT", "--body-limit",
                       "largest request body; larger → 413 (1KiB-1GiB)",
                       [](auto& c) -> auto& { return c.server.body_limit; }, 1024, 1ULL << 30));
  k.push_back(size_key("server.header_limit", "TGPULSE_HEADER_LIMIT", "--header-limit",
                       "largest request line + headers; larger → 431 (1KiB-1MiB)",
                       [](auto& c) -> auto& { return c.server.header_limit; }, 1024, 1ULL << 20));
  k.push_back(duration_key("server.read_timeout", "TGPULSE_READ_TIMEOUT", "--read-timeout",
                           "time to receive a whole request once it started (100ms-1h)",
                           [](auto& c) -> auto& { return c.server.read_timeout; }, 100ms, 1h));
  k.push_back(duration_key("server.idle_timeout", "TGPULSE_IDLE_TIMEOUT", "--idle-timeout",
                           "keep-alive connection without a request is closed after (100ms-1h)",
                           [](auto& c) -> auto& { return c.server.idle_timeout; }, 100ms, 1h));
  k.push_back(duration_key("server.write_timeout", "TGPULSE_WRITE_TIMEOUT", "--write-timeout",
                           "time to write one response or event (100ms-1h)",
                           [](auto& c) -> auto& { return c.server.write_timeout; }, 100ms, 1h));
  k.push_back(duration_key("server.shutdown_grace", "TGPULSE_SHUTDOWN_GRACE", "--shutdown-grace",
                           "on SIGTERM/SIGINT, time in-flight requests get to finish (0-10m)",
                           [](auto& c) -> auto& { return c.server.shutdown_grace; }, 0ms, 10min));
  k.push_back(duration_key("server.sse_heartbeat", "TGPULSE_SSE_HEARTBEAT", "--sse-heartbeat",
                           "event streams send a keep-alive comment after this much silence (100ms-10m)",
                           [](auto& c) -> auto& { return c.server.sse_heartbeat; }, 100ms, 10min));

  k.push_back(int_key("server.max_connections", "TGPULSE_MAX_CONNECTIONS", "--max-connections",
                      "connections the main listener holds at once, more → 503 connections_cap; 0 = RLIMIT_NOFILE "
                      "minus a reserve for the admin listener, store, TDLib and logs",
                      [](auto& c) -> auto& { return c.server.max_connections; }, 0, 10'000'000));

  // log
  {
    ConfigKey level{"log.level", "TGPULSE_LOG_LEVEL", "--log-level", "trace, debug, info, warn or error", false,
                    nullptr, nullptr};
    level.apply = [](Config& c, std::string_view v, const Wild&) -> std::string {
      telemetry::LogLevel parsed = telemetry::LogLevel::info;
      if (v == "warning" || !telemetry::parse_log_level(v, &parsed)) return "is not one of trace, debug, info, warn, error";
      c.log.level = parsed;
      return {};
    };
    level.show = [](const Config& c) { return std::string(telemetry::log_level_name(c.log.level)); };
    k.push_back(std::move(level));

    ConfigKey format{"log.format", "TGPULSE_LOG_FORMAT", "--log-format",
                     "json (ECS, one object per line) or console (for people)", false, nullptr, nullptr};
    format.apply = [](Config& c, std::string_view v, const Wild&) -> std::string {
      if (v == "json") {
        c.log.format = telemetry::LogFormat::json;
      } else if (v == "console") {
        c.log.format = telemetry::LogFormat::console;
      } else {
        return "is not one of json, console";
      }
      return {};
    };
    format.show = [](const Config& c) {
      return std::string(c.log.format == telemetry::LogFormat::console ? "console" : "json");
    };
    k.push_back(std::move(format));
  }
  {
    ConfigKey path{"log.path", "TGPULSE_LOG_PATH", "--log-path", "log file (appended to); \"\" or - = stdout", false,
                   nullptr, nullptr};
    path.apply = [](Config& c, std::string_view v, const Wild&) -> std::string {
      c.log.path = std::string(v);
      return {};
    };
    path.show = [](const Config& c) { return c.log.path; };
    k.push_back(std::move(path));
  }

  // metrics
  {
    ConfigKey ns{"metrics.namespace", "TGPULSE_METRICS_NAMESPACE", "--metrics-namespace",
                 "prefix of the seed metrics (telethon_floodwait_total): [a-zA-Z_][a-zA-Z0-9_]*", false, nullptr,
                 nullptr};
    ns.apply = [](Config& c, std::string_view v, const Wild&) -> std::string {
      bool ok = !v.empty() && v.size() <= 64 && (std::isalpha(static_cast<unsigned char>(v[0])) || v[0] == '_');
      for (char ch : v) ok = ok && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_');
      if (!ok) return "is not a metric name prefix (letters, digits and _, not starting with a digit)";
      c.metrics.ns = std::string(v);
      return {};
    };
    ns.show = [](const Config& c) { return c.metrics.ns; };
    k.push_back(std::move(ns));
  }

  // td
  {
    ConfigKey lib{"td.library", "TGPULSE_TD_LIBRARY", "--td-library",
                  "libtdjson.so (real TDLib) or libtdsim.so (simulator); default: libtdsim.so next to tgpulse", false,
                  nullptr, nullptr};
    lib.apply = [](Config& c, std::string_view v, const Wild&) -> std::string {
      if (v.empty()) return "is empty (give the path of libtdjson.so or libtdsim.so)";
      c.td.library = std::string(v);
      c.td.library_explicit = true;
      return {};
    };
    lib.show = [](const Config& c) { return c.td.library; };
    k.push_back(std::move(lib));
  }
  k.push_back(int_key("td.verbosity", "TGPULSE_TD_VERBOSITY", "--td-verbosity", "TDLib log verbosity (0-10)",
                      [](auto& c) -> auto& { return c.engine.tdlib_log_verbosity; }, 0, 10));
  k.push_back(duration_key("td.request_timeout", "TGPULSE_TD_REQUEST_TIMEOUT", "--td-request-timeout",
                           "time one TDLib request may take (100ms-10m)",
                           [](auto& c) -> auto& { return c.engine.default_request_timeout; }, 100ms, 10min));
  k.push_back(int_key("td.api_id", "TGPULSE_TD_API_ID", "--td-api-id", "Telegram api_id from my.telegram.org",
                      [](auto& c) -> auto& { return c.session.api_id; }, 1, 2147483647));
  {
    ConfigKey hash{"td.api_hash", "TGPULSE_TD_API_HASH", "", "Telegram api_hash (32 hex digits); secret", true,
                   nullptr, nullptr};
    hash.apply = [](Config& c, std::string_view v, const Wild&) -> std::string {
      bool ok = v.size() == 32;
      for (char ch : v) ok = ok && std::isxdigit(static_cast<unsigned char>(ch));
      if (!ok) return "must be 32 hexadecimal digits";
      c.session.api_hash = std::string(v);
      return {};
    };
    hash.show = [](const Config& c) { return c.session.api_hash.empty() ? std::string() : std::string("(set)"); };
    k.push_back(std::move(hash));
  }

  // store
  {
    ConfigKey dir{"store.data_dir", "TGPULSE_DATA_DIR", "--data-dir",
                  "directory of the SQLite database and the TDLib session directories", false, nullptr, nullptr};
    dir.apply = [](Config& c, std::string_view v, const Wild&) -> std::string {
      if (v.empty()) return "is empty (give a directory)";
      c.session.data_dir = std::string(v);
      return {};
    };
    dir.show = [](const Config& c) { return c.session.data_dir; };
    k.push_back(std::move(dir));
  }
  // store: the master key of the session keys at rest (docs/security-keys.md)
  {
    ConfigKey key{"store.master_key", "TGPULSE_MASTER_KEY", "",
                  "master key sealing the stored TDLib database keys: base64 of 32 random bytes "
                  "(`tgpulse keys generate`); \"\" = keys stored in the clear; secret",
                  true, nullptr, nullptr};
    key.apply = [](Config& c, std::string_view v, const Wild&) -> std::string {
      if (v.empty()) {
        c.store.master_key.clear();
        return {};
      }
      if (auto cipher = store::KeyCipher::from_base64(v); !cipher) return cipher.error().message;
      c.store.master_key = std::string(v);
      return {};
    };
    key.show = [](const Config& c) { return c.store.master_key.empty() ? std::string() : std::string("(set)"); };
    k.push_back(std::move(key));

    ConfigKey file{"store.master_key_file", "TGPULSE_MASTER_KEY_FILE", "--master-key-file",
                   "file holding the master key (as store.master_key; keep it 0600); \"\" = none", false, nullptr,
                   nullptr};
    file.apply = [](Config& c, std::string_view v, const Wild&) -> std::string {
      c.store.master_key_file = std::string(v);
      return {};
    };
    file.show = [](const Config& c) { return c.store.master_key_file; };
    k.push_back(std::move(file));
  }

  // store: the PostgreSQL store (store::PostgresOptions; docs/store.md#postgresql)
  {
    // Secret as far as messages go: a refused URL may hold a password, so the loader never echoes it,
    // and no flag (a command line shows in ps).
    ConfigKey url{"store.url", "TGPULSE_STORE_URL", "",
                  "postgresql://user@host:port/dbname of a PostgreSQL database for tenants, sessions and update "
                  "logs; the password comes from store.url_password_file or TGPULSE_STORE_PASSWORD, never the URL; "
                  "\"\" = the embedded SQLite database in store.data_dir",
                  true, nullptr, nullptr};
    url.apply = [](Config& c, std::string_view v, const Wild&) -> std::string {
      if (auto problem = check_store_url(v); !problem.empty()) return problem;
      c.store.postgres.url = std::string(v);
      return {};
    };
    url.show = [](const Config& c) { return c.store.postgres.url; };  // never holds a password (refused)
    k.push_back(std::move(url));

    ConfigKey password{"store.url_password", "TGPULSE_STORE_PASSWORD", "",
                       "password of the store.url user; prefer store.url_password_file; secret", true, nullptr,
                       nullptr};
    password.apply = [](Config& c, std::string_view v, const Wild&) -> std::string {
      c.store.postgres.password = std::string(v);
      return {};
    };
    password.show = [](const Config& c) {
      return c.store.postgres.password.empty() ? std::string() : std::string("(set)");
    };
    k.push_back(std::move(password));

    ConfigKey file{"store.url_password_file", "TGPULSE_STORE_PASSWORD_FILE", "--store-password-file",
                   "file whose first line is the store.url user's password (keep it 0600); \"\" = none", false,
                   nullptr, nullptr};
    file.apply = [](Config& c, std::string_view v, const Wild&) -> std::string {
      c.store.postgres.password_file = std::string(v);
      return {};
    };
    file.show = [](const Config& c) { return c.store.postgres.password_file; };
    k.push_back(std::move(file));
  }
  k.push_back(int_key("store.pg_pool_size", "TGPULSE_STORE_PG_POOL_SIZE", "",
                      "connections the PostgreSQL store keeps open, one per store call in flight (1-1000)",
                      [](auto& c) -> auto& { return c.store.postgres.pool_size; }, 1, 1000));

  // How the store is called off the event loops (store::StoreAccessOptions; docs/store.md)
  k.push_back(int_key("store.pool_threads", "TGPULSE_STORE_POOL_THREADS", "",
                      "threads running store and filesystem calls off the event loops (1-256)",
                      [](auto& c) -> auto& { return c.store.access.pool_threads; }, 1, 256));
  k.push_back(int_key("store.pool_max_queued", "TGPULSE_STORE_POOL_MAX_QUEUED", "",
                      "store calls admitted at once (queued + running); more answer 503 with Retry-After (1-1000000)",
                      [](auto& c) -> auto& { return c.store.access.pool_max_queued; }, 1, 1000000));
  k.push_back(duration_key("store.token_cache_ttl", "TGPULSE_STORE_TOKEN_CACHE_TTL", "",
                           "how long a resolved tenant token is trusted without asking the store; bounds how long "
                           "a token deleted elsewhere keeps working; 0 = no cache (0-1h)",
                           [](auto& c) -> auto& { return c.store.access.token_cache_ttl; }, 0ms, 1h));
  k.push_back(int_key("store.token_cache_entries", "TGPULSE_STORE_TOKEN_CACHE_ENTRIES", "",
                      "tenant tokens cached at most, the oldest dropped first; 0 = no cache (0-10000000)",
                      [](auto& c) -> auto& { return c.store.access.token_cache_entries; }, 0, 10000000));
  k.push_back(duration_key("store.unknown_token_ttl", "TGPULSE_STORE_UNKNOWN_TOKEN_TTL", "",
                           "how long a token the store did not know is refused without asking it again (at most "
                           "store.token_cache_entries of them); creating a tenant here forgets its token's entry; "
                           "0 = off (0-1h)",
                           [](auto& c) -> auto& { return c.store.access.unknown_token_ttl; }, 0ms, 1h));
  k.push_back(duration_key("store.last_used_flush", "TGPULSE_STORE_LAST_USED_FLUSH", "",
                           "how often sessions' last_used_at times are written in one batch; a crash loses at most "
                           "this much of them (100ms-1h)",
                           [](auto& c) -> auto& { return c.store.access.last_used_flush; }, 100ms, 1h));

  // The tenants' update logs (updates::UpdatesOptions; docs/updates.md)
  k.push_back(int_key("updates.max_pending", "TGPULSE_UPDATES_MAX_PENDING", "",
                      "updates a tenant's log keeps at most; past it the oldest are dropped, counted and announced "
                      "with tgpulseUpdatesDropped (1-10000000)",
                      [](auto& c) -> auto& { return c.updates.max_pending; }, 1, 10000000));
  k.push_back(duration_key("updates.max_age", "TGPULSE_UPDATES_MAX_AGE", "",
                           "updates older than this are dropped from the log the same way (1s-720h)",
                           [](auto& c) -> auto& { return c.updates.max_age; }, 1s, 720h));

  // Operator-mistake defences of the data directory (session::DataSafetyOptions; docs/security-sweep.md)
  k.push_back(bool_key("store.accept_empty_store", "TGPULSE_STORE_ACCEPT_EMPTY", "--accept-empty-store",
                       "start on a store without session records although session directories exist: they are "
                       "moved to <data_dir>/quarantine/<time>/, never deleted (default false: refuse to start)",
                       [](auto& c) -> auto& { return c.session.safety.accept_empty_store; }));
  k.push_back(size_key("store.min_free_bytes", "TGPULSE_STORE_MIN_FREE_BYTES", "--min-free-bytes",
                       "/readyz data_dir fails below this much free space on the data directory's file system; "
                       "0 = no check (0-1048576GiB)",
                       [](auto& c) -> auto& { return c.session.safety.min_free_bytes; }, 0, 1ull << 50));
  k.push_back(duration_key("store.probe_interval", "TGPULSE_STORE_PROBE_INTERVAL", "",
                           "how often the store and the data directory are probed for /readyz (100ms-1m)",
                           [](auto& c) -> auto& { return c.session.safety.probe_interval; }, 100ms, 1min));
  k.push_back(duration_key("sessions.cleanup_retry_initial", "TGPULSE_SESSIONS_CLEANUP_RETRY_INITIAL", "",
                           "first retry delay of a failed session cleanup, doubled after each failure (100ms-1h)",
                           [](auto& c) -> auto& { return c.session.safety.cleanup_retry_initial; }, 100ms, 1h));
  k.push_back(duration_key("sessions.cleanup_retry_max", "TGPULSE_SESSIONS_CLEANUP_RETRY_MAX", "",
                           "longest delay between retries of a failed session cleanup (100ms-24h)",
                           [](auto& c) -> auto& { return c.session.safety.cleanup_retry_max; }, 100ms, 24h));
  k.push_back(int_key("sessions.cleanup_stuck_after", "TGPULSE_SESSIONS_CLEANUP_STUCK_AFTER", "",
                      "/readyz cleanup fails while a cleanup has failed this many times or more (1-1000)",
                      [](auto& c) -> auto& { return c.session.safety.cleanup_stuck_after; }, 1, 1000));

  // qr, sessions
  k.push_back(duration_key("qr.timeout", "TGPULSE_QR_TIMEOUT", "--qr-timeout",
                           "overall deadline of a QR login (5s-1h)", [](auto& c) -> auto& { return c.session.qr_timeout; },
                           5s, 1h));
  k.push_back(duration_key("phone.timeout", "TGPULSE_PHONE_TIMEOUT", "--phone-timeout",
                           "overall deadline of a phone-number login (5s-1h)",
                           [](auto& c) -> auto& { return c.session.phone_timeout; }, 5s, 1h));
  k.push_back(int_key("phone.flood_retry_after", "TGPULSE_PHONE_FLOOD_RETRY_AFTER", "",
                      "Retry-After in seconds when Telegram refuses to send more codes to a number "
                      "(PHONE_NUMBER_FLOOD) (1-86400)",
                      [](auto& c) -> auto& { return c.session.phone_flood_retry_after_s; }, 1, 86400));
  k.push_back(duration_key("proxy.ping_interval", "TGPULSE_PROXY_PING_INTERVAL", "",
                           "how often each session's proxy is pinged through TDLib; 0 = never (0-1h)",
                           [](auto& c) -> auto& { return c.session.proxy_ping_interval; }, 0ms, 1h));
  k.push_back(duration_key("proxy.ping_timeout", "TGPULSE_PROXY_PING_TIMEOUT", "",
                           "a proxy ping not answered within this is a failure (100ms-1m)",
                           [](auto& c) -> auto& { return c.session.proxy_ping_timeout; }, 100ms, 1min));
  k.push_back(size_key("files.max_upload_bytes", "TGPULSE_FILES_MAX_UPLOAD_BYTES", "",
                       "the largest file POST /v1/sessions/{id}/files takes (1KiB-4GiB)",
                       [](auto& c) -> auto& { return c.session.files_max_upload_bytes; }, 1024,
                       std::uint64_t{4} << 30));
  k.push_back(size_key("files.max_bytes_per_tenant", "TGPULSE_FILES_MAX_BYTES_PER_TENANT", "",
                       "disk a tenant's uploads and downloaded files may use together (1MiB-64TiB)",
                       [](auto& c) -> auto& { return c.session.files_max_bytes_per_tenant; }, 1 << 20,
                       std::uint64_t{64} << 40));
  k.push_back(duration_key("files.download_timeout", "TGPULSE_FILES_DOWNLOAD_TIMEOUT", "",
                           "how long a file download through TDLib may take before 504 (1s-1h)",
                           [](auto& c) -> auto& { return c.session.files_download_timeout; }, 1s, 1h));
  k.push_back(duration_key("sessions.idle_ttl", "TGPULSE_SESSIONS_IDLE_TTL", "--idle-ttl",
                           "authorized session unused this long is logged out; 0 = never (0-365d)",
                           [](auto& c) -> auto& { return c.session.idle_ttl; }, 0ms, 24h * 365));

  k.push_back(duration_key("sessions.engine_request_timeout", "TGPULSE_SESSIONS_ENGINE_REQUEST_TIMEOUT", "",
                           "time each TDLib request of the session layer may take (setTdlibParameters, logOut, "
                           "close, ...); past it the request fails with 504 timeout (100ms-10m)",
                           [](auto& c) -> auto& { return c.session.engine_request_timeout; }, 100ms, 10min));
  k.push_back(duration_key("sessions.close_timeout", "TGPULSE_SESSIONS_CLOSE_TIMEOUT", "",
                           "a cleanup waits this long for TDLib to close the session, then removes the local data "
                           "anyway and fails with 504 timeout (100ms-10m)",
                           [](auto& c) -> auto& { return c.session.close_timeout; }, 100ms, 10min));

  // tdsim: the simulator's control interface (docs/tdsim.md)
  {
    ConfigKey control{"tdsim.control_address", "TDSIM_CONTROL_ADDR", "--tdsim-control-address",
                      "IPv4 HOST:PORT of tdsim's control interface (libtdsim.so opens it from TDSIM_CONTROL_ADDR); "
                      "set: the login page can simulate a scan; \"\" = no simulator",
                      false, nullptr, nullptr};
    control.apply = [](Config& c, std::string_view v, const Wild&) -> std::string {
      if (v.empty()) {
        c.tdsim.control_address.clear();
        return {};
      }
      auto hp = parse_host_port(v);
      if (!hp || hp->host.find(':') != std::string::npos || hp->port == 0) {
        return "is not an IPv4 HOST:PORT with a port (e.g. 127.0.0.1:9099) or \"\" (no simulator)";
      }
      c.tdsim.control_address = hp->host + ":" + std::to_string(hp->port);
      return {};
    };
    control.show = [](const Config& c) { return c.tdsim.control_address; };
    k.push_back(std::move(control));
  }

  // cluster: several nodes on one PostgreSQL (cluster::ClusterOptions; docs/scaling.md)
  {
    ConfigKey node{"cluster.node_id", "TGPULSE_CLUSTER_NODE_ID", "--cluster-node-id",
                   "this node's name in a cluster on one PostgreSQL (1-64 of [A-Za-z0-9_.-], unique; needs store.url); "
                   "\"\" = a single node",
                   false, nullptr, nullptr};
    node.apply = [](Config& c, std::string_view v, const Wild&) -> std::string {
      if (!v.empty() && !cluster::is_valid_node_id(std::string(v))) return "must be 1-64 characters of [A-Za-z0-9_.-]";
      c.cluster.node_id = std::string(v);
      return {};
    };
    node.show = [](const Config& c) { return c.cluster.node_id; };
    k.push_back(std::move(node));
    ConfigKey url{"cluster.advertise_url", "TGPULSE_CLUSTER_ADVERTISE_URL", "--cluster-advertise-url",
                  "http://host:port the other nodes reach this node's API listener at (forwarded requests); "
                  "\"\" = from server.listen, which must then be a specific address",
                  false, nullptr, nullptr};
    url.apply = [](Config& c, std::string_view v, const Wild&) -> std::string {
      if (v.empty()) {
        c.cluster.advertise_url.clear();
        return {};
      }
      // A host name (the pod's DNS name in Kubernetes), an IPv4 address or a bracketed IPv6 one, and a port.
      std::string_view rest = v;
      const char* shape = "must be http://host:port (a host name or address and a port, no path)";
      if (rest.substr(0, 7) != "http://") return shape;
      rest.remove_prefix(7);
      const std::size_t colon = rest.rfind(':');
      if (colon == std::string_view::npos || colon == 0 || colon + 1 >= rest.size()) return shape;
      const std::string_view host = rest.substr(0, colon);
      const std::string_view port = rest.substr(colon + 1);
      const bool bracketed = host.front() == '[' && host.back() == ']';
      for (char ch : host) {
        const bool ok = std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' ||
                        (bracketed && (ch == ':' || ch == '[' || ch == ']'));
        if (!ok) return shape;
      }
      int port_number = 0;
      for (char ch : port) {
        if (ch < '0' || ch > '9' || port_number > 65535) return shape;
        port_number = port_number * 10 + (ch - '0');
      }
      if (port_number < 1 || port_number > 65535) return shape;
      c.cluster.advertise_url = std::string(v);
      return {};
    };
    url.show = [](const Config& c) { return c.cluster.advertise_url; };
    k.push_back(std::move(url));
  }
  k.push_back(duration_key("cluster.lease_ttl", "TGPULSE_CLUSTER_LEASE_TTL", "",
                           "how long a renewal keeps a session's lease; a crashed node's sessions move after it",
                           [](auto& c) -> auto& { return c.cluster.lease_ttl; }, milliseconds(2'000),
                           milliseconds(600'000)));
  k.push_back(duration_key("cluster.renew_interval", "TGPULSE_CLUSTER_RENEW_INTERVAL", "",
                           "how often a node renews its leases and heartbeat (one statement)",
                           [](auto& c) -> auto& { return c.cluster.renew_interval; }, milliseconds(200),
                           milliseconds(300'000)));
  k.push_back(duration_key("cluster.fence_margin", "TGPULSE_CLUSTER_FENCE_MARGIN", "",
                           "how long before its leases can end a node that cannot renew closes its sessions",
                           [](auto& c) -> auto& { return c.cluster.fence_margin; }, milliseconds(500),
                           milliseconds(300'000)));
  k.push_back(duration_key("cluster.claim_interval", "TGPULSE_CLUSTER_CLAIM_INTERVAL", "",
                           "how often a node looks for sessions nobody holds and takes its share",
                           [](auto& c) -> auto& { return c.cluster.claim_interval; }, milliseconds(100),
                           milliseconds(60'000)));

  // updates: webhook deliveries (docs/api.md#webhooks)
  k.push_back(bool_key("updates.webhook_allow_private", "TGPULSE_UPDATES_WEBHOOK_ALLOW_PRIVATE", "",
                       "webhooks may reach loopback, private, shared and link-local addresses (default: refused, "
                       "so a tenant's URL cannot reach this host or its network)",
                       [](auto& c) -> auto& { return c.updates.webhook.allow_private; }));
  k.push_back(duration_key("updates.webhook_timeout", "TGPULSE_UPDATES_WEBHOOK_TIMEOUT", "",
                           "the longest one webhook POST may take, from name resolution to the response head; a "
                           "receiver that hangs costs this per attempt (1s-60s)",
                           [](auto& c) -> auto& { return c.updates.webhook.total_timeout; }, 1s, 60s));

  // flood
  {
    ConfigKey t{"flood.sleep_threshold", "TGPULSE_FLOOD_SLEEP_THRESHOLD", "--flood-sleep-threshold",
                "FloodWaits up to this are slept and retried, longer ones fail fast (whole seconds, 0-1d)", false,
                nullptr, nullptr};
    t.apply = [](Config& c, std::string_view v, const Wild&) -> std::string {
      auto d = parse_duration(v);
      if (!d) return "is not a duration (a number with a unit: 500ms, 120s, 2m, 1h)";
      if (d->count() % 1000 != 0) return "must be whole seconds (e.g. 60s)";
      if (*d > 24h) return "must be between 0s and 24h";
      c.flood.sleep_threshold = std::chrono::duration_cast<std::chrono::seconds>(*d);
      return {};
    };
    t.show = [](const Config& c) { return format_duration(c.flood.sleep_threshold); };
    k.push_back(std::move(t));
  }
  k.push_back(int_key("flood.request_retries", "TGPULSE_FLOOD_REQUEST_RETRIES", "--flood-request-retries",
                      "retries of one call after FloodWaits (0-100)",
                      [](auto& c) -> auto& { return c.flood.request_retries; }, 0, 100));

  // throttle
  k.push_back(bool_key("throttle.enabled", "TGPULSE_THROTTLE_ENABLED", "",
                       "false: session and process buckets grant at once (tenant quota and FloodWait policy stay)",
                       [](auto& c) -> auto& { return c.throttle.enabled; }));
  add_layer_keys(k, "session", &throttle::ThrottleOptions::session, "per session and method");
  add_layer_keys(k, "process", &throttle::ThrottleOptions::process, "per process and method");
  add_layer_keys(k, "tenant", &throttle::ThrottleOptions::tenant, "per tenant invoke quota (all unlisted methods share one bucket)");
  k.push_back(bool_key("throttle.adaptive.enabled", "", "", "slow a bucket down after a FloodWait (AIMD)",
                       [](auto& c) -> auto& { return c.throttle.adaptive.enabled; }));
  k.push_back(number_key("throttle.adaptive.decrease_factor", "rate multiplier per FloodWait, (0, 1]",
                         [](auto& c) -> auto& { return c.throttle.adaptive.decrease_factor; }, 0, 1, true));
  k.push_back(number_key("throttle.adaptive.recovery_step", "fraction of the rate regained per success, (0, 1]",
                         [](auto& c) -> auto& { return c.throttle.adaptive.recovery_step; }, 0, 1, true));
  k.push_back(number_key("throttle.adaptive.floor_fraction", "slowest rate as a fraction of the configured, (0, 1]",
                         [](auto& c) -> auto& { return c.throttle.adaptive.floor_fraction; }, 0, 1, true));

  // limits: per-tenant isolation (docs/security-isolation.md)
  k.push_back(number_key("limits.tenant_request_rate",
                         "requests per second one tenant may make across all its routes (0 = no quota)",
                         [](auto& c) -> auto& { return c.limits.tenant_request_rate; }, 0, 1e6, false));
  k.push_back(number_key("limits.tenant_request_burst", "burst of the tenant request quota, [1, 1000000]",
                         [](auto& c) -> auto& { return c.limits.tenant_request_burst; }, 1, 1e6, false));
  k.push_back(number_key("limits.auth_failure_rate",
                         "unknown bearer tokens per second one client address (IPv4, IPv6 /64) may try; more → 429 "
                         "auth_failures with Retry-After, without a store lookup (0 = no limit)",
                         [](auto& c) -> auto& { return c.limits.auth_failure_rate; }, 0, 1e6, false));
  k.push_back(number_key("limits.auth_failure_burst", "burst of the unknown-token limit per client address, [1, 1000000]",
                         [](auto& c) -> auto& { return c.limits.auth_failure_burst; }, 1, 1e6, false));
  k.push_back(int_key("limits.auth_failure_clients", "TGPULSE_LIMITS_AUTH_FAILURE_CLIENTS", "",
                      "client addresses whose failed authentications are tracked at most; beyond, new ones share "
                      "one bucket (1-10000000)",
                      [](auto& c) -> auto& { return c.limits.auth_failure_clients; }, 1, 10'000'000));
  k.push_back(int_key("limits.tenant_sessions", "TGPULSE_LIMITS_TENANT_SESSIONS", "",
                      "live sessions (logins included) per tenant; more → 429 sessions_cap (0 = no cap)",
                      [](auto& c) -> auto& { return c.limits.tenant_sessions; }, 0, 10'000'000));
  k.push_back(int_key("limits.process_sessions", "TGPULSE_LIMITS_PROCESS_SESSIONS", "",
                      "live sessions in the process; more → 503 sessions_cap (0 = no cap)",
                      [](auto& c) -> auto& { return c.limits.process_sessions; }, 0, 10'000'000));
  k.push_back(int_key("limits.tenant_logins", "TGPULSE_LIMITS_TENANT_LOGINS", "",
                      "logins (QR and phone) in progress per tenant; more → 429 logins_cap (0 = no cap)",
                      [](auto& c) -> auto& { return c.limits.tenant_logins; }, 0, 10'000'000));
  k.push_back(int_key("limits.process_logins", "TGPULSE_LIMITS_PROCESS_LOGINS", "",
                      "logins (QR and phone) in progress in the process; more → 503 logins_cap (0 = no cap)",
                      [](auto& c) -> auto& { return c.limits.process_logins; }, 0, 10'000'000));
  k.push_back(int_key("limits.tenant_logins_per_minute", "TGPULSE_LIMITS_TENANT_LOGINS_PER_MINUTE", "",
                      "login creations (QR and phone) per tenant per minute; more → 429 login_rate (0 = no limit)",
                      [](auto& c) -> auto& { return c.limits.tenant_logins_per_minute; }, 0, 10'000'000));
  k.push_back(int_key("limits.password_attempts", "TGPULSE_LIMITS_PASSWORD_ATTEMPTS", "",
                      "2FA password attempts per login; after that many wrong ones the login ends (0 = no limit)",
                      [](auto& c) -> auto& { return c.limits.password_attempts; }, 0, 10'000'000));
  k.push_back(int_key("limits.code_attempts", "TGPULSE_LIMITS_CODE_ATTEMPTS", "",
                      "login codes per phone login; after that many wrong ones the login ends (0 = no limit)",
                      [](auto& c) -> auto& { return c.limits.code_attempts; }, 0, 10'000'000));
  k.push_back(int_key("limits.tenant_streams", "TGPULSE_LIMITS_TENANT_STREAMS", "",
                      "open event streams (tenant and page) per tenant; more → 429 streams_cap (0 = no cap)",
                      [](auto& c) -> auto& { return c.limits.tenant_streams; }, 0, 10'000'000));
  k.push_back(int_key("limits.process_streams", "TGPULSE_LIMITS_PROCESS_STREAMS", "",
                      "open event streams in the process; more → 503 streams_cap (0 = no cap)",
                      [](auto& c) -> auto& { return c.limits.process_streams; }, 0, 10'000'000));

  // quota: the tenant request quota shared by the nodes in Redis (throttle::SharedQuotaOptions;
  // docs/operations.md, "Shared quotas (Redis)"). The URL as store.url: never echoed, never a password.
  {
    ConfigKey url{"quota.redis_url", "TGPULSE_QUOTA_REDIS_URL", "",
                  "redis://host:port/db of the Redis holding the tenant request quotas of every node; the password "
                  "comes from quota.redis_password_file or TGPULSE_QUOTA_REDIS_PASSWORD, never the URL; \"\" = each "
                  "node keeps its own quotas",
                  true, nullptr, nullptr};
    url.apply = [](Config& c, std::string_view v, const Wild&) -> std::string {
      if (auto problem = check_redis_url(v); !problem.empty()) return problem;
      c.quota.redis_url = std::string(v);
      return {};
    };
    url.show = [](const Config& c) { return c.quota.redis_url; };  // never holds a password (refused)
    k.push_back(std::move(url));

    ConfigKey password{"quota.redis_password", "TGPULSE_QUOTA_REDIS_PASSWORD", "",
                       "password sent with AUTH to quota.redis_url; prefer quota.redis_password_file; secret", true,
                       nullptr, nullptr};
    password.apply = [](Config& c, std::string_view v, const Wild&) -> std::string {
      c.quota.redis_password = std::string(v);
      return {};
    };
    password.show = [](const Config& c) { return c.quota.redis_password.empty() ? std::string() : std::string("(set)"); };
    k.push_back(std::move(password));

    ConfigKey file{"quota.redis_password_file", "TGPULSE_QUOTA_REDIS_PASSWORD_FILE", "--quota-redis-password-file",
                   "file whose first line is quota.redis_url's password (keep it 0600); \"\" = none", false, nullptr,
                   nullptr};
    file.apply = [](Config& c, std::string_view v, const Wild&) -> std::string {
      c.quota.redis_password_file = std::string(v);
      return {};
    };
    file.show = [](const Config& c) { return c.quota.redis_password_file; };
    k.push_back(std::move(file));
  }
  k.push_back(duration_key("quota.redis_timeout", "TGPULSE_QUOTA_REDIS_TIMEOUT", "",
                           "deadline of one shared-quota call to Redis; past it the request is decided on the node's "
                           "own quota (1ms-10s)",
                           [](auto& c) -> auto& { return c.quota.redis_timeout; }, 1ms, 10s));

  // admin
  {
    ConfigKey token{"admin_token", "TGPULSE_ADMIN_TOKEN", "",
                    "bearer token of the admin API (tenants); \"\" = admin API off; secret, at least 16 characters",
                    true, nullptr, nullptr};
    token.apply = [](Config& c, std::string_view v, const Wild&) -> std::string {
      if (v.empty()) {
        c.admin_token.clear();
        return {};
      }
      if (v.size() < 16 || v.size() > 256) return "must be 16 to 256 characters";
      for (char ch : v) {
        if (ch <= ' ' || ch == 0x7f) return "must not contain spaces or control characters";
      }
      c.admin_token = std::string(v);
      return {};
    };
    token.show = [](const Config& c) { return c.admin_token.empty() ? std::string() : std::string("(set)"); };
    k.push_back(std::move(token));
  }

  // invoke: the function policy (comma-separated TDLib function names; the deny-list cannot be lifted)
  for (const bool extra : {false, true}) {
    ConfigKey list{extra ? "invoke.allow_extra" : "invoke.allow",
                   extra ? "TGPULSE_INVOKE_ALLOW_EXTRA" : "TGPULSE_INVOKE_ALLOW",
                   extra ? "--invoke-allow-extra" : "--invoke-allow",
                   extra ? "TDLib functions added to the invoke allow-list, comma-separated"
                         : "the invoke allow-list, comma-separated, replacing the default one; \"\" = the default",
                   false, nullptr, nullptr};
    list.apply = [extra](Config& c, std::string_view v, const Wild&) -> std::string {
      std::vector<std::string> names;
      while (!v.empty()) {
        const auto comma = v.find(',');
        std::string_view name = v.substr(0, comma);
        while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.remove_prefix(1);
        while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
        if (!name.empty()) {
          if (!session::FunctionPolicy::is_valid_name(name)) {
            return "contains a name that is not a TDLib function name ([a-zA-Z][a-zA-Z0-9]*, at most 64 characters)";
          }
          if (auto why = session::FunctionPolicy::never_allowed(name)) {
            return "contains " + std::string(name) + ", which can never be allowed: it " + std::string(*why);
          }
          names.emplace_back(name);
        }
        if (comma == std::string_view::npos) break;
        v.remove_prefix(comma + 1);
      }
      (extra ? c.invoke.allow_extra : c.invoke.allow) = std::move(names);
      return {};
    };
    list.show = [extra](const Config& c) {
      return fmt::format("{}", fmt::join(extra ? c.invoke.allow_extra : c.invoke.allow, ","));
    };
    k.push_back(std::move(list));
  }
}

const ConfigKey* ConfigSchema::find(std::string_view path, std::vector<std::string>* wildcards) const {
  const auto want = split(path);
  for (const auto& key : keys_) {
    const auto have = split(key.path);
    if (have.size() != want.size()) continue;
    std::vector<std::string> wild;
    bool ok = true;
    for (std::size_t i = 0; i < have.size() && ok; ++i) {
      if (have[i] == "*") {
        wild.emplace_back(want[i]);
      } else {
        ok = have[i] == want[i];
      }
    }
    if (ok) {
      if (wildcards != nullptr) *wildcards = std::move(wild);
      return &key;
    }
  }
  return nullptr;
}

bool ConfigSchema::is_section(std::string_view path) const {
  const auto want = split(path);
  for (const auto& key : keys_) {
    const auto have = split(key.path);
    if (have.size() <= want.size()) continue;
    bool ok = true;
    for (std::size_t i = 0; i < want.size() && ok; ++i) ok = have[i] == "*" || have[i] == want[i];
    if (ok) return true;
  }
  return false;
}

std::vector<std::string> ConfigSchema::keys_under(std::string_view section) const {
  std::vector<std::string> out;
  const std::string prefix = section.empty() ? std::string() : std::string(section) + ".";
  for (const auto& key : keys_) {
    if (key.path.rfind(prefix, 0) == 0) out.push_back(key.path);
  }
  return out;
}

Result<std::string> read_key_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rbe");
  if (f == nullptr) return Error(Errc::invalid_argument, std::string("cannot be read: ") + std::strerror(errno));
  std::string text(1025, '\0');
  const std::size_t n = std::fread(text.data(), 1, text.size(), f);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return Error(Errc::invalid_argument, "cannot be read");
  if (n > 1024) return Error(Errc::invalid_argument, "is larger than a master key (1 KiB)");
  text.resize(n);
  if (auto cipher = store::KeyCipher::from_base64(text); !cipher) {
    std::fill(text.begin(), text.end(), '\0');
    return Error(Errc::invalid_argument, "does not hold a master key: " + cipher.error().message);
  }
  return text;
}

std::string check_store_url(std::string_view url) {
  if (url.empty()) return {};
  std::string_view rest;
  for (std::string_view scheme : {"postgresql://", "postgres://"}) {
    if (url.substr(0, scheme.size()) == scheme) rest = url.substr(scheme.size());
  }
  if (rest.data() == nullptr) return "is not a postgresql:// URL (e.g. postgresql://tgpulse@db.internal:5432/tgpulse)";
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
  const auto at = authority.rfind('@');
  const bool user_password = at != std::string_view::npos && authority.substr(0, at).find(':') != std::string_view::npos;
  const auto query = rest.find('?');
  const std::string params = query == std::string_view::npos ? std::string() : "&" + std::string(rest.substr(query + 1));
  if (user_password || params.find("&password=") != std::string::npos) {
    return "holds a password: give it in store.url_password_file (or TGPULSE_STORE_PASSWORD) and remove it from the "
           "URL, which is logged at start-up";
  }
  return {};
}

namespace {

// The first line of the password file `path` (setting `file_key`) into *password, unless the password
// (setting `password_key`) was given already; "" or the problem, never the file's content.
std::string read_password_file(const std::string& path, std::string_view file_key, std::string_view password_key,
                               std::string* password) {
  if (path.empty()) return {};
  const std::string key(file_key);
  if (!password->empty()) {
    return "config: " + std::string(password_key) + " and " + key + " are both set (give the password one way)";
  }
  std::FILE* f = std::fopen(path.c_str(), "rbe");
  if (f == nullptr) return "config: " + key + ": \"" + path + "\" cannot be read: " + std::strerror(errno);
  std::string text(4097, '\0');
  const std::size_t n = std::fread(text.data(), 1, text.size(), f);
  std::fclose(f);
  if (n > 4096) return "config: " + key + ": \"" + path + "\" is larger than a password (4 KiB)";
  text.resize(n);
  text.resize(std::min(text.size(), text.find_first_of("\r\n")));  // its first line
  if (text.empty()) return "config: " + key + ": \"" + path + "\" is empty";
  *password = std::move(text);
  return {};
}

}  // namespace

std::string read_store_password_file(Config& config) {
  return read_password_file(config.store.postgres.password_file, "store.url_password_file", "store.url_password",
                            &config.store.postgres.password);
}

std::string read_quota_password_file(Config& config) {
  return read_password_file(config.quota.redis_password_file, "quota.redis_password_file", "quota.redis_password",
                            &config.quota.redis_password);
}

std::string check_redis_url(std::string_view url) {
  if (url.empty()) return {};
  Result<throttle::RedisEndpoint> endpoint = throttle::RedisEndpoint::parse(url);
  return endpoint ? std::string() : endpoint.error().message;
}

std::string read_master_key_file(Config& config) {
  if (config.store.master_key_file.empty()) return {};
  if (!config.store.master_key.empty()) {
    return "config: store.master_key and store.master_key_file are both set (give the master key one way)";
  }
  auto key = read_key_file(config.store.master_key_file);
  if (!key) return "config: store.master_key_file: \"" + config.store.master_key_file + "\" " + key.error().message;
  config.store.master_key = std::move(*key);
  return {};
}

std::vector<std::string> validate_config(const Config& config) {
  std::vector<std::string> errors;
  namespace fs = std::filesystem;
  std::error_code ec;
  if (config.td.library_explicit && !fs::is_regular_file(config.td.library, ec)) {
    errors.push_back("config: td.library: \"" + config.td.library +
                     "\" is not a file (give the path of libtdjson.so or libtdsim.so)");
  }
  if (fs::exists(config.session.data_dir, ec) && !fs::is_directory(config.session.data_dir, ec)) {
    errors.push_back("config: store.data_dir: \"" + config.session.data_dir + "\" exists and is not a directory");
  }
  if (config.session.safety.cleanup_retry_max < config.session.safety.cleanup_retry_initial) {
    errors.push_back("config: sessions.cleanup_retry_max: must be at least sessions.cleanup_retry_initial (" +
                     format_duration(config.session.safety.cleanup_retry_initial) + ")");
  }
  if (!config.log.path.empty() && config.log.path != "-") {
    const fs::path parent = fs::absolute(config.log.path, ec).parent_path();
    if (!fs::is_directory(parent, ec)) {
      errors.push_back("config: log.path: \"" + config.log.path + "\" is in a directory that does not exist");
    }
  }
  if (config.admin_listener.enabled && config.admin_listener.port != 0 &&
      config.admin_listener.port == config.server.port && config.admin_listener.host == config.server.host) {
    errors.push_back("config: server.admin_listen: \"" + config.admin_listen() +
                     "\" is the same address as server.listen (give the admin listener its own port)");
  }
  if (auto s = config.limits.validate(); !s) errors.push_back("config: " + s.error().message);
  if (config.server.max_connections != 0) {
    const std::size_t nofile = http::process_fd_limit();
    const std::size_t largest = http::largest_max_connections(nofile);
    if (config.server.max_connections > largest) {
      errors.push_back(fmt::format("config: server.max_connections: {} leaves too few file descriptors for the admin "
                                   "listener, the store, TDLib and logs (RLIMIT_NOFILE is {}; at most {}, or 0 to "
                                   "derive it; raise the limit with ulimit -n / LimitNOFILE=)",
                                   config.server.max_connections, nofile, largest));
    }
  } else if (http::default_max_connections(http::process_fd_limit()) == 0) {
    errors.push_back(fmt::format("config: server.max_connections: RLIMIT_NOFILE is {}, too low to serve any "
                                 "connection after the reserve of {} (raise it with ulimit -n / LimitNOFILE=)",
                                 http::process_fd_limit(), http::kMinFdReserve + http::kRefusalSlots));
  }
  if (config.cluster.enabled()) {
    const cluster::ClusterOptions& cl = config.cluster;
    // (A cluster without store.url is refused when the session layer starts: the keys are checked one
    // at a time here, and a node id alone is a valid setting to carry.)
    if (cl.renew_interval * 2 > cl.lease_ttl - cl.fence_margin) {
      errors.push_back("config: cluster.renew_interval: " + format_duration(cl.renew_interval) +
                       " leaves fewer than two renewals before the fence (cluster.lease_ttl " +
                       format_duration(cl.lease_ttl) + " - cluster.fence_margin " + format_duration(cl.fence_margin) +
                       "): shorten it or lengthen cluster.lease_ttl");
    }
    if (cl.advertise_url.empty() && config.server.port == 0) {
      errors.push_back("config: cluster.advertise_url: server.listen has port 0 (any free port), which the other "
                       "nodes cannot know: give server.listen a port or set cluster.advertise_url");
    } else if (cl.advertise_url.empty() && (config.server.host == "0.0.0.0" || config.server.host == "::")) {
      errors.push_back("config: cluster.advertise_url: server.listen is " + config.listen() +
                       ", which the other nodes cannot dial: set cluster.advertise_url to http://host:port");
    }
  }
  throttle::ThrottleOptions t = config.throttle;
  t.flood = config.flood;
  if (auto s = t.validate(); !s) errors.push_back("config: " + s.error().message);
  return errors;
}

}  // namespace tgpulse::app
