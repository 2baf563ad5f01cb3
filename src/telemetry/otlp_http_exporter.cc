#include "telemetry/otlp_http_exporter.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <mutex>
#include <random>

namespace tgpulse::telemetry {
namespace {

CURL* as_curl(void* p) { return static_cast<CURL*>(p); }

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool retryable(long status) { return status == 429 || status == 502 || status == 503 || status == 504; }

std::size_t discard_body(char*, std::size_t size, std::size_t n, void*) { return size * n; }

// Retry-After: delta-seconds or an HTTP-date (RFC 9110 §10.2.3).
std::chrono::milliseconds parse_retry_after(std::string_view value) {
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front()))) value.remove_prefix(1);
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.remove_suffix(1);
  if (value.empty()) return std::chrono::milliseconds(-1);
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (value.size() > 9) return std::chrono::hours(24 * 365);  // absurdly long: beyond any deadline
    return std::chrono::seconds(std::stol(std::string(value)));
  }
  std::time_t when = curl_getdate(std::string(value).c_str(), nullptr);
  if (when < 0) return std::chrono::milliseconds(-1);
  std::time_t now = std::time(nullptr);
  return std::chrono::seconds(std::max<std::time_t>(0, when - now));
}

struct HeaderCapture {
  std::chrono::milliseconds retry_after{-1};
};

std::size_t capture_header(char* data, std::size_t size, std::size_t n, void* user) {
  std::string_view line(data, size * n);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size()) {
    bool match = true;
    for (std::size_t i = 0; i < kName.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(line[i])) != kName[i]) {
        match = false;
        break;
      }
    }
    if (match) static_cast<HeaderCapture*>(user)->retry_after = parse_retry_after(line.substr(kName.size()));
  }
  return size * n;
}

// Called by libcurl during a transfer; non-zero aborts it.
int abort_if_cancelled(void* flag, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<std::atomic<bool>*>(flag)->load() ? 1 : 0;
}

std::string without_userinfo(const std::string& url) {
  std::size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  std::size_t host_end = url.find_first_of("/?#", scheme + 3);
  std::size_t at = url.rfind('@', host_end);
  if (at == std::string::npos || at < scheme) return url;
  return url.substr(0, scheme + 3) + url.substr(at + 1);
}

std::chrono::milliseconds jittered(std::chrono::milliseconds base) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> factor(0.5, 1.5);
  return std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(base.count()) * factor(rng)));
}

}  // namespace

OtlpHttpExporter::OtlpHttpExporter(OtlpHttpExporterOptions options, OtlpJsonEncoder encoder)
    : options_(std::move(options)), encoder_(std::move(encoder)), endpoint_for_errors_(without_userinfo(options_.endpoint)) {
  global_init_once();
  curl_ = curl_easy_init();
  curl_slist* list = curl_slist_append(nullptr, "Content-Type: application/json");
  list = curl_slist_append(list, "Expect:");  // no 100-continue round trip for large bodies
  for (const auto& [name, value] : options_.headers) {
    list = curl_slist_append(list, (name + ": " + value).c_str());
  }
  header_list_ = list;
}

OtlpHttpExporter::~OtlpHttpExporter() {
  curl_slist_free_all(static_cast<curl_slist*>(header_list_));
  if (curl_ != nullptr) curl_easy_cleanup(as_curl(curl_));
}

OtlpHttpExporter::Response OtlpHttpExporter::post(const std::string& body, std::chrono::milliseconds timeout) {
  Response response;
  CURL* curl = as_curl(curl_);
  if (curl == nullptr) {
    response.transport_error = "libcurl could not be initialised";
    return response;
  }
  HeaderCapture headers;
  char error_buffer[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, options_.endpoint.c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(header_list_));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<std::int64_t>(1, timeout.count())));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::max<std::int64_t>(1, std::min<std::int64_t>(timeout.count(), 5000))));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &discard_body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &capture_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &headers);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &abort_if_cancelled);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &cancel_requested_);
  attempts_.fetch_add(1, std::memory_order_relaxed);
  CURLcode rc = curl_easy_perform(curl);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  if (rc != CURLE_OK) {
    response.transport_error = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(rc);
    return response;
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  response.retry_after = headers.retry_after;
  return response;
}

ExportResult OtlpHttpExporter::export_batch(const std::vector<std::unique_ptr<SpanData>>& spans,
                                            std::chrono::steady_clock::time_point deadline) {
  using SteadyClock = std::chrono::steady_clock;
  using std::chrono::milliseconds;
  if (spans.empty()) return ExportResult::success;
  deadline = std::min(deadline, SteadyClock::now() + options_.timeout);
  const std::string body = encoder_.encode(spans);
  milliseconds backoff = options_.initial_backoff;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (cancelled_) {
        last_error_ = "export cancelled by shutdown";
        return ExportResult::failure;
      }
    }
    auto remaining = std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now());
    if (remaining <= milliseconds(0)) {
      set_error(fmt::format("export to {} timed out", endpoint_for_errors_));
      return ExportResult::failure;
    }
    Response response = post(body, remaining);
    if (response.status >= 200 && response.status < 300) return ExportResult::success;
    if (response.status == 0) {
      set_error(fmt::format("export to {} failed: {}", endpoint_for_errors_, response.transport_error));
      return ExportResult::failure;
    }
    if (!retryable(response.status)) {
      set_error(fmt::format("export to {} refused with HTTP {}", endpoint_for_errors_, response.status));
      return ExportResult::failure;
    }
    milliseconds wait = response.retry_after >= milliseconds(0) ? response.retry_after : jittered(backoff);
    backoff = std::min(options_.max_backoff, milliseconds(backoff.count() * 3 / 2));
    if (SteadyClock::now() + wait >= deadline) {
      set_error(fmt::format("export to {} gave up: HTTP {} and the retry would pass the export timeout",
                            endpoint_for_errors_, response.status));
      return ExportResult::failure;
    }
    if (!sleep_for(wait)) {
      set_error("export cancelled by shutdown");
      return ExportResult::failure;
    }
  }
}

bool OtlpHttpExporter::sleep_for(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !cancel_cv_.wait_for(lock, d, [&] { return cancelled_; });
}

void OtlpHttpExporter::cancel() noexcept {
  {
    std::lock_guard lock(mu_);
    cancelled_ = true;
  }
  cancel_requested_.store(true);
  cancel_cv_.notify_all();
}

std::string OtlpHttpExporter::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

void OtlpHttpExporter::set_error(std::string message) {
  std::lock_guard lock(mu_);
  last_error_ = std::move(message);
}

}  // namespace tgpulse::telemetry
