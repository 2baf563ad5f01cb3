#include "throttle/shared_request_quota.h"

#include <cmath>
#include <cstdio>

namespace tgpulse::throttle {

namespace asio = boost::asio;

namespace {

// KEYS[1] = the tenant's bucket; ARGV[1] = rate (tokens/s), ARGV[2] = burst.
// Returns {1, 0} when a token was taken, {0, ms until one is there} otherwise.
// Redis TIME is the one clock of every node; effects replication (the default since Redis 5, the only
// mode since 7) lets a script read it before it writes.
constexpr const char* kBucketScript = R"lua(
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate / 1000000)
  at = now
end
local allowed = 0
local wait_ms = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait_ms = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'at', string.format('%d', at))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
return {allowed, wait_ms}
)lua";

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6f", v);
  return buf;
}

}  // namespace

const std::shared_ptr<const RedisScript>& SharedRequestQuota::script() {
  static const std::shared_ptr<const RedisScript> s = std::make_shared<const RedisScript>(kBucketScript);
  return s;
}

SharedRequestQuota::SharedRequestQuota(RedisScripts& redis, const Clock& clock, telemetry::Registry& registry,
                                       telemetry::Logger& logger, std::chrono::milliseconds retry_interval)
    : redis_(redis),
      clock_(clock),
      logger_(logger),
      retry_interval_(retry_interval),
      state_(registry
                 .gauge("tgpulse_quota_shared_state",
                        "1 when tenant request quotas are shared by the nodes through Redis, 0 when each node "
                        "decides on its own buckets because Redis is away")
                 .get()),
      fallbacks_(registry
                     .counter("tgpulse_quota_shared_fallbacks_total",
                              "Requests whose tenant quota was decided on the node's own bucket because Redis "
                              "failed or the breaker was open")
                     .get()),
      redis_seconds_(registry
                         .histogram("tgpulse_quota_redis_seconds",
                                    "Time of one shared-quota call to Redis (EVALSHA), failures included",
                                    {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25})
                         .get()) {
  state_.set(1);
}

bool SharedRequestQuota::shared() const {
  std::lock_guard lock(mu_);
  return !degraded_;
}

asio::awaitable<SharedRequestQuota::Verdict> SharedRequestQuota::admit(std::string tenant_id, double rate,
                                                                       double burst) {
  std::uint64_t epoch = 0;
  {
    std::lock_guard lock(mu_);
    const Clock::TimePoint now = clock_.now();
    if (degraded_) {
      if (probing_ || now < next_probe_) {
        fallbacks_.inc();
        co_return Verdict{};
      }
      probing_ = true;  // this request finds out whether Redis is back
      next_probe_ = now + retry_interval_;
    }
    epoch = epoch_;
  }
  const auto started = std::chrono::steady_clock::now();
  asio::awaitable<Result<RedisReply>> call =
      redis_.eval(script(), {key_of(tenant_id)}, {number(rate), number(burst)});
  Result<RedisReply> reply = co_await std::move(call);
  redis_seconds_.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());

  std::string problem;
  if (!reply) {
    problem = reply.error().message;
  } else if (reply->type == RedisReply::Type::error) {
    problem = "redis answered: " + reply->text;
  } else if (reply->type != RedisReply::Type::array || reply->elements.size() != 2 ||
             reply->elements[0].type != RedisReply::Type::integer ||
             reply->elements[1].type != RedisReply::Type::integer) {
    problem = "redis: unexpected reply to the quota script";
  }
  if (!problem.empty()) {
    failed(epoch, problem);
    fallbacks_.inc();
    co_return Verdict{};
  }
  succeeded(epoch);
  if (reply->elements[0].integer == 1) co_return Verdict{Outcome::allowed, std::chrono::milliseconds(0)};
  co_return Verdict{Outcome::refused, std::chrono::milliseconds(std::max<std::int64_t>(1, reply->elements[1].integer))};
}

void SharedRequestQuota::failed(std::uint64_t epoch, const std::string& why) {
  std::unique_lock lock(mu_);
  if (degraded_) {
    if (epoch == epoch_) probing_ = false;  // the probe failed: the next one in retry_interval
    return;
  }
  degraded_ = true;
  probing_ = false;
  ++epoch_;
  next_probe_ = clock_.now() + retry_interval_;
  state_.set(0);
  lock.unlock();
  logger_.warn("Shared quota unavailable, using per-node quotas", {{"error.message", why}});
}

void SharedRequestQuota::succeeded(std::uint64_t epoch) {
  std::unique_lock lock(mu_);
  if (!degraded_ || epoch != epoch_) return;  // a call begun before the breaker opened proves nothing
  degraded_ = false;
  probing_ = false;
  state_.set(1);
  lock.unlock();
  logger_.info("Shared quota restored");
}

}  // namespace tgpulse::throttle
