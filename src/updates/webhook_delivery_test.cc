// WebhookDelivery on the in-memory log, a real hub and pool, io threads and a fake receiver (the Poster):
// every update arrives in order per session despite failures and 429s, duplicates only after a failed
// POST, one POST per session and at most max_connections per tenant at once, a hanging receiver of one
// tenant does not hold another's, max age gives up (counted, announced), a webhook makes long polling
// answer 409, DELETE and the tenant's deletion stop the delivery, and a new WebhookDelivery resumes
// stored webhooks.
#include "updates/webhook_delivery.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <random>
#include <set>

#include "core/io_threads_test_fixture.h"
#include "store/memory_session_store.h"
#include "store/memory_update_log.h"
#include "store/tenant_tokens.h"
#include "telemetry/log_memory_sink.h"
#include "telemetry/span_exporter.h"

namespace tgpulse::updates {
namespace {

namespace asio = boost::asio;
using nlohmann::json;
using namespace std::chrono_literals;

json message(int n) { return {{"@type", "updateNewMessage"}, {"message", {{"id", n}}}}; }

// A receiver: records every POST and answers what `decide` says; `hang` holds the answer that long.
struct FakeReceiver {
  struct Post {
    std::string tenant;
    std::vector<std::int64_t> ids;
    std::vector<std::string> types;
    std::vector<std::string> sessions;  // of each update (parallel to ids)
    std::set<std::string> distinct() const { return {sessions.begin(), sessions.end()}; }
    std::vector<std::int64_t> ids_of(const std::string& session) const {
      std::vector<std::int64_t> out;
      for (std::size_t i = 0; i < ids.size(); ++i) {
        if (sessions[i] == session) out.push_back(ids[i]);
      }
      return out;
    }
    std::int64_t dropped = 0;  // the counts of the tgpulseUpdatesDropped events it carries
    bool delivered = false;
  };
  std::mutex mu;
  std::condition_variable changed;
  std::vector<Post> posts;                              // guarded by mu
  std::map<std::string, int> in_flight_by_session;      // guarded by mu
  std::map<std::string, int> in_flight_by_tenant;       // guarded by mu
  int max_session_in_flight = 0;                        // guarded by mu
  std::map<std::string, int> max_tenant_in_flight;      // guarded by mu
  std::function<WebhookOutcome(const Post&)> decide = [](const Post&) { return WebhookOutcome{200}; };
  std::map<std::string, std::chrono::milliseconds> hang;  // by tenant; set before the deliveries start

  WebhookDelivery::Poster poster() {
    return [this](WebhookUrl url, std::string body, std::string secret, std::int64_t,
                  WebhookConnections&) -> asio::awaitable<WebhookOutcome> {
      EXPECT_EQ(secret, "secret-secret-secret");
      Post p;
      p.tenant = url.host;
      std::replace(p.tenant.begin(), p.tenant.end(), '-', '_');
      const json doc = json::parse(body);
      for (const auto& u : doc.at("updates")) {
        p.ids.push_back(u["update_id"].get<std::int64_t>());
        p.types.push_back(u["update"]["@type"].get<std::string>());
        if (p.types.back() == "tgpulseUpdatesDropped") p.dropped += u["update"]["count"].get<std::int64_t>();
        p.sessions.push_back(u["session_id"].is_string() ? u["session_id"].get<std::string>() : "");
      }
      {
        std::lock_guard lock(mu);
        for (const auto& s : p.distinct()) {
          max_session_in_flight = std::max(max_session_in_flight, ++in_flight_by_session[p.tenant + "/" + s]);
        }
        max_tenant_in_flight[p.tenant] = std::max(max_tenant_in_flight[p.tenant], ++in_flight_by_tenant[p.tenant]);
      }
      if (auto h = hang.find(p.tenant); h != hang.end()) {
        asio::steady_timer timer(co_await asio::this_coro::executor, h->second);
        boost::system::error_code ignored;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
      }
      WebhookOutcome out;
      {
        std::lock_guard lock(mu);
        out = decide(p);
        p.delivered = out.delivered();
        for (const auto& s : p.distinct()) --in_flight_by_session[p.tenant + "/" + s];
        --in_flight_by_tenant[p.tenant];
        posts.push_back(std::move(p));
      }
      changed.notify_all();
      co_return out;
    };
  }
  // The ids of `tenant` some 2xx POST carried.
  std::set<std::int64_t> delivered(const std::string& tenant) {
    std::set<std::int64_t> out;
    for (const auto& p : posts) {
      if (p.tenant == tenant && p.delivered) out.insert(p.ids.begin(), p.ids.end());
    }
    return out;
  }
  std::string describe() {
    std::string out;
    for (const auto& p : posts) {
      out += p.tenant + (p.delivered ? " ok [" : " failed [");
      for (auto id : p.ids) out += std::to_string(id) + " ";
      out += "] ";
    }
    return out;
  }
  template <typename Pred>
  bool await(Pred pred, std::chrono::seconds timeout = 30s) {
    std::unique_lock lock(mu);
    return changed.wait_for(lock, timeout, pred);
  }
};

class WebhookDeliveryTest : public IoThreadsTest {
 protected:
  void SetUp() override {
    options_.webhook.retry.initial_backoff = 5ms;  // quick retries: the receiver decides what fails
    options_.webhook.retry.max_backoff = 20ms;
    ASSERT_TRUE(tenants_.create_tenant({"t_alpha", store::TenantTokens::hash_token("k-alpha"), 1}).ok());
    ASSERT_TRUE(tenants_.create_tenant({"t_beta", store::TenantTokens::hash_token("k-beta"), 1}).ok());
    IoThreadsTest::SetUp();
    hub_ = std::make_unique<UpdateHub>(io_.get_executor(), pool_, log_, clock_, options_, metrics_);
    hub_->start();
  }
  void TearDown() override {
    if (deliveries_) deliveries_->stop(5s);
    deliveries_.reset();
    hub_->stop(5s);
    hub_.reset();
    IoThreadsTest::TearDown();
  }
  WebhookDelivery& make() {
    deliveries_ = std::make_unique<WebhookDelivery>(
        WebhookDelivery::Context{io_.get_executor(), pool_, log_, *hub_, clock_, metrics_, registry_, logger_, tracer_},
        options_, receiver_.poster());
    return *deliveries_;
  }
  // The tenant's webhook: its URL's host is the tenant id ('-' for '_'), so the receiver tells them apart.
  Status set(const std::string& tenant, std::int64_t max_connections = 40) {
    std::string host = tenant;
    std::replace(host.begin(), host.end(), '_', '-');  // a host name has no '_'
    store::WebhookRecord r{tenant, "http://" + host + "/hook?token=q", "secret-secret-secret", max_connections, 1};
    auto* d = deliveries_.get();
    return asio::co_spawn(asio::make_strand(io_), [d, r]() -> asio::awaitable<Status> { co_return co_await d->set(r); },
                          asio::use_future)
        .get();
  }
  Result<bool> remove(const std::string& tenant, bool drop) {
    auto* d = deliveries_.get();
    // Wrapped: co_spawn's future needs a default-constructible value.
    return *asio::co_spawn(asio::make_strand(io_),
                           [d, tenant, drop]() -> asio::awaitable<std::optional<Result<bool>>> {
                             co_return std::optional<Result<bool>>(co_await d->remove(tenant, drop));
                           },
                           asio::use_future)
                .get();
  }
  // What the service does just after the receiver answered (removal from the log, counting): waited for,
  // yielding, at most 10 s.
  template <typename Pred>
  static bool eventually(Pred pred) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!pred() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    return pred();
  }
  double counter(const std::string& text) {
    const std::string exposition = registry_.expose(telemetry::ExpositionFormat::prometheus_text_004);
    auto at = exposition.find(text + " ");
    return at == std::string::npos ? -1 : std::stod(exposition.substr(at + text.size() + 1));
  }

  telemetry::Registry registry_;
  UpdateMetrics metrics_{registry_};
  BlockingPool pool_{BlockingPoolOptions{"store", 2, 256}};
  SystemClock& clock_ = SystemClock::instance();
  store::MemorySessionStore tenants_{clock_};
  store::MemoryUpdateLog log_{&tenants_};  // the tenants' logs and webhooks
  std::shared_ptr<telemetry::LogMemorySink::Lines> log_lines_ = std::make_shared<telemetry::LogMemorySink::Lines>();
  telemetry::Logger logger_{telemetry::LoggerOptions{}, std::make_unique<telemetry::LogMemorySink>(log_lines_)};
  telemetry::Tracer tracer_{telemetry::TracerOptions{}, nullptr};
  UpdatesOptions options_;
  FakeReceiver receiver_;
  std::unique_ptr<UpdateHub> hub_;
  std::unique_ptr<WebhookDelivery> deliveries_;
};

TEST_F(WebhookDeliveryTest, EveryUpdateArrivesInOrderPerSessionDuplicatesOnlyAfterAFailure) {
  std::mt19937 rng(7);
  receiver_.decide = [&rng](const FakeReceiver::Post&) {
    const int roll = static_cast<int>(rng() % 10);
    if (roll < 3) return WebhookOutcome{500, std::nullopt, WebhookFailure::none, "answered 500"};
    if (roll == 3) return WebhookOutcome{429, std::chrono::seconds(0), WebhookFailure::none, "answered 429"};
    return WebhookOutcome{200};
  };
  make();
  ASSERT_TRUE(set("t_alpha", 2).ok());
  const std::vector<std::string> sessions = {"s_1", "s_2", "s_3", "s_4"};
  constexpr int kPerSession = 60;
  for (int i = 0; i < kPerSession; ++i) {
    for (const auto& s : sessions) hub_->accept("t_alpha", s, message(i));
  }
  const std::size_t total = sessions.size() * kPerSession;
  ASSERT_TRUE(receiver_.await([&] { return receiver_.delivered("t_alpha").size() == total; }))
      << receiver_.delivered("t_alpha").size() << " of " << total;
  EXPECT_TRUE(eventually([&] { return log_.count_pending("t_alpha").value() == 0; })) << "delivered updates leave the log";
  EXPECT_TRUE(eventually([&] { return counter(R"(tgpulse_updates_delivered_total{channel="webhook"})") == total; }));
  std::lock_guard lock(receiver_.mu);
  // Per session: the ids POSTed are increasing, except that a failed batch is POSTed again.
  std::map<std::string, std::int64_t> last_delivered;
  std::map<std::string, std::vector<std::int64_t>> failed_batch;
  for (const auto& p : receiver_.posts) {
    ASSERT_FALSE(p.ids.empty());
    EXPECT_TRUE(std::is_sorted(p.ids.begin(), p.ids.end())) << "a POST's updates are in update_id order";
    for (const auto& session : p.distinct()) {
      const std::vector<std::int64_t> ids = p.ids_of(session);
      if (auto f = failed_batch.find(session); f != failed_batch.end() && !f->second.empty()) {
        EXPECT_EQ(ids, f->second) << "after a failure the same batch is POSTed again";
      } else {
        EXPECT_GT(ids.front(), last_delivered[session]) << "no duplicate without a failure, in order";
      }
      failed_batch[session] = p.delivered ? std::vector<std::int64_t>{} : ids;
      if (p.delivered) last_delivered[session] = ids.back();
    }
  }
  EXPECT_EQ(receiver_.max_session_in_flight, 1) << "one session's POSTs are strictly sequential";
  EXPECT_LE(receiver_.max_tenant_in_flight["t_alpha"], 2) << "max_connections bounds the tenant's POSTs";
  EXPECT_GT(counter(R"(tgpulse_webhook_requests_total{code="5xx"})"), 0);
  EXPECT_GT(counter(R"(tgpulse_webhook_requests_total{code="429"})"), 0);
  logger_.flush();
  const auto lines = log_lines_->snapshot();
  ASSERT_FALSE(lines.empty()) << "a failing webhook is logged";
  for (const auto& line : lines) {
    EXPECT_EQ(line.find("secret-secret"), std::string::npos) << line;
    EXPECT_EQ(line.find("token=q"), std::string::npos) << line;
  }
}

// Many sessions with a few updates each: the POSTs carry several sessions' updates up to the batch
// bound (so a busy tenant needs far fewer POSTs than sessions), one session never in two at once.
TEST_F(WebhookDeliveryTest, ManySessionsShareEachPostUpToTheBatchBound) {
  receiver_.hang["t_alpha"] = 50ms;  // the first POST holds, so the rest queue up behind it
  make();
  ASSERT_TRUE(set("t_alpha", 1).ok());
  constexpr int kSessions = 60;
  for (int round = 0; round < 2; ++round) {
    for (int s = 0; s < kSessions; ++s) hub_->accept("t_alpha", "s_" + std::to_string(s), message(round));
  }
  ASSERT_TRUE(receiver_.await([&] { return receiver_.delivered("t_alpha").size() == 2u * kSessions; }))
      << receiver_.describe();
  std::lock_guard lock(receiver_.mu);
  std::size_t most_sessions = 0;
  for (const auto& p : receiver_.posts) {
    EXPECT_LE(p.ids.size(), options_.webhook_batch_max);
    most_sessions = std::max(most_sessions, p.distinct().size());
  }
  EXPECT_EQ(most_sessions, options_.webhook_batch_max) << "a full batch takes one update from each of 20 sessions";
  EXPECT_LE(receiver_.posts.size(), 2u * kSessions / options_.webhook_batch_max + 2) << receiver_.describe();
  EXPECT_EQ(receiver_.max_session_in_flight, 1);
}

// Delivered ids leave the log in the background, many POSTs' in one transaction; a stop still removes
// every delivered one before it returns, so a restart does not POST them again.
TEST_F(WebhookDeliveryTest, AStopRemovesEveryDeliveredUpdateBeforeItReturns) {
  make();
  ASSERT_TRUE(set("t_alpha", 8).ok());
  for (int i = 0; i < 300; ++i) hub_->accept("t_alpha", "s_" + std::to_string(i % 30), message(i));
  ASSERT_TRUE(receiver_.await([&] { return receiver_.delivered("t_alpha").size() == 300; }));
  deliveries_->stop(5s);
  EXPECT_EQ(log_.count_pending("t_alpha").value(), 0) << "delivered before the stop, removed by its end";
}

TEST_F(WebhookDeliveryTest, AHangingReceiverOfOneTenantDoesNotHoldAnother) {
  receiver_.hang["t_alpha"] = 3s;
  make();
  ASSERT_TRUE(set("t_alpha").ok());
  ASSERT_TRUE(set("t_beta").ok());
  hub_->accept("t_alpha", "s_a", message(1));
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) hub_->accept("t_beta", "s_b" + std::to_string(i % 3), message(i));
  ASSERT_TRUE(receiver_.await([&] { return receiver_.delivered("t_beta").size() == 20; }))
      << receiver_.delivered("t_beta").size() << " of 20 in " << receiver_.describe();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s) << "t_beta waited for t_alpha's receiver";
  EXPECT_TRUE(receiver_.delivered("t_alpha").empty()) << "t_alpha's POST still hangs";
}

TEST_F(WebhookDeliveryTest, PastMaxAgeAnUpdateIsGivenUpCountedAndAnnounced) {
  options_.webhook.retry.max_age = 1s;
  receiver_.decide = [](const FakeReceiver::Post& p) {
    // The receiver refuses messages but takes the service's events.
    return p.types.front() == "updateNewMessage" ? WebhookOutcome{503, std::nullopt, WebhookFailure::none, "down"}
                                                  : WebhookOutcome{200};
  };
  make();
  ASSERT_TRUE(set("t_alpha").ok());
  hub_->accept("t_alpha", "s_a", message(1));
  hub_->accept("t_alpha", "s_a", message(2));
  // Each given-up batch is announced in the session's place (the two messages may be one batch or two).
  ASSERT_TRUE(receiver_.await([&] {
    std::int64_t announced = 0;
    for (const auto& p : receiver_.posts) announced += p.delivered ? p.dropped : 0;
    return announced == 2;
  }));
  EXPECT_EQ(counter(R"(tgpulse_updates_dropped_total{reason="webhook_max_age"})"), 2);
  for (std::int64_t id : receiver_.delivered("t_alpha")) EXPECT_GT(id, 2) << "only the announcements arrived";
  EXPECT_TRUE(eventually([&] { return log_.count_pending("t_alpha").value() == 0; }))
      << "given up and delivered alike left the log";
}

TEST_F(WebhookDeliveryTest, AWebhookMakesLongPollsAnswerConflictAndDeleteStopsIt) {
  make();
  auto* hub = hub_.get();
  auto waiting = asio::co_spawn(asio::make_strand(io_),
                                [hub]() -> asio::awaitable<Status> {
                                  auto page = co_await hub->poll("t_alpha", 0, 10, "", 30s, DeliveryChannel::long_poll);
                                  co_return page ? Status{} : Status(page.error());
                                },
                                asio::use_future);
  while (hub_->waiting("t_alpha") != 1) std::this_thread::yield();
  ASSERT_TRUE(set("t_alpha").ok());
  ASSERT_EQ(waiting.wait_for(10s), std::future_status::ready) << "the waiting long poll was woken";
  EXPECT_EQ(waiting.get().error().code, Errc::conflict);
  EXPECT_FALSE(hub_->listen("t_alpha", [] {}).ok()) << "a stream is refused too";
  EXPECT_FALSE(hub_->has_webhook("t_beta")) << "another tenant's long polling is untouched";
  receiver_.decide = [](const FakeReceiver::Post&) { return WebhookOutcome{500}; };
  hub_->accept("t_alpha", "s_a", message(1));
  ASSERT_TRUE(receiver_.await([&] { return !receiver_.posts.empty(); }));
  EXPECT_TRUE(remove("t_alpha", true).value());
  EXPECT_FALSE(remove("t_alpha", true).value()) << "a second DELETE finds none";
  EXPECT_EQ(deliveries_->running(), 0u);
  EXPECT_FALSE(hub_->has_webhook("t_alpha"));
  EXPECT_EQ(log_.count_pending("t_alpha").value(), 0) << "drop_pending_updates emptied the log";
}

TEST_F(WebhookDeliveryTest, DeletingTheTenantStopsItsDelivery) {
  make();
  hub_->set_on_forget([d = deliveries_.get()](const std::string& tenant) { d->forget_tenant(tenant); });
  ASSERT_TRUE(set("t_alpha").ok());
  ASSERT_TRUE(set("t_beta").ok());
  ASSERT_EQ(deliveries_->running(), 2u);
  hub_->forget_tenant("t_alpha");  // what DELETE /v1/tenants/{id} tells the hub
  EXPECT_EQ(deliveries_->running(), 1u);
  EXPECT_FALSE(hub_->has_webhook("t_alpha"));
  EXPECT_TRUE(hub_->has_webhook("t_beta"));
  hub_->accept("t_beta", "s_b", message(1));
  ASSERT_TRUE(receiver_.await([&] { return receiver_.delivered("t_beta").size() == 1; })) << "the other goes on";
}

TEST_F(WebhookDeliveryTest, AStoredWebhookIsResumedWithWhatWasNotDelivered) {
  receiver_.decide = [](const FakeReceiver::Post&) { return WebhookOutcome{500}; };
  make();
  ASSERT_TRUE(set("t_alpha").ok());
  hub_->accept("t_alpha", "s_a", message(1));
  ASSERT_TRUE(receiver_.await([&] { return !receiver_.posts.empty(); }));
  deliveries_->stop(5s);
  receiver_.decide = [](const FakeReceiver::Post&) { return WebhookOutcome{204}; };
  make();  // a restart: the webhook comes from the store
  ASSERT_TRUE(deliveries_->load().ok());
  EXPECT_TRUE(hub_->has_webhook("t_alpha"));
  ASSERT_TRUE(receiver_.await([&] { return receiver_.delivered("t_alpha") == std::set<std::int64_t>{1}; }));
}

// A cluster of two nodes on one shared log: each node has its hub, its WebhookDelivery and its receiver
// (to tell who POSTed); a fake membership names each tenant's owner. Each tenant is delivered by its
// owner only, also what the other node wrote; a webhook set or deleted through the other node takes
// effect on the owner; a change of owner moves the delivery.
class Owners {
 public:
  void assign(const std::string& tenant, const std::string& node) {
    std::lock_guard lock(mu_);
    owner_[tenant] = node;
  }
  bool owned_by(const std::string& tenant, const std::string& node) const {
    std::lock_guard lock(mu_);
    auto it = owner_.find(tenant);
    return it != owner_.end() && it->second == node;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> owner_;
};

class NodeMembership final : public DeliveryMembership {
 public:
  NodeMembership(const Owners& owners, std::string node) : owners_(owners), node_(std::move(node)) {}
  bool owns(const std::string& tenant_id) const override { return owners_.owned_by(tenant_id, node_); }

 private:
  const Owners& owners_;
  const std::string node_;
};

class ClusterDeliveryTest : public WebhookDeliveryTest {
 protected:
  void SetUp() override {
    options_.shared_log_recheck = 100ms;
    options_.shared_settings_refresh = 300ms;
    WebhookDeliveryTest::SetUp();
    hub_b_ = std::make_unique<UpdateHub>(io_.get_executor(), pool_, log_, clock_, options_, metrics_);
    hub_b_->start();
    owners_.assign("t_alpha", "a");
    owners_.assign("t_beta", "b");
    deliveries_ = std::make_unique<WebhookDelivery>(
        WebhookDelivery::Context{io_.get_executor(), pool_, log_, *hub_, clock_, metrics_, registry_, logger_, tracer_,
                                 &membership_a_},
        options_, receiver_.poster());
    deliveries_b_ = std::make_unique<WebhookDelivery>(
        WebhookDelivery::Context{io_.get_executor(), pool_, log_, *hub_b_, clock_, metrics_, registry_, logger_,
                                 tracer_, &membership_b_},
        options_, receiver_b_.poster());
    ASSERT_TRUE(deliveries_->load().ok());
    ASSERT_TRUE(deliveries_b_->load().ok());
  }
  void TearDown() override {
    if (deliveries_b_) deliveries_b_->stop(5s);
    deliveries_b_.reset();
    hub_b_->stop(5s);
    hub_b_.reset();
    WebhookDeliveryTest::TearDown();
  }
  static std::size_t posts_of(FakeReceiver& r, const std::string& tenant) {
    std::lock_guard lock(r.mu);
    return static_cast<std::size_t>(
        std::count_if(r.posts.begin(), r.posts.end(), [&](const FakeReceiver::Post& p) { return p.tenant == tenant; }));
  }
  static std::set<std::int64_t> delivered_by(FakeReceiver& r, const std::string& tenant) {
    std::lock_guard lock(r.mu);
    return r.delivered(tenant);
  }

  Owners owners_;
  NodeMembership membership_a_{owners_, "a"};
  NodeMembership membership_b_{owners_, "b"};
  FakeReceiver receiver_b_;
  std::unique_ptr<UpdateHub> hub_b_;
  std::unique_ptr<WebhookDelivery> deliveries_b_;
};

TEST_F(ClusterDeliveryTest, EachTenantIsDeliveredByItsOwnerOnlyWhicheverNodeWroteOrSetIt) {
  ASSERT_TRUE(set("t_alpha").ok());  // through node a, which owns it
  ASSERT_TRUE(set("t_beta").ok());   // through node a too: node b owns it and must find it
  EXPECT_TRUE(eventually([&] { return deliveries_b_->running() == 1 && hub_b_->has_webhook("t_beta"); }))
      << "node b read the webhook set through node a";
  EXPECT_TRUE(eventually([&] { return hub_b_->has_webhook("t_alpha"); })) << "webhook mode on every node";
  EXPECT_EQ(deliveries_->running(), 1u) << "node a delivers t_alpha only";
  for (int i = 1; i <= 5; ++i) {
    hub_b_->accept("t_alpha", "s_a", message(i));  // written by node b, delivered by node a
    hub_->accept("t_beta", "s_b", message(i));     // written by node a, delivered by node b
  }
  const std::set<std::int64_t> all{1, 2, 3, 4, 5};
  ASSERT_TRUE(eventually([&] { return delivered_by(receiver_, "t_alpha") == all; })) << receiver_.describe();
  ASSERT_TRUE(eventually([&] { return delivered_by(receiver_b_, "t_beta") == all; })) << receiver_b_.describe();
  EXPECT_EQ(posts_of(receiver_, "t_beta"), 0u) << "node a never delivered t_beta";
  EXPECT_EQ(posts_of(receiver_b_, "t_alpha"), 0u) << "node b never delivered t_alpha";
  EXPECT_TRUE(eventually([&] { return log_.count_pending("t_alpha").value() == 0; }));
}

TEST_F(ClusterDeliveryTest, TheDeliveryMovesWithItsOwnerAndADeleteThroughAnotherNodeStopsIt) {
  ASSERT_TRUE(set("t_alpha").ok());
  hub_->accept("t_alpha", "s_a", message(1));
  ASSERT_TRUE(eventually([&] { return delivered_by(receiver_, "t_alpha") == std::set<std::int64_t>{1}; }));
  owners_.assign("t_alpha", "b");  // node a left the membership (or b came): b owns t_alpha now
  ASSERT_TRUE(eventually([&] { return deliveries_->running() == 0 && deliveries_b_->running() == 1; }))
      << "node a stopped, node b took over";
  const std::size_t a_posts = posts_of(receiver_, "t_alpha");
  for (int i = 2; i <= 4; ++i) hub_->accept("t_alpha", "s_a", message(i));
  ASSERT_TRUE(eventually([&] { return delivered_by(receiver_b_, "t_alpha").contains(4); })) << receiver_b_.describe();
  EXPECT_EQ(posts_of(receiver_, "t_alpha"), a_posts) << "the former owner POSTs nothing more";
  // The webhook deleted through node a, which no longer delivers it: node b stops within the refresh.
  EXPECT_TRUE(remove("t_alpha", false).value());
  EXPECT_FALSE(hub_->has_webhook("t_alpha"));
  EXPECT_TRUE(eventually([&] { return deliveries_b_->running() == 0 && !hub_b_->has_webhook("t_alpha"); }));
}

TEST(RendezvousOwner, TheSameOwnerInAnyOrderAndALeavingNodeMovesOnlyItsTenants) {
  const std::vector<std::string> three{"node-1", "node-2", "node-3"};
  const std::vector<std::string> shuffled{"node-3", "node-1", "node-2"};
  const std::vector<std::string> two{"node-1", "node-3"};
  EXPECT_EQ(rendezvous_owner("t_x", {}), "");
  std::map<std::string, int> share;
  for (int i = 0; i < 3000; ++i) {
    const std::string tenant = "t_" + std::to_string(i);
    const std::string owner = rendezvous_owner(tenant, three);
    EXPECT_EQ(owner, rendezvous_owner(tenant, shuffled));
    ++share[owner];
    const std::string after = rendezvous_owner(tenant, two);
    if (owner != "node-2") {
      EXPECT_EQ(after, owner) << "only node-2's tenants move";
    }
  }
  for (const auto& node : three) {
    EXPECT_GT(share[node], 800) << node;
    EXPECT_LT(share[node], 1200) << node;
  }
}

}  // namespace
}  // namespace tgpulse::updates
