// No dead keys: every key of the schema, set to a valid value other than its default, must change what
// the areas are given (config_wiring.h). A key that changes nothing fails, named. And one definition
// per setting: what the areas get from a default Config is each area's own default.
#include "app/config_wiring.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "app/config_loader.h"
#include "app/config_schema.h"

namespace tgpulse::app {
namespace {

// Everything the application hands to the areas, for one Config.
struct Wired {
  http::ServerOptions main;
  std::optional<http::ServerOptions> admin;
  telemetry::LoggerOptions logger;
  telemetry::CatalogOptions catalog;
  std::size_t catalog_left_out = 0;
  session::SessionServiceOptions service;
  BlockingPoolOptions store_pool;
};

Wired wire(const Config& c) {
  Wired w{main_server_options(c), admin_server_options(c), logger_options(c), {}, 0, session_service_options(c),
          store_pool_options(c)};
  w.catalog = catalog_options(c, &w.catalog_left_out);
  return w;
}

// Field by field: a field added to SessionServiceOptions must be added here (else its key is reported
// as dead, which is the safe direction).
bool same(const Wired& a, const Wired& b) {
  const session::SessionServiceOptions& x = a.service;
  const session::SessionServiceOptions& y = b.service;
  return a.main == b.main && a.admin == b.admin && a.logger == b.logger && a.catalog == b.catalog &&
         a.catalog_left_out == b.catalog_left_out && x.td_library == y.td_library && x.engine == y.engine &&
         x.sessions == y.sessions && x.store_master_key == y.store_master_key && x.store_postgres == y.store_postgres &&
         x.routes.admin_token == y.routes.admin_token && x.throttle == y.throttle && x.flood == y.flood &&
         x.invoke_policy == y.invoke_policy && x.limits == y.limits &&
         x.simulator_control_address == y.simulator_control_address && x.store_access == y.store_access &&
         x.updates == y.updates && x.cluster == y.cluster && x.quota == y.quota &&
         a.store_pool == b.store_pool;
}

constexpr const char* kMasterKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";  // bytes 0..31

class ConfigWiringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // One directory per test process: CTest runs this suite's tests in parallel processes, and a name
    // they share (the random seed is 0 in every one) let one test's TearDown remove another's key file.
    std::string tmpl = (std::filesystem::temp_directory_path() / "tgpulse-wiring-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    key_file_ = (dir_ / "master.key").string();
    std::ofstream(key_file_) << kMasterKey << "\n";
    std::filesystem::permissions(key_file_, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A source with nothing but these flags (no file, an empty environment).
  static Result<Config> load(std::vector<std::pair<std::string, std::string>> flags) {
    ConfigSources s;
    s.env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
    s.binary_dir = "/opt/tgpulse/bin";
    s.flags = std::move(flags);
    return load_config(s);
  }

  // Values that need more than a generic guess: an existing file, a secret of the right shape, ...
  std::map<std::string, std::string> samples() const {
    return {{"td.library", std::string(TGPULSE_SOURCE_DIR) + "/CMakeLists.txt"},
            {"log.path", (dir_ / "tgpulse.log").string()},
            {"store.data_dir", (dir_ / "data").string()},
            {"store.master_key", kMasterKey},
            {"store.master_key_file", key_file_},
            {"store.url", "postgresql://tgpulse@127.0.0.1:5432/tgpulse"},
            {"store.url_password", "a-db-password"},
            {"store.url_password_file", key_file_},
            {"quota.redis_url", "redis://127.0.0.1:6379/0"},
            {"quota.redis_password", "a-redis-password"},
            {"quota.redis_password_file", key_file_},
            {"admin_token", "0123456789abcdef-admin"},
            {"td.api_hash", "0123456789abcdef0123456789abcdef"},
            {"server.admin_listen", "127.0.0.1:9464"},
            {"tdsim.control_address", "127.0.0.1:9099"},
            {"invoke.allow", "getMe,getChats"},
            {"invoke.allow_extra", "getUser"},
            {"metrics.namespace", "acme"},
            {"files.max_bytes_per_tenant", "2GiB"},
            {"cluster.node_id", "node-a"},
            {"cluster.advertise_url", "http://10.0.0.7:8080"},
            {"cluster.lease_ttl", "30s"}};
  }

  std::filesystem::path dir_;
  std::string key_file_;
};

TEST_F(ConfigWiringTest, EveryKeyChangesWhatTheAreasAreGiven) {
  auto defaults = load({});
  ASSERT_TRUE(defaults.ok()) << defaults.error().message;
  const Wired base = wire(*defaults);
  const std::vector<std::string> guesses = {"7s",    "90s",  "3m",    "250ms", "7",    "3",     "2",
                                            "0.25",  "0.5",  "false", "true",  "64KiB", "100000",
                                            "127.0.0.1:9191", "debug", "console"};
  const auto explicit_samples = samples();
  const Config pristine;
  for (const ConfigKey& key : ConfigSchema::instance().keys()) {
    std::string path = key.path;
    if (auto star = path.find('*'); star != std::string::npos) path.replace(star, 1, "getMe");
    std::vector<std::string> values;
    if (auto it = explicit_samples.find(key.path); it != explicit_samples.end()) {
      values = {it->second};
    } else {
      values = guesses;
    }
    bool found_sample = false;
    for (const std::string& value : values) {
      // A candidate must parse and differ from the default as shown (wildcard keys show nothing).
      Config probe;
      std::vector<std::string> wild;
      ConfigSchema::instance().find(path, &wild);
      if (!key.apply(probe, value, wild).empty()) continue;
      if (!key.secret && !key.show(pristine).empty() && key.show(probe) == key.show(pristine)) continue;
      auto loaded = load({{path, value}});
      if (!loaded.ok()) continue;
      found_sample = true;
      EXPECT_FALSE(same(wire(*loaded), base))
          << "config key " << key.path << " = \"" << (key.secret ? "(secret)" : value)
          << "\" changes nothing the areas are given: wire it in config_wiring.cc or remove the key";
      break;
    }
    EXPECT_TRUE(found_sample) << "no valid non-default value found for config key " << key.path
                              << ": add one to samples()";
  }
}

// What a default Config hands each area is that area's own default: no second set of defaults.
TEST_F(ConfigWiringTest, DefaultsAreTheAreasOwn) {
  const Config c;
  http::ServerOptions main = main_server_options(c);
  EXPECT_NE(main.max_connections, 0u);  // 0 = derived from RLIMIT_NOFILE
  main.max_connections = 0;
  EXPECT_EQ(main, http::ServerOptions{});
  EXPECT_FALSE(admin_server_options(c).has_value());
  EXPECT_EQ(logger_options(c), telemetry::LoggerOptions{});
  const session::SessionServiceOptions so = session_service_options(c);
  EXPECT_EQ(so.engine, td::EngineOptions{});
  EXPECT_EQ(so.engine.tdlib_log_verbosity, 2);  // warnings: the level at which TDLib reports absorbed waits
  EXPECT_EQ(so.sessions, session::SessionOptions{});
  EXPECT_EQ(so.sessions.data_dir, "./data");
  EXPECT_EQ(so.throttle, throttle::ThrottleOptions{});
  EXPECT_EQ(so.flood, throttle::FloodOptions{});
  EXPECT_EQ(so.limits, session::TenantLimitsOptions{});
  EXPECT_EQ(so.quota, throttle::SharedQuotaOptions{});
  EXPECT_FALSE(so.quota.enabled());
  EXPECT_EQ(so.invoke_policy, session::InvokePolicyOptions{});
  EXPECT_EQ(so.simulator_control_address, "");
  EXPECT_EQ(so.updates, updates::UpdatesOptions{});
  EXPECT_EQ(so.updates.webhook, updates::WebhookOptions{});
  EXPECT_FALSE(so.updates.webhook.allow_private);
}

// docs/configuration.md states each key's default: it must be what the options structs say.
TEST(ConfigDocsDefaultsTest, EveryDocumentedDefaultIsTheStructDefault) {
  std::ifstream in(std::string(TGPULSE_SOURCE_DIR) + "/docs/configuration.md");
  ASSERT_TRUE(in.good());
  const Config defaults;
  int checked = 0;
  for (std::string line; std::getline(in, line);) {
    // | `key` | `ENV` | `--flag` | default | meaning |
    if (line.rfind("| `", 0) != 0) continue;
    std::vector<std::string> cells;
    for (std::size_t at = 1; at < line.size();) {
      const auto next = line.find(" | ", at);
      cells.push_back(line.substr(at, next == std::string::npos ? std::string::npos : next - at));
      if (next == std::string::npos) break;
      at = next + 2;
    }
    if (cells.size() < 5) continue;
    auto ticked = [](const std::string& cell) -> std::optional<std::string> {
      const auto open = cell.find('`');
      const auto close = open == std::string::npos ? open : cell.find('`', open + 1);
      if (close == std::string::npos) return std::nullopt;
      return cell.substr(open + 1, close - open - 1);
    };
    const auto path = ticked(cells[0]);
    const auto documented = ticked(cells[3]);
    if (!path) continue;
    const ConfigKey* key = ConfigSchema::instance().find(*path, nullptr);
    if (key == nullptr || key->secret || key->path == "td.library") continue;  // no literal default
    ASSERT_TRUE(documented.has_value()) << *path << ": no `default` in its row";
    const std::string expected = *documented == "\"\"" ? std::string() : *documented;
    EXPECT_EQ(expected, key->show(defaults)) << "docs/configuration.md documents " << *path << " = " << *documented;
    ++checked;
  }
  EXPECT_GT(checked, 30);
}

}  // namespace
}  // namespace tgpulse::app
