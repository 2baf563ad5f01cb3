// OtlpHttpExporter: the real SpanExporter. POSTs each batch as OTLP/HTTP with the JSON encoding
// (Content-Type: application/json) to a traces URL, with libcurl.
//
// Retries follow the OTLP/HTTP spec: only 429, 502, 503 and 504 are retried, after the server's
// Retry-After (seconds or an HTTP date) when it sends one, otherwise after an exponential backoff with
// +-50% jitter; all attempts together stay inside the deadline given to export_batch() and the
// options' timeout. Any other status, a connection failure or running out of time fails the batch
// (the batch processor counts its spans as dropped) and records the reason in last_error(). Header
// values (they may carry credentials) never appear in errors.
//
// Thread-safety: export_batch() from one thread at a time (the batch processor's); cancel() and
// last_error() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "telemetry/otlp_json_encoder.h"
#include "telemetry/span_exporter.h"

namespace tgpulse::telemetry {

struct OtlpHttpExporterOptions {
  std::string endpoint;  // full URL, e.g. http://127.0.0.1:4318/v1/traces (required)
  std::vector<std::pair<std::string, std::string>> headers;  // extra request headers (e.g. auth)
  // Longest time one batch may take, all attempts included (OTLP default 10 s).
  std::chrono::milliseconds timeout{10000};
  // Backoff without Retry-After: first wait, multiplied by 1.5 per attempt up to max_backoff.
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{5000};
};

class OtlpHttpExporter final : public SpanExporter {
 public:
  OtlpHttpExporter(OtlpHttpExporterOptions options, OtlpJsonEncoder encoder);
  ~OtlpHttpExporter() override;
  OtlpHttpExporter(const OtlpHttpExporter&) = delete;
  OtlpHttpExporter& operator=(const OtlpHttpExporter&) = delete;

  ExportResult export_batch(const std::vector<std::unique_ptr<SpanData>>& spans,
                            std::chrono::steady_clock::time_point deadline) override;
  void cancel() noexcept override;
  std::string last_error() const override;

  // Requests sent, retries included (for tests and debugging).
  std::uint64_t attempts() const noexcept { return attempts_.load(std::memory_order_relaxed); }

 private:
  struct Response {
    long status = 0;                // 0: no HTTP response (connection failure, timeout)
    std::string transport_error;    // libcurl's message when status == 0
    std::chrono::milliseconds retry_after{-1};  // -1: no usable Retry-After
  };
  Response post(const std::string& body, std::chrono::milliseconds timeout);
  // Sleeps up to `d`; false if cancel() interrupted it.
  bool sleep_for(std::chrono::milliseconds d);
  void set_error(std::string message);

  const OtlpHttpExporterOptions options_;
  const OtlpJsonEncoder encoder_;
  void* curl_ = nullptr;             // CURL*, reused for keep-alive; export thread only
  void* header_list_ = nullptr;      // curl_slist*
  std::atomic<std::uint64_t> attempts_{0};
  std::atomic<bool> cancel_requested_{false};  // read by libcurl's progress callback
  std::string endpoint_for_errors_;            // endpoint without user:password@

  mutable std::mutex mu_;
  std::condition_variable cancel_cv_;
  bool cancelled_ = false;  // guarded by mu_
  std::string last_error_;  // guarded by mu_
};

}  // namespace tgpulse::telemetry
