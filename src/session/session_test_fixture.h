// SessionTestFixture: the session layer wired to test doubles — FakeClock, MemorySessionStore,
// FakeEngine, a metrics Registry, a Logger and a Tracer writing to memory — with an io_context run on
// the test thread.
//
// Thread-safety: for one test thread (the logger's and tracer's own threads write to locked buffers).
#pragma once

#include <filesystem>
#include <future>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "session/fake_engine.h"
#include "session/session_manager.h"
#include "store/memory_session_store.h"
#include "store/tenant_tokens.h"
#include "telemetry/log_sink.h"
#include "telemetry/logger.h"
#include "telemetry/metrics.h"
#include "telemetry/span_exporter.h"
#include "telemetry/telethon_metrics.h"
#include "telemetry/tracer.h"

namespace tgpulse::session {

// Lines written by the logger, kept in memory.
class MemoryLogSink final : public telemetry::LogSink {
 public:
  explicit MemoryLogSink(std::shared_ptr<std::vector<std::string>> lines, std::shared_ptr<std::mutex> mu)
      : lines_(std::move(lines)), mu_(std::move(mu)) {}
  bool write(std::string_view text) override {
    std::lock_guard lock(*mu_);
    std::size_t start = 0;
    while (start < text.size()) {
      std::size_t end = text.find('\n', start);
      if (end == std::string_view::npos) end = text.size();
      lines_->emplace_back(text.substr(start, end - start));
      start = end + 1;
    }
    return true;
  }
  void flush() override {}

 private:
  std::shared_ptr<std::vector<std::string>> lines_;
  std::shared_ptr<std::mutex> mu_;
};

// Finished spans, kept in memory.
class MemorySpanExporter final : public telemetry::SpanExporter {
 public:
  MemorySpanExporter(std::shared_ptr<std::vector<telemetry::SpanData>> spans, std::shared_ptr<std::mutex> mu)
      : spans_(std::move(spans)), mu_(std::move(mu)) {}
  telemetry::ExportResult export_batch(const std::vector<std::unique_ptr<telemetry::SpanData>>& batch,
                                       std::chrono::steady_clock::time_point) override {
    std::lock_guard lock(*mu_);
    for (const auto& s : batch) spans_->push_back(*s);
    return telemetry::ExportResult::success;
  }

 private:
  std::shared_ptr<std::vector<telemetry::SpanData>> spans_;
  std::shared_ptr<std::mutex> mu_;
};

class SessionTestFixture : public ::testing::Test {
 protected:
  SessionTestFixture()
      : data_dir_(make_data_dir()),
        store_(clock_),
        metrics_(registry_),
        phone_metrics_(registry_),
        logger_(telemetry::LoggerOptions{}, std::make_unique<MemoryLogSink>(log_lines_, log_mu_)),
        tracer_(telemetry::TracerOptions{}, std::make_unique<MemorySpanExporter>(spans_, span_mu_)) {
    EXPECT_TRUE(store_.create_tenant({"acme", store::TenantTokens::hash_token("tgp_acme"), 0}).ok());
    EXPECT_TRUE(store_.create_tenant({"other", store::TenantTokens::hash_token("tgp_other"), 0}).ok());
  }
  ~SessionTestFixture() override {
    if (manager_) run(manager_->stop());
    std::error_code ec;
    std::filesystem::remove_all(data_dir_, ec);
  }

  static std::string make_data_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tgpulse-session-XXXXXX").string();
    char* made = ::mkdtemp(tmpl.data());
    return made ? std::string(made) : std::string();
  }

  SessionOptions options() const {
    SessionOptions o;
    o.data_dir = data_dir_;
    o.qr_timeout = std::chrono::seconds(120);
    o.wake_interval = std::chrono::milliseconds(5);
    o.close_timeout = std::chrono::seconds(10);
    return o;
  }

  // An authorized session record of tenant "acme", as a previous process left it.
  store::SessionRecord stored_authorized(const std::string& id) {
    store::SessionRecord r;
    r.session_id = id;
    r.tenant_id = "acme";
    r.engine_dir = data_dir_ + "/sessions/" + r.session_id;
    r.db_key = "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=";
    r.page_key_hash = store::TenantTokens::hash_token("page");
    EXPECT_TRUE(store_.create_session(r).ok());
    EXPECT_TRUE(store_.update_state(r.session_id, {store::SessionState::authorized}).ok());
    return r;
  }

  SessionManager& manager(SessionOptions o) {
    manager_ = std::make_unique<SessionManager>(io_.get_executor(),
                                                SessionServices{clock_, store_, engine_, metrics_, logger_, tracer_, o,
                                                                {}, nullptr, nullptr, &phone_metrics_});
    return *manager_;
  }
  SessionManager& manager() { return manager(options()); }

  // Runs the io_context until `aw` completes; fails the test after 5 s of real time.
  template <typename T>
  static boost::asio::awaitable<void> store_into(boost::asio::awaitable<T> aw, std::optional<T>* out) {
    *out = co_await std::move(aw);
  }
  template <typename T>
  T run(boost::asio::awaitable<T> aw) {
    std::optional<T> out;
    boost::asio::co_spawn(io_, store_into(std::move(aw), &out), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
    run_until([&] { return out.has_value(); });
    if (!out) throw std::runtime_error("awaitable did not complete");
    return std::move(*out);
  }
  void run(boost::asio::awaitable<void> aw) {
    bool done = false;
    boost::asio::co_spawn(io_, std::move(aw), [&](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
      done = true;
    });
    run_until([&] { return done; });
  }
  template <typename Pred>
  bool run_until(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    const auto until = std::chrono::steady_clock::now() + limit;
    if (io_.stopped()) io_.restart();
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= until) return false;
      io_.run_one_for(std::chrono::milliseconds(5));
      if (io_.stopped()) io_.restart();
    }
    return true;
  }

  std::vector<nlohmann::json> log_lines(std::string_view message) {
    logger_.flush();
    std::lock_guard lock(*log_mu_);
    std::vector<nlohmann::json> out;
    for (const auto& l : *log_lines_) {
      auto j = nlohmann::json::parse(l, nullptr, false);
      if (!j.is_discarded() && j.value("message", "") == message) out.push_back(j);
    }
    return out;
  }
  std::string all_logs() {
    logger_.flush();
    std::lock_guard lock(*log_mu_);
    std::string out;
    for (const auto& l : *log_lines_) out += l + "\n";
    return out;
  }
  std::vector<telemetry::SpanData> spans() {
    tracer_.force_flush(std::chrono::seconds(2));
    std::lock_guard lock(*span_mu_);
    return *spans_;
  }
  static std::string attr(const telemetry::SpanData& s, std::string_view key) {
    for (const auto& a : s.attributes) {
      if (a.key == key) {
        if (auto* v = std::get_if<std::string>(&a.value)) return *v;
        return "<non-string>";
      }
    }
    return "<missing>";
  }
  static const telemetry::SpanData* find_span(const std::vector<telemetry::SpanData>& all, std::string_view name) {
    for (const auto& s : all) {
      if (s.name == name) return &s;
    }
    return nullptr;
  }

  std::string data_dir_;
  boost::asio::io_context io_;
  FakeClock clock_;
  store::MemorySessionStore store_;
  FakeEngine engine_;
  telemetry::Registry registry_;
  telemetry::TelethonMetrics metrics_;
  telemetry::PhoneLoginMetrics phone_metrics_;
  std::shared_ptr<std::vector<std::string>> log_lines_ = std::make_shared<std::vector<std::string>>();
  std::shared_ptr<std::mutex> log_mu_ = std::make_shared<std::mutex>();
  std::shared_ptr<std::vector<telemetry::SpanData>> spans_ = std::make_shared<std::vector<telemetry::SpanData>>();
  std::shared_ptr<std::mutex> span_mu_ = std::make_shared<std::mutex>();
  telemetry::Logger logger_;
  telemetry::Tracer tracer_;
  std::unique_ptr<SessionManager> manager_;
};

}  // namespace tgpulse::session
