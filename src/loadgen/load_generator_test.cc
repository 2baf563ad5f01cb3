#include "loadgen/load_generator.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>

namespace tgpulse::loadgen {
namespace {

namespace asio = boost::asio;
using nlohmann::json;
using namespace std::chrono_literals;

// Answers from a function and remembers every call.
class FakeTransport final : public HttpTransport {
 public:
  using Handler = std::function<HttpReply(const HttpCall&)>;
  explicit FakeTransport(Handler h) : handler_(std::move(h)) {}
  asio::awaitable<Result<HttpReply>> request(HttpCall call, std::chrono::milliseconds) override {
    calls.push_back(call);
    co_return handler_(call);
  }
  std::vector<HttpCall> calls;

 private:
  Handler handler_;
};

template <typename T>
T run_on_io(std::function<asio::awaitable<T>()> body) {
  asio::io_context io;
  std::optional<T> out;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { out.emplace(co_await body()); }, asio::detached);
  io.run();
  return std::move(*out);
}

// A service where every QR login is authorized once its link was scanned.
struct FakeService {
  std::map<std::string, std::string> link_of_session;
  std::set<std::string> scanned_links;
  int logins = 0;
  std::vector<HttpReply> invoke_answers;  // cycled
  std::size_t invokes = 0;
  std::vector<std::string> metrics_pages;  // served in turn
  std::size_t scrapes = 0;

  HttpReply service(const HttpCall& c) {
    if (c.method == "POST" && c.target == "/v1/tenants") {
      if (c.bearer != "admin") return {401, "{}", ""};
      const auto id = json::parse(c.body)["tenant_id"].get<std::string>();
      return {201, json{{"tenant_id", id}, {"token", "tok-" + id}}.dump(), ""};
    }
    if (c.method == "POST" && c.target == "/v1/qr-logins") {
      const std::string id = "s" + std::to_string(++logins);
      link_of_session[id] = "tg://login?token=" + id;
      return {201, json{{"session_id", id}, {"status", "pending"}, {"link", link_of_session[id]}}.dump(), ""};
    }
    if (c.method == "GET" && c.target.starts_with("/v1/qr-logins/")) {
      const std::string id = c.target.substr(std::string("/v1/qr-logins/").size());
      const bool done = scanned_links.count(link_of_session[id]) > 0;
      return {200, json{{"status", done ? "authorized" : "pending"}, {"link", link_of_session[id]}}.dump(), ""};
    }
    if (c.method == "POST" && c.target.find("/invoke?") != std::string::npos) {
      return invoke_answers[invokes++ % invoke_answers.size()];
    }
    if (c.method == "GET" && c.target == "/metrics") {
      return {200, metrics_pages[std::min(scrapes++, metrics_pages.size() - 1)], ""};
    }
    return {404, "{}", ""};
  }
  HttpReply control(const HttpCall& c) {
    if (c.target != "/scan") return {404, "{}", ""};
    const json body = json::parse(c.body);
    if (body["outcome"] != "accept") return {400, "{}", ""};
    scanned_links.insert(body["link"].get<std::string>());
    return {200, "{}", ""};
  }
};

LoadOptions options() {
  LoadOptions o;
  o.tenants = 2;
  o.sessions_per_tenant = 3;
  o.tenant_prefix = "t";
  o.admin_token = "admin";
  o.rate = 2000;
  o.count = 40;
  o.duration = 0ms;
  o.deadline = 1000ms;
  o.progress = false;
  o.login_timeout = 5000ms;
  return o;
}

TEST(LoadGenerator, SetUpCreatesTenantsAndScansEveryQrLogin) {
  FakeService fake;
  FakeTransport service([&](const HttpCall& c) { return fake.service(c); });
  FakeTransport control([&](const HttpCall& c) { return fake.control(c); });
  LoadGenerator gen(options(), *WeightedMix::parse("getMe"), service, &control, nullptr);
  Status s = run_on_io<Status>([&] { return gen.set_up(); });
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  ASSERT_EQ(gen.sessions().size(), 6u);
  EXPECT_EQ(fake.scanned_links.size(), 6u);
  int of_t1 = 0;
  for (const auto& session : gen.sessions()) {
    EXPECT_EQ(session.tenant_token, "tok-" + session.tenant_id);
    of_t1 += session.tenant_id == "t-1";
  }
  EXPECT_EQ(of_t1, 3);
}

TEST(LoadGenerator, SetUpFailsClearlyWithoutAdminRights) {
  FakeService fake;
  FakeTransport service([&](const HttpCall& c) { return fake.service(c); });
  FakeTransport control([&](const HttpCall& c) { return fake.control(c); });
  LoadOptions o = options();
  o.admin_token = "wrong";
  LoadGenerator gen(o, *WeightedMix::parse("getMe"), service, &control, nullptr);
  Status s = run_on_io<Status>([&] { return gen.set_up(); });
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("HTTP 401"), std::string::npos) << s.error().message;
}

TEST(LoadGenerator, RunSendsTheCountToEverySessionAndClassifiesAnswers) {
  FakeService fake;
  fake.invoke_answers = {
      {200, R"({"@type":"user"})", ""},
      {429, R"({"error":{"code":"flood_wait","message":"m","method":"getMe","retry_after":30}})", "30"},
      {429, R"({"error":{"code":"throttled","message":"m","retry_after":1}})", "1"},
      {500, R"({"error":{"code":"internal"}})", ""},
  };
  fake.metrics_pages = {
      "telethon_requests_total{method=\"getMe\",status=\"success\"} 5\n"
      "telethon_floodwait_total{reason=\"getMe\",seconds=\"30\"} 0\n",
      "telethon_requests_total{method=\"getMe\",status=\"success\"} 25\n"
      "telethon_floodwait_total{reason=\"getMe\",seconds=\"30\"} 10\n"
      "telethon_throttling_delay_seconds_bucket{le=\"0.5\"} 20\n"
      "telethon_throttling_delay_seconds_bucket{le=\"+Inf\"} 20\n"};
  FakeTransport service([&](const HttpCall& c) { return fake.service(c); });
  LoadGenerator gen(options(), *WeightedMix::parse("getMe=1,getChats=1"), service, nullptr, nullptr);
  for (int i = 0; i < 4; ++i) gen.add_session(LoadSession{"t", "tok", "sess" + std::to_string(i)});

  auto report = run_on_io<Result<LoadReport>>([&] { return gen.run(); });
  ASSERT_TRUE(report.ok()) << report.error().to_string();
  EXPECT_EQ(report->sent, 40u);
  EXPECT_EQ(report->answered, 40u);
  EXPECT_EQ(report->ok, 10u);
  EXPECT_EQ(report->flood_wait, 10u);
  EXPECT_EQ(report->throttled, 10u);
  EXPECT_EQ(report->errors, 10u);
  ASSERT_TRUE(report->service.has_value());
  EXPECT_EQ(report->service->requests_total, 20);
  EXPECT_DOUBLE_EQ(report->service->floodwait_ratio(), 0.5);
  EXPECT_GT(report->service->throttle_delay_s.p50, 0);

  std::map<std::string, int> per_session;
  std::map<std::string, int> per_method;
  for (const HttpCall& c : service.calls) {
    if (c.target.find("/invoke") == std::string::npos) continue;
    EXPECT_NE(c.target.find("?deadline_ms=1000&flood=wait"), std::string::npos) << c.target;
    EXPECT_EQ(c.bearer, "tok");
    ++per_session[c.target.substr(0, c.target.find('?'))];
    ++per_method[json::parse(c.body)["@type"].get<std::string>()];
  }
  EXPECT_EQ(per_session.size(), 4u);
  for (const auto& [target, n] : per_session) EXPECT_EQ(n, 10) << target;  // round-robin
  EXPECT_EQ(per_method["getMe"] + per_method["getChats"], 40);
  EXPECT_GT(per_method["getMe"], 5);
  EXPECT_GT(per_method["getChats"], 5);
}

TEST(LoadGenerator, RunWithoutSessionsOrLimitsIsRefused) {
  FakeService fake;
  FakeTransport service([&](const HttpCall& c) { return fake.service(c); });
  LoadGenerator gen(options(), *WeightedMix::parse("getMe"), service, nullptr, nullptr);
  auto report = run_on_io<Result<LoadReport>>([&] { return gen.run(); });
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().code, Errc::invalid_argument);
}

}  // namespace
}  // namespace tgpulse::loadgen
