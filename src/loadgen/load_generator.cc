#include "loadgen/load_generator.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/task_group.h"
#include "loadgen/metrics_snapshot.h"
#include "loadgen/rate_pacer.h"

namespace tgpulse::loadgen {

namespace asio = boost::asio;
using nlohmann::json;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr milliseconds kPollInterval{100};
constexpr milliseconds kHttpTimeout{10000};

asio::awaitable<void> sleep_until(SteadyClock::time_point t) {
  asio::steady_timer timer(co_await asio::this_coro::executor, t);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<void> sleep_for(milliseconds d) { co_await sleep_until(SteadyClock::now() + d); }

json parse_or_null(const std::string& body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? json() : j;
}

std::string string_field(const json& j, const char* key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string random_hex(std::mt19937_64& rng) { return fmt::format("{:08x}", static_cast<std::uint32_t>(rng())); }

Error http_error(const std::string& what, const HttpReply& r) {
  return Error(Errc::unavailable, fmt::format("{}: HTTP {} {}", what, r.status, r.body.substr(0, 200)));
}

double seconds_since(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

}  // namespace

LoadGenerator::LoadGenerator(LoadOptions options, WeightedMix mix, HttpTransport& service, HttpTransport* control,
                             std::ostream* progress)
    : options_(std::move(options)),
      mix_(std::move(mix)),
      service_(service),
      control_(control),
      progress_(progress),
      rng_(options_.seed) {
  prefix_ = options_.tenant_prefix.empty() ? "load-" + random_hex(rng_) : options_.tenant_prefix;
}

std::string LoadGenerator::tenant_id(int index) const { return fmt::format("{}-{}", prefix_, index); }

asio::awaitable<Status> LoadGenerator::create_tenant(int index) {
  HttpCall call{"POST", "/v1/tenants", json{{"tenant_id", tenant_id(index)}}.dump(), options_.admin_token, {}};
  auto reply = co_await service_.request(call, kHttpTimeout);
  if (!reply.ok()) co_return std::move(reply).error();
  if (reply->status != 201) co_return http_error("creating tenant " + tenant_id(index), *reply);
  const std::string token = string_field(parse_or_null(reply->body), "token");
  if (token.empty()) co_return Error(Errc::unavailable, "tenant " + tenant_id(index) + " was created without a token");
  tenants_.emplace_back(tenant_id(index), token);
  co_return Status{};
}

asio::awaitable<Status> LoadGenerator::log_in(std::string tenant, std::string token) {
  // Calls are named locals, never temporaries inside a co_await expression: GCC 12 destroys such a
  // temporary twice.
  HttpCall create{"POST", "/v1/qr-logins", "{}", token, {}};
  auto created = co_await service_.request(create, kHttpTimeout);
  if (!created.ok()) co_return std::move(created).error();
  if (created->status != 201) co_return http_error("starting a QR login for " + tenant, *created);
  const json doc = parse_or_null(created->body);
  const std::string session_id = string_field(doc, "session_id");
  if (session_id.empty()) co_return Error(Errc::unavailable, "QR login answer without session_id");
  std::string link = string_field(doc, "link");
  std::string scanned;  // the link scanned last (the engine refreshes links; scan the new one)

  const auto give_up = SteadyClock::now() + options_.login_timeout;
  while (SteadyClock::now() < give_up) {
    if (!link.empty() && link != scanned) {
      HttpCall scan{"POST", "/scan", json{{"link", link}, {"outcome", "accept"}}.dump(), {}, {}};
      auto r = co_await control_->request(scan, kHttpTimeout);
      if (!r.ok()) co_return std::move(r).error();
      if (r->status / 100 == 2) scanned = link;
    }
    co_await sleep_for(kPollInterval);
    HttpCall poll{"GET", "/v1/qr-logins/" + session_id, {}, token, {}};
    auto state = co_await service_.request(poll, kHttpTimeout);
    if (!state.ok()) co_return std::move(state).error();
    if (state->status != 200) co_return http_error("polling QR login " + session_id, *state);
    const json s = parse_or_null(state->body);
    const std::string status = string_field(s, "status");
    if (status == "authorized") {
      sessions_.push_back(LoadSession{tenant, token, session_id});
      co_return Status{};
    }
    if (status != "pending") {
      co_return Error(Errc::unavailable, "QR login " + session_id + " ended as \"" + status + "\"");
    }
    if (const std::string fresh = string_field(s, "link"); !fresh.empty()) link = fresh;
  }
  co_return Error(Errc::timeout, "QR login " + session_id + " was not authorized in time");
}

asio::awaitable<Status> LoadGenerator::set_up() {
  if (control_ == nullptr) co_return Status(Errc::invalid_argument, "logging sessions in needs tdsim's control URL");
  for (int t = 0; t < options_.tenants; ++t) {
    if (Status s = co_await create_tenant(t); !s) co_return s;
  }
  // All logins at once: each waits mostly for the engine and the simulated phone. Each is bounded by
  // login_timeout; the group is joined before this frame (holding first_error) goes.
  auto executor = co_await asio::this_coro::executor;
  auto first_error = std::make_shared<Status>();
  TaskGroup logins("load_logins");
  for (const auto& [tenant, token] : tenants_) {
    for (int m = 0; m < options_.sessions_per_tenant; ++m) {
      logins.spawn(executor, "log_in", [this, first_error, tenant = tenant, token = token](TaskGroup::Stop) -> asio::awaitable<void> {  // lint: joined-owner
        Status s = co_await log_in(tenant, token);
        if (!s && first_error->ok()) *first_error = s;
      });
    }
  }
  const auto bound = options_.login_timeout + 2 * kHttpTimeout;
  std::vector<std::string> left = co_await logins.join(bound);
  if (!left.empty()) co_return Error(Errc::timeout, std::to_string(left.size()) + " QR logins did not finish");
  co_return *first_error;
}

asio::awaitable<std::optional<std::string>> LoadGenerator::scrape() {
  if (options_.metrics_path.empty()) co_return std::nullopt;
  HttpCall call{"GET", options_.metrics_path, {}, {}, "text/plain"};
  auto r = co_await service_.request(call, kHttpTimeout);
  if (!r.ok() || r->status != 200) co_return std::nullopt;
  co_return std::move(r->body);
}

asio::awaitable<void> LoadGenerator::send_one(LoadSession session, MixEntry entry) {
  Counts& counts = counts_;
  const std::string target = fmt::format("/v1/sessions/{}/invoke?deadline_ms={}&flood={}", session.session_id,
                                         options_.deadline.count(), options_.flood);
  const auto started = SteadyClock::now();
  HttpCall call{"POST", target, entry.function.dump(), session.tenant_token, {}};
  auto reply = co_await service_.request(call, options_.deadline + kHttpTimeout);
  --counts.in_flight;
  if (!reply.ok()) {
    ++counts.transport_errors;
    co_return;
  }
  ++counts.answered;
  latency_.add(seconds_since(started));
  if (reply->status == 200) {
    ++counts.ok;
  } else if (reply->status == 429) {
    const json body = parse_or_null(reply->body);
    const std::string code = body.is_object() && body.contains("error") ? string_field(body["error"], "code") : "";
    ++(code == "flood_wait" ? counts.flood_wait : code == "throttled" ? counts.throttled : counts.errors);
  } else {
    ++counts.errors;
  }
}

asio::awaitable<Result<LoadReport>> LoadGenerator::run() {
  if (sessions_.empty()) co_return Error(Errc::invalid_argument, "no sessions to send load to");
  if (!(options_.rate > 0)) co_return Error(Errc::invalid_argument, "--rate must be positive");
  if (options_.count == 0 && options_.duration <= milliseconds::zero()) {
    co_return Error(Errc::invalid_argument, "give --count or --duration");
  }
  auto executor = co_await asio::this_coro::executor;
  const std::optional<std::string> before_text = co_await scrape();

  counts_ = Counts{};
  Counts& counts = counts_;
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const auto start = SteadyClock::now();
  const RatePacer pacer(options_.rate, start, options_.count, options_.duration);
  TaskGroup senders("load_senders");
  auto next_progress = start + std::chrono::seconds(1);
  auto print_progress = [&](bool final_line) {
    if (progress_ == nullptr || !options_.progress) return;
    *progress_ << fmt::format("\r{:7.1f}s  sent {}  ok {}  flood_wait {}  throttled {}  errors {}  in flight {}  "
                              "p50 {:.1f} ms  p99 {:.1f} ms   ",
                              seconds_since(start), counts.sent, counts.ok, counts.flood_wait, counts.throttled,
                              counts.errors + counts.transport_errors, counts.in_flight,
                              latency_.quantile(0.5) * 1000, latency_.quantile(0.99) * 1000)
               << (final_line ? "\n" : "") << std::flush;
  };

  for (std::uint64_t i = 0; pacer.includes(i); ++i) {
    const auto due = pacer.due(i);
    if (due > SteadyClock::now()) co_await sleep_until(due);
    ++counts.sent;  // counted here, not in send_one: the spawned coroutine starts later
    ++counts.in_flight;
    // The generator outlives its senders: the io_context runs until each has its answer or timeout.
    senders.spawn(executor, "send_one", [this, session = sessions_[i % sessions_.size()],
                                         entry = mix_.pick(uniform(rng_))](TaskGroup::Stop) {  // lint: joined-owner
      return send_one(session, entry);
    });
    if (SteadyClock::now() >= next_progress) {
      print_progress(false);
      next_progress += std::chrono::seconds(1);
    }
  }
  // The last answers: each is bounded by its deadline plus the HTTP timeout.
  const auto give_up = SteadyClock::now() + options_.deadline + kHttpTimeout;
  while (counts.in_flight > 0 && SteadyClock::now() < give_up) {
    const auto wait = std::min<SteadyClock::duration>(next_progress - SteadyClock::now(), give_up - SteadyClock::now());
    (void)co_await senders.join(std::max<SteadyClock::duration>(wait, milliseconds(1)));
    if (SteadyClock::now() >= next_progress) {
      print_progress(false);
      next_progress += std::chrono::seconds(1);
    }
  }
  const double run_s = seconds_since(start);  // first request to last answer
  print_progress(true);
  const std::optional<std::string> after_text = co_await scrape();

  LoadReport report;
  report.duration_s = run_s;
  report.target_rate = options_.rate;
  report.sent = counts.sent;
  report.answered = counts.answered;
  report.ok = counts.ok;
  report.flood_wait = counts.flood_wait;
  report.throttled = counts.throttled;
  report.errors = counts.errors;
  report.transport_errors = counts.transport_errors + counts.in_flight;
  report.latency_s = Quantiles{latency_.quantile(0.5), latency_.quantile(0.9), latency_.quantile(0.99),
                               latency_.max(), latency_.mean()};
  if (before_text && after_text) {
    const auto before = MetricsSnapshot::parse(*before_text);
    const auto after = MetricsSnapshot::parse(*after_text);
    const std::string& ns = options_.metrics_namespace;
    ServiceFigures f;
    auto delta = [&](const std::string& name) { return after.sum(name) - before.sum(name); };
    f.requests_total = delta(ns + "_requests_total");
    f.floodwait_total = delta(ns + "_floodwait_total");
    f.rate_limit_hits_total = delta(ns + "_rate_limit_hits_total");
    const std::string delay = ns + "_throttling_delay_seconds";
    const auto b = before.buckets(delay);
    const auto a = after.buckets(delay);
    f.throttle_delay_s.p50 = MetricsSnapshot::histogram_quantile(0.5, b, a);
    f.throttle_delay_s.p90 = MetricsSnapshot::histogram_quantile(0.9, b, a);
    f.throttle_delay_s.p99 = MetricsSnapshot::histogram_quantile(0.99, b, a);
    report.service = f;
  }
  co_return report;
}

}  // namespace tgpulse::loadgen
