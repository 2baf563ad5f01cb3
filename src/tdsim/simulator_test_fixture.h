// SimulatorTest: the fixture of tdsim's unit tests — a Simulator with a quick profile, a database
// directory of its own, and helpers that send requests and wait (bounded) for answers and states.
// Header-only; included by each tdsim test file.
#pragma once

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tdsim/simulator.h"

namespace tgpulse::tdsim::test {

using nlohmann::json;
namespace fs = std::filesystem;

inline std::mutex g_log_mutex;
inline std::vector<std::pair<int, std::string>> g_log_lines;
inline void capture_log(int verbosity, const char* message) {
  std::lock_guard lock(g_log_mutex);
  g_log_lines.emplace_back(verbosity, message);
}

// A quick profile: no latency, so tests wait only for what they test.
inline Profile fast_profile() {
  auto p = Profile::apply(Profile::defaults(), json{{"latency_ms", {{"min", 0}, {"max", 0}}},
                                                    {"auth_latency_ms", {{"min", 0}, {"max", 0}}}});
  return p.value();
}

class SimulatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("tgpulse-tdsim-" + std::to_string(::getpid()) + "-" + std::to_string(n_++));
    std::lock_guard lock(g_log_mutex);
    g_log_lines.clear();
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void make(Profile p = fast_profile()) {
    sim_ = std::make_unique<Simulator>(std::move(p));
    sim_->set_log_message_callback(2, &capture_log);
  }
  void send(int c, const json& r) { sim_->send(c, r.dump()); }
  // Receives until `pred` matches (bounded).
  template <typename Pred>
  json until(Pred pred, double seconds = 5) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      const char* line = sim_->receive(0.05);
      if (line == nullptr) continue;
      json d = json::parse(line);
      received_.push_back(d);
      if (pred(d)) return d;
    }
    ADD_FAILURE() << "timed out; received " << json(received_).dump();
    return json();
  }
  json answer(const std::string& extra, double seconds = 5) {
    return until([&](const json& d) { return d.value("@extra", json()) == extra; }, seconds);
  }
  json state(const std::string& type, double seconds = 5) {
    return until([&](const json& d) {
      return d.value("@type", "") == "updateAuthorizationState" && d["authorization_state"]["@type"] == type;
    }, seconds)["authorization_state"];
  }
  json params(const std::string& extra = "p") {
    return {{"@type", "setTdlibParameters"}, {"database_directory", dir_.string()}, {"api_id", 1},
            {"api_hash", "abc"}, {"@extra", extra}};
  }
  // A client in WaitOtherDeviceConfirmation; returns {client id, link}.
  std::pair<int, std::string> qr_client() {
    int c = sim_->create_client_id();
    send(c, params());
    state("authorizationStateWaitPhoneNumber");
    send(c, {{"@type", "requestQrCodeAuthentication"}, {"@extra", "qr"}});
    auto s = state("authorizationStateWaitOtherDeviceConfirmation");
    EXPECT_EQ(answer("qr")["@type"], "ok");
    return {c, s["link"].get<std::string>()};
  }
  int ready_client() {
    auto [c, link] = qr_client();
    EXPECT_TRUE(sim_->scan(link, "accept", "").ok());
    state("authorizationStateReady");
    return c;
  }
  std::vector<std::string> logs() {
    std::lock_guard lock(g_log_mutex);
    std::vector<std::string> out;
    for (auto& [v, m] : g_log_lines) out.push_back(m);
    return out;
  }

  std::unique_ptr<Simulator> sim_;
  std::vector<json> received_;
  fs::path dir_;
  static inline int n_ = 0;
};

}  // namespace tgpulse::tdsim::test
