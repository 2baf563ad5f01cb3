#include "throttle/throttle_layers.h"

#include <algorithm>

namespace tgpulse::throttle {
namespace {

AdaptiveOptions fixed_rate() {
  AdaptiveOptions a;
  a.enabled = false;
  return a;
}

}  // namespace

ThrottleLayers::ThrottleLayers(ThrottleOptions options, const Clock& clock, std::vector<std::string> known_methods)
    : options_(std::move(options)), clock_(clock), known_(known_methods.begin(), known_methods.end()) {}

std::string_view ThrottleLayers::fold(const LayerOptions& opts, std::string_view method, bool with_known) const {
  if (opts.per_method.count(method) != 0) return method;
  if (with_known && known_.count(method) != 0) return method;
  return kOtherMethods;
}

TokenBucket* ThrottleLayers::bucket(BucketsByOwner& layer, const LayerOptions& opts, std::string_view owner,
                                    std::string_view method, Clock::TimePoint now, bool adaptive) {
  method = fold(opts, method, &layer != &tenants_);
  const BucketLimit& limit = opts.limit_for(method);
  if (limit.rate <= 0) return nullptr;
  auto owner_it = layer.find(owner);
  if (owner_it == layer.end()) owner_it = layer.emplace(std::string(owner), BucketsByMethod{}).first;
  BucketsByMethod& methods = owner_it->second;
  auto it = methods.find(method);
  if (it == methods.end()) {
    ++created_since_sweep_;
    it = methods.emplace(std::string(method), TokenBucket(limit, adaptive ? options_.adaptive : fixed_rate(), now))
             .first;
  }
  return &it->second;
}

TokenBucket* ThrottleLayers::process_bucket(std::string_view method, Clock::TimePoint now) {
  method = fold(options_.process, method, true);
  const BucketLimit& limit = options_.process.limit_for(method);
  if (limit.rate <= 0) return nullptr;
  auto it = process_.find(method);
  if (it == process_.end()) {
    ++created_since_sweep_;
    it = process_.emplace(std::string(method), TokenBucket(limit, fixed_rate(), now)).first;
  }
  return &it->second;
}

const TokenBucket* ThrottleLayers::find_session_bucket(std::string_view session_id, std::string_view method) const {
  auto owner_it = sessions_.find(session_id);
  if (owner_it == sessions_.end()) return nullptr;
  auto it = owner_it->second.find(fold(options_.session, method, true));
  return it == owner_it->second.end() ? nullptr : &it->second;
}

Grant ThrottleLayers::reserve_call(std::string_view session_id, std::string_view method, Clock::Duration max_delay) {
  if (!options_.enabled) return Grant{true, Clock::Duration::zero()};
  const auto now = clock_.now();
  std::lock_guard lock(mu_);
  maybe_sweep_locked(now);
  TokenBucket* layers[] = {bucket(sessions_, options_.session, session_id, method, now, true),
                           process_bucket(method, now)};
  Clock::Duration needed = Clock::Duration::zero();
  for (TokenBucket* b : layers) {
    if (b != nullptr) needed = std::max(needed, b->time_until_available(now));
  }
  if (needed > max_delay) return Grant{false, needed};
  Clock::Duration delay = Clock::Duration::zero();
  for (TokenBucket* b : layers) {
    if (b != nullptr) delay = std::max(delay, b->reserve(now));
  }
  return Grant{true, delay};
}

Grant ThrottleLayers::reserve_tenant(std::string_view tenant_id, std::string_view method) {
  const auto now = clock_.now();
  std::lock_guard lock(mu_);
  maybe_sweep_locked(now);
  TokenBucket* b = bucket(tenants_, options_.tenant, tenant_id, method, now, false);
  if (b == nullptr || b->try_take(now)) return Grant{true, Clock::Duration::zero()};
  return Grant{false, b->time_until_available(now)};
}

double ThrottleLayers::on_flood_wait(std::string_view session_id, std::string_view method) {
  const auto now = clock_.now();
  std::lock_guard lock(mu_);
  TokenBucket* b = bucket(sessions_, options_.session, session_id, method, now, true);
  if (b == nullptr) return 0;
  b->on_flood_wait(now);
  return b->current_rate();
}

double ThrottleLayers::on_success(std::string_view session_id, std::string_view method) {
  const auto now = clock_.now();
  std::lock_guard lock(mu_);
  auto owner_it = sessions_.find(session_id);
  if (owner_it == sessions_.end()) return std::max(0.0, options_.session.limit_for(method).rate);
  auto it = owner_it->second.find(fold(options_.session, method, true));
  if (it == owner_it->second.end()) return std::max(0.0, options_.session.limit_for(method).rate);
  it->second.on_success(now);
  return it->second.current_rate();
}

double ThrottleLayers::current_rate(std::string_view session_id, std::string_view method) const {
  std::lock_guard lock(mu_);
  const TokenBucket* b = find_session_bucket(session_id, method);
  return b != nullptr ? b->current_rate() : std::max(0.0, options_.session.limit_for(method).rate);
}

void ThrottleLayers::forget_session(std::string_view session_id) {
  std::lock_guard lock(mu_);
  if (auto it = sessions_.find(session_id); it != sessions_.end()) sessions_.erase(it);
}

void ThrottleLayers::forget_tenant(std::string_view tenant_id) {
  std::lock_guard lock(mu_);
  if (auto it = tenants_.find(tenant_id); it != tenants_.end()) tenants_.erase(it);
}

std::size_t ThrottleLayers::sweep_idle() {
  const auto now = clock_.now();
  std::lock_guard lock(mu_);
  return sweep_locked(now);
}

std::size_t ThrottleLayers::sweep_locked(Clock::TimePoint now) {
  std::size_t dropped = 0;
  auto sweep = [&](BucketsByMethod& methods) {
    dropped += std::erase_if(methods, [&](const auto& kv) { return kv.second.idle(now); });
  };
  for (BucketsByOwner* layer : {&sessions_, &tenants_}) {
    for (auto& [owner, methods] : *layer) sweep(methods);
    std::erase_if(*layer, [](const auto& kv) { return kv.second.empty(); });
  }
  sweep(process_);
  created_since_sweep_ = 0;
  sweep_after_ = std::max<std::size_t>(1024, count_locked());
  return dropped;
}

void ThrottleLayers::maybe_sweep_locked(Clock::TimePoint now) {
  if (created_since_sweep_ >= sweep_after_) sweep_locked(now);
}

std::size_t ThrottleLayers::count_locked() const {
  std::size_t n = process_.size();
  for (const BucketsByOwner* layer : {&sessions_, &tenants_}) {
    for (const auto& [owner, methods] : *layer) n += methods.size();
  }
  return n;
}

std::size_t ThrottleLayers::bucket_count() const {
  std::lock_guard lock(mu_);
  return count_locked();
}

ThrottleLayers::Summary ThrottleLayers::summarize() const {
  Summary out;
  std::lock_guard lock(mu_);
  out.process_buckets = process_.size();
  for (const auto& [tenant, methods] : tenants_) out.tenant_buckets += methods.size();
  for (const auto& [session, methods] : sessions_) {
    out.session_buckets += methods.size();
    for (const auto& [method, b] : methods) {
      // A bucket's current rate never exceeds its configured one, so the lowest current rate is the
      // configured rate exactly when no bucket of the method is slowed.
      MethodSummary& m = out.session_methods[method];
      m.lowest_rate = m.buckets == 0 ? b.current_rate() : std::min(m.lowest_rate, b.current_rate());
      if (b.current_rate() < b.configured_rate()) ++m.slowed;
      ++m.buckets;
    }
  }
  return out;
}

}  // namespace tgpulse::throttle
