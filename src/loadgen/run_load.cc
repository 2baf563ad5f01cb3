#include "core/task_group.h"
#include "loadgen/run_load.h"

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>

#include "loadgen/beast_http_transport.h"
#include "loadgen/load_generator.h"

namespace tgpulse::loadgen {

namespace asio = boost::asio;

namespace {

std::string env_or(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

}  // namespace

int run_load(int argc, char** argv) {
  CLI::App app{"Drives a running tgpulse with a weighted mix of TDLib calls and reports goodput, latency, "
               "FloodWait ratio and throttle delays",
               "load"};
  LoadOptions o;
  std::string url = "http://127.0.0.1:8080";
  std::string control = env_or("TDSIM_CONTROL_ADDR", "");
  o.admin_token = env_or("TGPULSE_ADMIN_TOKEN", "");
  double duration_s = 10;
  int deadline_ms = 5000;
  int login_timeout_s = 60;
  std::size_t connections = 256;
  std::string json_path;
  bool quiet = false;
  app.add_option("--url", url, "tgpulse base URL")->capture_default_str();
  app.add_option("--control", control, "tdsim control URL or host:port (TDSIM_CONTROL_ADDR)");
  app.add_option("--admin-token", o.admin_token, "admin bearer token (TGPULSE_ADMIN_TOKEN)");
  app.add_option("--tenants", o.tenants, "tenants to create")->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_option("--sessions", o.sessions_per_tenant, "QR-logged-in sessions per tenant")
      ->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_option("--tenant-prefix", o.tenant_prefix, "tenant ids are <prefix>-<n> (default load-<random>)");
  app.add_option("--mix", o.mix, "weighted methods, e.g. getMe=5,getChats=3,sendMessage=1")->capture_default_str();
  app.add_option("--rate", o.rate, "requests per second offered")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--duration", duration_s, "seconds of load (0: until --count)")->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--count", o.count, "requests to send (0: until --duration)")->capture_default_str();
  app.add_option("--deadline-ms", deadline_ms, "deadline of each invoke")->capture_default_str()
      ->check(CLI::Range(1, 3600000));
  app.add_option("--flood", o.flood, "flood waits: wait or fail")->capture_default_str()
      ->check(CLI::IsMember({"wait", "fail"}));
  app.add_option("--connections", connections, "HTTP connections to the service at most")->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--login-timeout", login_timeout_s, "seconds for all QR logins")->capture_default_str();
  app.add_option("--metrics-path", o.metrics_path, "scraped before and after (\"\" = skip)")->capture_default_str();
  app.add_option("--namespace", o.metrics_namespace, "metric namespace of the service")->capture_default_str();
  app.add_option("--seed", o.seed, "seed of the method choice")->capture_default_str();
  app.add_option("--json", json_path, "also write the report as JSON to this file");
  app.add_flag("--quiet", quiet, "no live progress line");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  o.duration = std::chrono::milliseconds(static_cast<long long>(duration_s * 1000));
  o.deadline = std::chrono::milliseconds(deadline_ms);
  o.login_timeout = std::chrono::seconds(login_timeout_s);
  o.progress = !quiet;
  if (o.count == 0 && o.duration.count() == 0) {
    std::cerr << "load: give --duration or --count\n";
    return 2;
  }

  auto mix = WeightedMix::parse(o.mix);
  if (!mix.ok()) {
    std::cerr << "load: " << mix.error().message << "\n";
    return 2;
  }
  auto service_url = HttpUrl::parse(url);
  if (!service_url.ok()) {
    std::cerr << "load: --url: " << service_url.error().message << "\n";
    return 2;
  }
  if (!control.empty() && control.find("://") == std::string::npos) control = "http://" + control;
  if (control.empty()) {
    std::cerr << "load: --control (tdsim's control URL) is needed to log sessions in\n";
    return 2;
  }
  auto control_url = HttpUrl::parse(control);
  if (!control_url.ok()) {
    std::cerr << "load: --control: " << control_url.error().message << "\n";
    return 2;
  }
  if (o.admin_token.empty()) {
    std::cerr << "load: --admin-token (or TGPULSE_ADMIN_TOKEN) is needed to create tenants\n";
    return 2;
  }

  asio::io_context io;
  BeastHttpTransport service(io.get_executor(), *service_url, connections);
  BeastHttpTransport control_transport(io.get_executor(), *control_url, 16);
  LoadGenerator gen(o, std::move(*mix), service, &control_transport, &std::cerr);
  int exit_code = 1;
  // One task; io.run() returns once it (and every sender it started) has ended.
  TaskGroup tasks("load");
  tasks.spawn(io.get_executor(), "load_run", [&](TaskGroup::Stop) -> asio::awaitable<void> {
    std::cerr << "load: logging in " << o.tenants * o.sessions_per_tenant << " sessions\n";
    if (Status s = co_await gen.set_up(); !s) {
      std::cerr << "load: set-up failed: " << s.error().to_string() << "\n";
      co_return;
    }
    auto report = co_await gen.run();
    if (!report.ok()) {
      std::cerr << "load: " << report.error().to_string() << "\n";
      co_return;
    }
    std::cout << report->to_text() << std::flush;
    if (!json_path.empty()) {
      std::ofstream out(json_path);
      out << report->to_json().dump(2) << "\n";
      if (!out) {
        std::cerr << "load: cannot write " << json_path << "\n";
        co_return;
      }
    }
    exit_code = 0;
  });
  io.run();
  return exit_code;
}

}  // namespace tgpulse::loadgen
