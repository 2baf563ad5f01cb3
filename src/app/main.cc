// tgpulse: the service binary.
//   tgpulse serve [--config FILE] [flags]   run the service (config: file < TGPULSE_* env < flags)
//   tgpulse version                         version, git commit, default TDLib library
//   tgpulse keys generate|rotate            the master key of the session keys at rest (key_commands.h)
//   tgpulse load [flags]                    the load generator (when built in)
// Exit codes: 0 ok (also after SIGINT/SIGTERM), 1 failed to start or forced out by a second signal,
// 2 bad flags or configuration.
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "app/application.h"
#include "app/config_loader.h"
#include "app/config_schema.h"
#include "app/key_commands.h"
#include "http/server.h"

#ifdef TGPULSE_HAVE_LOADGEN
#include "loadgen/run_load.h"
#endif

namespace {

std::string binary_dir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : exe.parent_path().string();
}

int print_version() {
  std::cout << "tgpulse " << TGPULSE_VERSION << "\n"
            << "git commit: " << (std::string(TGPULSE_GIT_COMMIT).empty() ? "unknown" : TGPULSE_GIT_COMMIT) << "\n"
            << "TDLib library (default): " << (std::filesystem::path(binary_dir()) / "libtdsim.so").string()
            << " (set td.library / TGPULSE_TD_LIBRARY / --td-library to use libtdjson.so)\n";
  return 0;
}

int serve(const std::string& config_file, const std::vector<std::pair<std::string, std::string>>& flags) {
  tgpulse::app::ConfigSources sources;
  sources.file = config_file;
  sources.flags = flags;
  sources.binary_dir = binary_dir();
  auto config = tgpulse::app::load_config(sources);
  if (!config.ok()) {
    std::cerr << config.error().message << "\n";
    return 2;
  }
  tgpulse::app::Application app(std::move(*config));
  if (auto s = app.start(); !s) {
    std::cerr << "tgpulse: cannot start: " << s.error().message << "\n";
    app.stop();
    return s.error().code == tgpulse::Errc::invalid_argument ? 2 : 1;
  }
  std::cerr << "tgpulse serving on " << app.url() << "  (health " << app.url() << "/healthz, readiness "
            << app.url() << "/readyz, metrics " << app.url() << "/metrics; Ctrl-C stops)\n";
  if (!app.admin_url().empty()) {
    std::cerr << "tgpulse admin listener on " << app.admin_url() << "  (/healthz, /readyz, /metrics)\n";
  }
  app.wait_for_stop();
  // A second SIGINT/SIGTERM while shutting down means "now": exit at once, without the grace period.
  std::thread([] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig = 0;
    if (sigwait(&set, &sig) == 0) {
      std::fputs("tgpulse: second signal, exiting without waiting\n", stderr);
      std::_Exit(1);
    }
  }).detach();
  app.stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Before any thread exists, so every thread inherits the mask and signals are taken synchronously.
  tgpulse::app::block_termination_signals();

#ifdef TGPULSE_HAVE_LOADGEN
  if (argc >= 2 && std::string(argv[1]) == "load") return tgpulse::loadgen::run_load(argc - 1, argv + 1);
#endif

  CLI::App cli{"tgpulse keeps many Telegram user sessions alive for many tenants (QR login, throttled API calls,\n"
               "FloodWait handling, session cleanup) with Prometheus metrics, ECS logs and OpenTelemetry traces."};
  cli.require_subcommand(1);
  cli.footer("Run 'tgpulse serve --help' for the service's flags; every configuration key is in docs/configuration.md.");

  auto* serve_cmd = cli.add_subcommand("serve", "Run the service in the foreground (SIGINT/SIGTERM stop it gracefully)");
  std::string config_file;
  serve_cmd->add_option("--config", config_file, "YAML configuration file (file < TGPULSE_* environment < flags)");
  std::map<std::string, std::string> flag_values;
  std::vector<std::pair<std::string, CLI::Option*>> flag_options;
  std::string file_only;
  for (const auto& key : tgpulse::app::ConfigSchema::instance().keys()) {
    if (key.flag.empty()) {
      if (key.path.find('*') == std::string::npos) {
        file_only += "  " + key.path + (key.env.empty() ? "" : " (" + key.env + ")") + "\n";
      }
      continue;
    }
    std::string help = key.help + " [" + key.path + (key.env.empty() ? "" : ", " + key.env) + "]";
    flag_options.emplace_back(key.path, serve_cmd->add_option(key.flag, flag_values[key.path], help));
  }
  serve_cmd->footer("Keys without a flag (YAML file or environment):\n" + file_only +
                    "  throttle.<session|process|tenant>.methods.<method>.<rate|burst>\n"
                    "Traces are configured by the standard OTEL_* environment variables.");

  cli.add_subcommand("version", "Print the version, the git commit and the default TDLib library");

  // keys: the master key that encrypts the session keys at rest (docs/security-keys.md).
  auto* keys_cmd = cli.add_subcommand("keys", "Manage the master key that encrypts the stored session keys");
  keys_cmd->require_subcommand(1);
  auto* keys_generate_cmd = keys_cmd->add_subcommand("generate", "Print a fresh master key (base64 of 32 random bytes)");
  std::string keys_out;
  keys_generate_cmd->add_option("--out", keys_out, "write the key to this new file (mode 0600) instead of stdout");
  auto* keys_rotate_cmd = keys_cmd->add_subcommand(
      "rotate", "Re-encrypt every stored session key with a new master key, in one transaction. Offline: stop "
                "tgpulse first. The current key comes from the usual configuration (file < env < flags)");
  std::string rotate_config, rotate_data_dir, rotate_key_file, rotate_new_key_file;
  keys_rotate_cmd->add_option("--new-key-file", rotate_new_key_file, "file holding the new master key")->required();
  keys_rotate_cmd->add_option("--config", rotate_config, "the service's YAML configuration file");
  auto* rotate_data_dir_opt = keys_rotate_cmd->add_option("--data-dir", rotate_data_dir, "store.data_dir");
  auto* rotate_key_file_opt =
      keys_rotate_cmd->add_option("--master-key-file", rotate_key_file, "store.master_key_file: the current key");
#ifdef TGPULSE_HAVE_LOADGEN
  cli.add_subcommand("load", "Generate load against a running tgpulse (see 'tgpulse load --help')")->allow_extras();
#endif

  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return cli.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return cli.exit(e);
  } catch (const CLI::ParseError& e) {
    cli.exit(e);
    return 2;
  }

  if (cli.got_subcommand("version")) return print_version();
  if (keys_generate_cmd->parsed()) return tgpulse::app::keys_generate(keys_out);
  if (keys_rotate_cmd->parsed()) {
    tgpulse::app::ConfigSources sources;
    sources.file = rotate_config;
    sources.binary_dir = binary_dir();
    if (rotate_data_dir_opt->count() > 0) sources.flags.emplace_back("store.data_dir", rotate_data_dir);
    if (rotate_key_file_opt->count() > 0) sources.flags.emplace_back("store.master_key_file", rotate_key_file);
    return tgpulse::app::keys_rotate(sources, rotate_new_key_file);
  }
  if (cli.got_subcommand("serve")) {
    std::vector<std::pair<std::string, std::string>> flags;
    for (const auto& [path, option] : flag_options) {
      if (option->count() > 0) flags.emplace_back(path, flag_values[path]);
    }
    return serve(config_file, flags);
  }
  std::cerr << cli.help();
  return 2;
}
