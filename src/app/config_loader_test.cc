#include "app/config_loader.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "app/config_schema.h"
#include "http/connection_budget.h"

namespace tgpulse::app {
namespace {

using namespace std::chrono_literals;

class ConfigLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("tgpulse-config-test-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write_yaml(const std::string& text) {
    const auto path = (dir_ / "tgpulse.yaml").string();
    std::ofstream(path) << text;
    return path;
  }

  ConfigSources sources(const std::string& file = {}) {
    ConfigSources s;
    s.file = file;
    s.env = [this](const std::string& name) -> std::optional<std::string> {
      auto it = env_.find(name);
      if (it == env_.end()) return std::nullopt;
      return it->second;
    };
    s.binary_dir = "/opt/tgpulse/bin";
    return s;
  }

  // The whole error text of a load that must fail.
  std::string failure(const ConfigSources& s) {
    auto r = load_config(s);
    EXPECT_FALSE(r.ok());
    return r.ok() ? std::string() : r.error().message;
  }

  std::filesystem::path dir_;
  std::map<std::string, std::string> env_;
};

TEST_F(ConfigLoaderTest, DefaultsWithoutAnySource) {
  auto r = load_config(sources());
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Config& c = *r;
  EXPECT_EQ(c.listen(), "127.0.0.1:8080");
  EXPECT_EQ(c.server.threads, 2);
  EXPECT_EQ(c.server.body_limit, 1024u * 1024u);
  EXPECT_EQ(c.metrics.ns, "telethon");
  EXPECT_EQ(c.session.data_dir, "./data");
  EXPECT_EQ(c.session.qr_timeout, 120s);
  EXPECT_EQ(c.flood.sleep_threshold, 60s);
  EXPECT_EQ(c.flood.request_retries, 5);
  EXPECT_EQ(c.td.library, "/opt/tgpulse/bin/libtdsim.so");
  EXPECT_FALSE(c.td.library_explicit);
  EXPECT_EQ(c.log.level, telemetry::LogLevel::info);
  EXPECT_EQ(c.log.format, telemetry::LogFormat::json);
  EXPECT_TRUE(c.admin_token.empty());
  EXPECT_FALSE(c.admin_listener.enabled);
  EXPECT_EQ(c.admin_listen(), "");
}

TEST_F(ConfigLoaderTest, FileThenEnvThenFlagsWin) {
  const auto file = write_yaml(
      "server:\n  listen: 127.0.0.1:7001\n  threads: 3\n  read_timeout: 5s\n"
      "log:\n  level: debug\n  format: console\n"
      "store:\n  data_dir: /from/file\n"
      "qr:\n  timeout: 2m\n");
  env_["TGPULSE_LISTEN"] = "127.0.0.1:7002";
  env_["TGPULSE_DATA_DIR"] = "/from/env";
  env_["TGPULSE_LOG_LEVEL"] = "warn";
  auto s = sources(file);
  s.flags = {{"server.listen", "127.0.0.1:7003"}, {"log.level", "error"}};
  auto r = load_config(s);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->listen(), "127.0.0.1:7003");          // flag over env over file
  EXPECT_EQ(r->log.level, telemetry::LogLevel::error);                  // flag over env
  EXPECT_EQ(r->session.data_dir, "/from/env");         // env over file
  EXPECT_EQ(r->server.threads, 3);                   // file over default
  EXPECT_EQ(r->server.read_timeout, 5s);
  EXPECT_EQ(r->log.format, telemetry::LogFormat::console);
  EXPECT_EQ(r->session.qr_timeout, 120s);
}

TEST_F(ConfigLoaderTest, InvokePolicyListsAndTheDenyListThatNoneCanLift) {
  auto defaults = load_config(sources());
  ASSERT_TRUE(defaults.ok());
  EXPECT_TRUE(defaults->invoke.allow.empty());
  EXPECT_TRUE(defaults->invoke.allow_extra.empty());

  const auto file = write_yaml("invoke:\n  allow: getMe, getChats\n");
  env_["TGPULSE_INVOKE_ALLOW_EXTRA"] = " getChatEventLog ,";
  auto r = load_config(sources(file));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->invoke.allow, (std::vector<std::string>{"getMe", "getChats"}));
  EXPECT_EQ(r->invoke.allow_extra, (std::vector<std::string>{"getChatEventLog"}));

  env_["TGPULSE_INVOKE_ALLOW_EXTRA"] = "getMe,setLogStream";
  const std::string e = failure(sources());
  EXPECT_NE(e.find("config: invoke.allow_extra:"), std::string::npos) << e;
  EXPECT_NE(e.find("setLogStream, which can never be allowed"), std::string::npos) << e;
  EXPECT_NE(e.find("[from TGPULSE_INVOKE_ALLOW_EXTRA]"), std::string::npos) << e;
  env_.clear();
  auto s = sources(write_yaml("invoke:\n  allow: getMe,testReturnError\n"));
  const std::string f = failure(s);
  EXPECT_NE(f.find("config: invoke.allow:"), std::string::npos) << f;
  EXPECT_NE(f.find("testReturnError"), std::string::npos) << f;
  EXPECT_NE(failure(sources(write_yaml("invoke:\n  allow_extra: get_chats\n"))).find("not a TDLib function name"),
            std::string::npos);
}

TEST_F(ConfigLoaderTest, AdminListenerIsOptionalAndMustNotShareTheMainAddress) {
  const auto file = write_yaml("server:\n  admin_listen: 127.0.0.1:9464\n");
  auto on = load_config(sources(file));
  ASSERT_TRUE(on.ok()) << on.error().message;
  EXPECT_TRUE(on->admin_listener.enabled);
  EXPECT_EQ(on->admin_listener.host, "127.0.0.1");
  EXPECT_EQ(on->admin_listener.port, 9464);
  EXPECT_EQ(on->admin_listen(), "127.0.0.1:9464");

  env_["TGPULSE_ADMIN_LISTEN"] = "";  // the environment turns the file's listener off again
  auto off = load_config(sources(file));
  ASSERT_TRUE(off.ok()) << off.error().message;
  EXPECT_FALSE(off->admin_listener.enabled);
  env_.clear();

  auto s = sources();
  s.flags = {{"server.admin_listen", "nine"}};
  EXPECT_EQ(failure(s),
            "config: server.admin_listen: \"nine\" is not HOST:PORT (e.g. 127.0.0.1:9464) or \"\" (off) "
            "[from --admin-listen]");
  s.flags = {{"server.admin_listen", "127.0.0.1:8080"}};
  EXPECT_EQ(failure(s),
            "config: server.admin_listen: \"127.0.0.1:8080\" is the same address as server.listen "
            "(give the admin listener its own port)");
}

TEST_F(ConfigLoaderTest, BadListenNamesKeyValueAndExample) {
  auto s = sources();
  s.flags = {{"server.listen", "abc"}};
  EXPECT_EQ(failure(s), "config: server.listen: \"abc\" is not HOST:PORT (e.g. 127.0.0.1:8080) [from --listen]");
}

TEST_F(ConfigLoaderTest, EveryValueKindIsCheckedWithTheAllowedValues) {
  struct Case {
    const char* env;
    const char* value;
    const char* expected;
  };
  const Case cases[] = {
      {"TGPULSE_THREADS", "0", "config: server.threads: \"0\" must be between 1 and 64 [from TGPULSE_THREADS]"},
      {"TGPULSE_THREADS", "two", "config: server.threads: \"two\" is not a whole number [from TGPULSE_THREADS]"},
      {"TGPULSE_BODY_LIMIT", "1XB",
       "config: server.body_limit: \"1XB\" is not a size (bytes, or a number with a unit: 64KiB, 1MiB) [from "
       "TGPULSE_BODY_LIMIT]"},
      {"TGPULSE_BODY_LIMIT", "2GiB",
       "config: server.body_limit: \"2GiB\" must be between 1KiB and 1GiB [from TGPULSE_BODY_LIMIT]"},
      {"TGPULSE_QR_TIMEOUT", "120",
       "config: qr.timeout: \"120\" is not a duration (a number with a unit: 500ms, 120s, 2m, 1h) [from "
       "TGPULSE_QR_TIMEOUT]"},
      {"TGPULSE_QR_TIMEOUT", "1s", "config: qr.timeout: \"1s\" must be between 5s and 1h [from TGPULSE_QR_TIMEOUT]"},
      {"TGPULSE_LOG_FORMAT", "xml",
       "config: log.format: \"xml\" is not one of json, console [from TGPULSE_LOG_FORMAT]"},
      {"TGPULSE_LOG_LEVEL", "loud",
       "config: log.level: \"loud\" is not one of trace, debug, info, warn, error [from TGPULSE_LOG_LEVEL]"},
      {"TGPULSE_THROTTLE_ENABLED", "maybe",
       "config: throttle.enabled: \"maybe\" is not a boolean (true or false) [from TGPULSE_THROTTLE_ENABLED]"},
      {"TGPULSE_METRICS_NAMESPACE", "9lives",
       "config: metrics.namespace: \"9lives\" is not a metric name prefix (letters, digits and _, not starting with "
       "a digit) [from TGPULSE_METRICS_NAMESPACE]"},
      {"TGPULSE_FLOOD_SLEEP_THRESHOLD", "1500ms",
       "config: flood.sleep_threshold: \"1500ms\" must be whole seconds (e.g. 60s) [from "
       "TGPULSE_FLOOD_SLEEP_THRESHOLD]"},
  };
  for (const auto& c : cases) {
    env_.clear();
    env_[c.env] = c.value;
    EXPECT_EQ(failure(sources()), c.expected);
  }
}

TEST_F(ConfigLoaderTest, SecretsNeverAppearInMessages) {
  env_["TGPULSE_ADMIN_TOKEN"] = "short-secret";
  env_["TGPULSE_TD_API_HASH"] = "not-a-hash-secret";
  const std::string msg = failure(sources());
  EXPECT_EQ(msg.find("short-secret"), std::string::npos);
  EXPECT_EQ(msg.find("not-a-hash-secret"), std::string::npos);
  EXPECT_NE(msg.find("config: admin_token: must be 16 to 256 characters [from TGPULSE_ADMIN_TOKEN]"), std::string::npos);
  EXPECT_NE(msg.find("config: td.api_hash: must be 32 hexadecimal digits"), std::string::npos);
}

TEST_F(ConfigLoaderTest, AcceptsAGoodAdminToken) {
  env_["TGPULSE_ADMIN_TOKEN"] = "0123456789abcdef-admin";
  auto r = load_config(sources());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->admin_token, "0123456789abcdef-admin");
  const ConfigKey* key = ConfigSchema::instance().find("admin_token", nullptr);
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(key->show(*r), "(set)");
}

TEST_F(ConfigLoaderTest, UnknownKeysInTheFileAreNamed) {
  const auto file = write_yaml("server:\n  listn: 127.0.0.1:1\nlogging:\n  level: info\n");
  const std::string msg = failure(sources(file));
  EXPECT_NE(msg.find("config: unknown key \"server.listn\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("known under server: listen, admin_listen, threads"), std::string::npos) << msg;
  EXPECT_NE(msg.find("config: unknown key \"logging\""), std::string::npos) << msg;
}

// qr.token_ttl was never wired (Telegram decides a QR link's lifetime): an old config that sets it is
// told why, in the file and in the environment, instead of a bare "unknown key" or silence.
TEST_F(ConfigLoaderTest, RemovedKeysAreExplained) {
  const std::string from_file = failure(sources(write_yaml("qr:\n  timeout: 2m\n  token_ttl: 30s\n")));
  EXPECT_NE(from_file.find("config: qr.token_ttl: was removed: a QR link's lifetime is decided by Telegram"),
            std::string::npos)
      << from_file;
  EXPECT_NE(from_file.find("qr_token_ttl_seconds"), std::string::npos) << from_file;
  env_["TGPULSE_QR_TOKEN_TTL"] = "30s";
  const std::string from_env = failure(sources());
  EXPECT_NE(from_env.find("config: qr.token_ttl: was removed"), std::string::npos) << from_env;
  EXPECT_NE(from_env.find("[from TGPULSE_QR_TOKEN_TTL]"), std::string::npos) << from_env;
}

// The simulator's control address is a key like any other; TDSIM_CONTROL_ADDR (the variable libtdsim.so
// also reads) is its environment variable.
TEST_F(ConfigLoaderTest, TdsimControlAddressIsAKey) {
  auto off = load_config(sources());
  ASSERT_TRUE(off.ok()) << off.error().message;
  EXPECT_EQ(off->tdsim.control_address, "");
  env_["TDSIM_CONTROL_ADDR"] = "localhost:9099";
  auto on = load_config(sources());
  ASSERT_TRUE(on.ok()) << on.error().message;
  EXPECT_EQ(on->tdsim.control_address, "127.0.0.1:9099");
  auto file = load_config(sources(write_yaml("tdsim:\n  control_address: 127.0.0.1:9100\n")));
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->tdsim.control_address, "127.0.0.1:9099");  // the environment wins over the file
  env_["TDSIM_CONTROL_ADDR"] = "[::1]:9099";
  EXPECT_EQ(failure(sources()),
            "config: tdsim.control_address: \"[::1]:9099\" is not an IPv4 HOST:PORT with a port (e.g. "
            "127.0.0.1:9099) or \"\" (no simulator) [from TDSIM_CONTROL_ADDR]");
}

TEST_F(ConfigLoaderTest, ListsSectionsAndSyntaxErrorsAreRefused) {
  EXPECT_NE(failure(sources(write_yaml("server:\n  listen: [a, b]\n"))).find(
                "config: server.listen: must be a single value, not a list"),
            std::string::npos);
  EXPECT_NE(failure(sources(write_yaml("server: 8080\n"))).find("config: server: is a section"), std::string::npos);
  const std::string syntax = failure(sources(write_yaml("server:\n  listen: [oops\n")));
  EXPECT_NE(syntax.find("line "), std::string::npos) << syntax;
  EXPECT_NE(failure(sources(write_yaml("- a\n- b\n"))).find("the top level must be a mapping"), std::string::npos);
  EXPECT_NE(failure(sources((dir_ / "missing.yaml").string())).find("no such file"), std::string::npos);
}

TEST_F(ConfigLoaderTest, ReportsEveryProblemAtOnce) {
  env_["TGPULSE_THREADS"] = "0";
  auto s = sources();
  s.flags = {{"server.listen", "abc"}, {"qr.timeout", "soon"}};
  const std::string msg = failure(s);
  EXPECT_NE(msg.find("server.threads"), std::string::npos);
  EXPECT_NE(msg.find("server.listen"), std::string::npos);
  EXPECT_NE(msg.find("qr.timeout"), std::string::npos);
  EXPECT_EQ(std::count(msg.begin(), msg.end(), '\n'), 2);
}

TEST_F(ConfigLoaderTest, ThrottleMethodMapsAreReadFromTheFile) {
  const auto file = write_yaml(
      "throttle:\n  session:\n    default_rate: 4\n    methods:\n      getChats: {rate: 2, burst: 3}\n"
      "  adaptive:\n    decrease_factor: 0.25\nflood:\n  sleep_threshold: 30s\n  request_retries: 2\n");
  auto r = load_config(sources(file));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->throttle.session.default_limit.rate, 4);
  EXPECT_EQ(r->throttle.session.limit_for("getChats").rate, 2);
  EXPECT_EQ(r->throttle.session.limit_for("getChats").burst, 3);
  EXPECT_EQ(r->throttle.session.limit_for("sendMessage").rate, 1);  // default entry kept
  EXPECT_EQ(r->throttle.adaptive.decrease_factor, 0.25);
  EXPECT_EQ(r->flood.sleep_threshold, 30s);
  EXPECT_EQ(r->flood.request_retries, 2);

  const std::string msg = failure(sources(write_yaml("throttle:\n  session:\n    methods:\n      getChats: {rate: -1}\n")));
  EXPECT_NE(msg.find("config: throttle.session.methods.getChats.rate: \"-1\" must be between 0 and 1000000"),
            std::string::npos)
      << msg;
  const std::string bad_name = failure(sources(write_yaml("throttle:\n  session:\n    methods:\n      \"get chats\": {rate: 1}\n")));
  EXPECT_NE(bad_name.find("names no TDLib method"), std::string::npos) << bad_name;
}

TEST_F(ConfigLoaderTest, LimitsAndMaxConnectionsAreReadAndChecked) {
  const auto file = write_yaml("limits:\n  tenant_request_rate: 7\n  tenant_logins: 3\n  password_attempts: 2\n");
  env_["TGPULSE_MAX_CONNECTIONS"] = "10";
  auto r = load_config(sources(file));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->limits.tenant_request_rate, 7);
  EXPECT_EQ(r->limits.tenant_logins, 3);
  EXPECT_EQ(r->limits.password_attempts, 2);
  EXPECT_EQ(r->limits.process_logins, 200);  // default kept
  EXPECT_EQ(r->server.max_connections, 10u);

  // A tenant cap above the process cap, and a max_connections that leaves no descriptors in reserve.
  env_["TGPULSE_LIMITS_TENANT_STREAMS"] = "5000";
  env_["TGPULSE_MAX_CONNECTIONS"] = std::to_string(http::process_fd_limit());
  const std::string msg = failure(sources());
  EXPECT_NE(msg.find("config: limits.tenant_streams: must not exceed limits.process_streams"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("config: server.max_connections: "), std::string::npos) << msg;
}

TEST_F(ConfigLoaderTest, FileSystemChecks) {
  env_["TGPULSE_TD_LIBRARY"] = (dir_ / "nope.so").string();
  std::ofstream(dir_ / "plain-file") << "x";
  env_["TGPULSE_DATA_DIR"] = (dir_ / "plain-file").string();
  env_["TGPULSE_LOG_PATH"] = (dir_ / "no-such-dir" / "log.json").string();
  const std::string msg = failure(sources());
  EXPECT_NE(msg.find("config: td.library: \"" + (dir_ / "nope.so").string() + "\" is not a file"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("config: store.data_dir: "), std::string::npos) << msg;
  EXPECT_NE(msg.find("config: log.path: "), std::string::npos) << msg;
}

// store.url and its password: the URL never carries one, and neither is echoed when refused.
TEST_F(ConfigLoaderTest, StoreUrlRefusesAPasswordAndThePasswordComesFromAFile) {
  env_["TGPULSE_STORE_URL"] = "postgresql://tgpulse@db.internal:5432/tgpulse";
  const auto password_file = (dir_ / "store.password").string();
  std::ofstream(password_file) << "s3cret-pw\nignored second line\n";
  env_["TGPULSE_STORE_PASSWORD_FILE"] = password_file;
  auto loaded = load_config(sources());
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->store.postgres.url, "postgresql://tgpulse@db.internal:5432/tgpulse");
  EXPECT_EQ(loaded->store.postgres.password, "s3cret-pw");

  env_["TGPULSE_STORE_PASSWORD"] = "another";
  EXPECT_NE(failure(sources()).find("store.url_password and store.url_password_file are both set"), std::string::npos);

  env_.clear();
  for (const std::string url : {"postgresql://tgpulse:s3cret-pw@db/tgpulse", "postgres://u:s3cret-pw@db:5432/x",
                                "postgresql://tgpulse@db/tgpulse?sslmode=require&password=s3cret-pw"}) {
    env_["TGPULSE_STORE_URL"] = url;
    const std::string err = failure(sources());
    EXPECT_NE(err.find("config: store.url: holds a password"), std::string::npos) << err;
    EXPECT_EQ(err.find("s3cret-pw"), std::string::npos) << err;
  }
  env_["TGPULSE_STORE_URL"] = "mysql://tgpulse@db/tgpulse";
  EXPECT_NE(failure(sources()).find("config: store.url: is not a postgresql:// URL"), std::string::npos);
  env_["TGPULSE_STORE_URL"] = "postgresql://user@db:5432/x?sslmode=verify-full";  // parameters are fine
  EXPECT_TRUE(load_config(sources()).ok());
}

// cluster.*: a node id and the URL the others reach it at; timings that leave no renewal before the
// fence, and addresses nobody can dial, are refused naming the key.
TEST_F(ConfigLoaderTest, ClusterKeysAreCheckedNamingTheKey) {
  env_["TGPULSE_CLUSTER_NODE_ID"] = "tgpulse-0";
  env_["TGPULSE_CLUSTER_ADVERTISE_URL"] = "http://tgpulse-0.tgpulse-nodes.default.svc:8080";
  auto loaded = load_config(sources());
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->cluster.node_id, "tgpulse-0");
  EXPECT_EQ(loaded->cluster.advertise_url, "http://tgpulse-0.tgpulse-nodes.default.svc:8080");
  for (const char* bad : {"tgpulse-0.svc:8080", "http://host", "http://host:0", "http://host:8080/api",
                          "http://host:99999", "http://ho st:80"}) {
    env_["TGPULSE_CLUSTER_ADVERTISE_URL"] = bad;
    const std::string err = failure(sources());
    EXPECT_NE(err.find("config: cluster.advertise_url: \"" + std::string(bad) + "\" must be http://host:port"),
              std::string::npos) << err;
  }
  env_["TGPULSE_CLUSTER_ADVERTISE_URL"] = "http://[::1]:8080";
  EXPECT_TRUE(load_config(sources()).ok());
  env_["TGPULSE_CLUSTER_NODE_ID"] = "node/1";
  EXPECT_NE(failure(sources()).find("config: cluster.node_id: \"node/1\" must be 1-64 characters"), std::string::npos)
      << failure(sources());
  env_["TGPULSE_CLUSTER_NODE_ID"] = "n1";
  env_["TGPULSE_CLUSTER_RENEW_INTERVAL"] = "5s";  // 15s - 5s leaves room for 2 renewals of 5 s, not of 6 s
  EXPECT_TRUE(load_config(sources()).ok());
  env_["TGPULSE_CLUSTER_RENEW_INTERVAL"] = "6s";
  EXPECT_NE(failure(sources()).find("config: cluster.renew_interval: 6s leaves fewer than two renewals"),
            std::string::npos) << failure(sources());
  env_.erase("TGPULSE_CLUSTER_RENEW_INTERVAL");
  env_.erase("TGPULSE_CLUSTER_ADVERTISE_URL");
  env_["TGPULSE_LISTEN"] = "0.0.0.0:8080";
  EXPECT_NE(failure(sources()).find("config: cluster.advertise_url: server.listen is 0.0.0.0:8080"), std::string::npos)
      << failure(sources());
}

// store.master_key / store.master_key_file: the master key of the session keys at rest.
TEST_F(ConfigLoaderTest, MasterKeyFromTheEnvironmentOrAFileNeverEchoed) {
  const std::string key = "q2mD6cJ1h0x3vXb0kq3Yt1mO2b6n9Hh4Yx2fA8sWc0E=";  // 32 bytes
  env_["TGPULSE_MASTER_KEY"] = key;
  auto from_env = load_config(sources());
  ASSERT_TRUE(from_env.ok()) << from_env.error().message;
  EXPECT_EQ(from_env->store.master_key, key);

  env_.clear();
  const auto key_file = (dir_ / "master.key").string();
  std::ofstream(key_file) << key << "\n";
  env_["TGPULSE_MASTER_KEY_FILE"] = key_file;
  auto from_file = load_config(sources());
  ASSERT_TRUE(from_file.ok()) << from_file.error().message;
  EXPECT_EQ(from_file->store.master_key.substr(0, key.size()), key);

  env_["TGPULSE_MASTER_KEY"] = key;
  EXPECT_NE(failure(sources()).find("store.master_key and store.master_key_file are both set"), std::string::npos);

  env_.clear();
  const std::string short_key = "c2hvcnQta2V5LXRoYXQtaXMtdG9vLXNob3J0";  // 27 bytes
  env_["TGPULSE_MASTER_KEY"] = short_key;
  std::string err = failure(sources());
  EXPECT_NE(err.find("config: store.master_key: the master key decodes to 27 bytes, not 32"), std::string::npos)
      << err;
  EXPECT_NE(err.find("[from TGPULSE_MASTER_KEY]"), std::string::npos) << err;
  EXPECT_EQ(err.find(short_key), std::string::npos) << err;

  env_.clear();
  std::ofstream(key_file, std::ios::trunc) << short_key << "\n";
  env_["TGPULSE_MASTER_KEY_FILE"] = key_file;
  err = failure(sources());
  EXPECT_NE(err.find("store.master_key_file: \"" + key_file + "\" does not hold a master key"), std::string::npos)
      << err;
  EXPECT_EQ(err.find(short_key), std::string::npos) << err;

  env_["TGPULSE_MASTER_KEY_FILE"] = (dir_ / "missing.key").string();
  err = failure(sources());
  EXPECT_NE(err.find("missing.key\" cannot be read: No such file or directory"), std::string::npos) << err;
}

TEST_F(ConfigLoaderTest, EveryKeyHasHelpAndEveryEnvAndFlagIsUnique) {
  std::map<std::string, std::string> envs;
  std::map<std::string, std::string> flags;
  for (const auto& k : ConfigSchema::instance().keys()) {
    EXPECT_FALSE(k.help.empty()) << k.path;
    EXPECT_TRUE(k.apply && k.show) << k.path;
    if (!k.env.empty()) {
      EXPECT_TRUE(envs.emplace(k.env, k.path).second) << k.env;
    }
    if (!k.flag.empty()) {
      EXPECT_TRUE(flags.emplace(k.flag, k.path).second) << k.flag;
    }
    if (k.secret) {
      EXPECT_TRUE(k.flag.empty()) << k.path << ": a secret on the command line shows in ps";
    }
  }
}

// docs/configuration.md is the reference users read: every key must be there, spelled as in the file.
TEST(ConfigDocsTest, EveryKeyIsDocumented) {
  std::ifstream in(std::string(TGPULSE_SOURCE_DIR) + "/docs/configuration.md");
  ASSERT_TRUE(in.good());
  std::ostringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  for (const auto& k : ConfigSchema::instance().keys()) {
    std::string path = k.path;
    if (auto star = path.find('*'); star != std::string::npos) path.replace(star, 1, "<method>");
    EXPECT_NE(doc.find("`" + path + "`"), std::string::npos) << path << " is not in docs/configuration.md";
    if (!k.env.empty()) {
      EXPECT_NE(doc.find("`" + k.env + "`"), std::string::npos) << k.env << " is not in docs/configuration.md";
    }
    if (!k.flag.empty()) {
      EXPECT_NE(doc.find("`" + k.flag + "`"), std::string::npos) << k.flag << " is not in docs/configuration.md";
    }
  }
}

}  // namespace
}  // namespace tgpulse::app
