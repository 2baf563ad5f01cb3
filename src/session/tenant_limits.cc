#include "session/tenant_limits.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "throttle/token_bucket.h"

namespace tgpulse::session {

using telemetry::RejectReason;

namespace {

constexpr std::size_t kKinds = 3;
// Retry-After of refusals that end by themselves: a login reaches its outcome within qr.timeout and a
// stream ends with its login or its client; a process-wide slot frees up when any tenant's does.
constexpr int kLoginRetryS = 10;
constexpr int kStreamRetryS = 5;
constexpr int kProcessRetryS = 30;
constexpr std::size_t kSweepEvery = 1024;

std::size_t index(TenantLimits::Kind k) { return static_cast<std::size_t>(k); }

throttle::AdaptiveOptions fixed() {
  throttle::AdaptiveOptions a;
  a.enabled = false;
  return a;
}

int retry_after(Clock::Duration d) {
  const double s = std::ceil(std::chrono::duration<double>(d).count());
  return s < 1 ? 1 : static_cast<int>(s);
}

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

Status check_count(const char* key, int v) {
  if (v < 0 || v > 10'000'000) {
    return Error(Errc::invalid_argument, std::string(key) + ": must be between 0 and 10000000 (0 = no limit)");
  }
  return {};
}

}  // namespace

Status TenantLimitsOptions::validate() const {
  if (!(tenant_request_rate >= 0 && tenant_request_rate <= 1e6)) {
    return Error(Errc::invalid_argument, "limits.tenant_request_rate: must be between 0 and 1000000 (0 = no quota)");
  }
  if (!(tenant_request_burst >= 1 && tenant_request_burst <= 1e6)) {
    return Error(Errc::invalid_argument, "limits.tenant_request_burst: must be between 1 and 1000000");
  }
  if (!(auth_failure_rate >= 0 && auth_failure_rate <= 1e6)) {
    return Error(Errc::invalid_argument, "limits.auth_failure_rate: must be between 0 and 1000000 (0 = no limit)");
  }
  if (!(auth_failure_burst >= 1 && auth_failure_burst <= 1e6)) {
    return Error(Errc::invalid_argument, "limits.auth_failure_burst: must be between 1 and 1000000");
  }
  if (auth_failure_clients < 1 || auth_failure_clients > 10'000'000) {
    return Error(Errc::invalid_argument, "limits.auth_failure_clients: must be between 1 and 10000000");
  }
  for (auto [key, v] : {std::pair{"limits.tenant_sessions", tenant_sessions},
                        std::pair{"limits.process_sessions", process_sessions},
                        std::pair{"limits.tenant_logins", tenant_logins},
                        std::pair{"limits.process_logins", process_logins},
                        std::pair{"limits.tenant_logins_per_minute", tenant_logins_per_minute},
                        std::pair{"limits.password_attempts", password_attempts},
                        std::pair{"limits.code_attempts", code_attempts},
                        std::pair{"limits.tenant_streams", tenant_streams},
                        std::pair{"limits.process_streams", process_streams}}) {
    if (Status s = check_count(key, v); !s) return s;
  }
  auto over = [](int tenant, int process) { return tenant > 0 && process > 0 && tenant > process; };
  if (over(tenant_sessions, process_sessions)) {
    return Error(Errc::invalid_argument, "limits.tenant_sessions: must not exceed limits.process_sessions");
  }
  if (over(tenant_logins, process_logins)) {
    return Error(Errc::invalid_argument, "limits.tenant_logins: must not exceed limits.process_logins");
  }
  if (over(tenant_streams, process_streams)) {
    return Error(Errc::invalid_argument, "limits.tenant_streams: must not exceed limits.process_streams");
  }
  return {};
}

struct TenantLimits::Shared {
  struct Tenant {
    std::array<std::size_t, kKinds> held{};
    std::optional<throttle::TokenBucket> requests;
    std::optional<throttle::TokenBucket> logins;
  };
  struct Parked {
    Lease session;
    Lease login;
    std::array<int, 3> attempts{};  // by Attempt
  };

  std::mutex mu;
  std::unordered_map<std::string, Tenant, StringHash, std::equal_to<>> tenants;  // guarded by mu
  std::array<std::size_t, kKinds> process{};                                   // guarded by mu
  std::unordered_map<std::string, Parked, StringHash, std::equal_to<>> parked;   // guarded by mu
  std::size_t created_since_sweep = 0;                                         // guarded by mu

  Tenant& tenant_locked(std::string_view id) {
    auto it = tenants.find(id);
    if (it == tenants.end()) {
      ++created_since_sweep;
      it = tenants.emplace(std::string(id), Tenant{}).first;
    }
    return it->second;
  }
  void take_locked(std::string_view tenant_id, Kind kind) {
    ++tenant_locked(tenant_id).held[index(kind)];
    ++process[index(kind)];
  }
  void give_back(std::string_view tenant_id, Kind kind) {
    std::lock_guard lock(mu);
    auto it = tenants.find(tenant_id);
    if (it != tenants.end() && it->second.held[index(kind)] > 0) --it->second.held[index(kind)];
    if (process[index(kind)] > 0) --process[index(kind)];
  }
  std::size_t sweep_locked(Clock::TimePoint now) {
    created_since_sweep = 0;
    return std::erase_if(tenants, [now](const auto& kv) {
      const Tenant& t = kv.second;
      for (std::size_t n : t.held) {
        if (n != 0) return false;
      }
      return (!t.requests || t.requests->idle(now)) && (!t.logins || t.logins->idle(now));
    });
  }
};

// --- Lease ----------------------------------------------------------------------------------------
TenantLimits::Lease::Lease(Lease&& o) noexcept
    : shared_(std::move(o.shared_)), tenant_id_(std::move(o.tenant_id_)), kind_(o.kind_) {
  o.shared_.reset();
}

TenantLimits::Lease& TenantLimits::Lease::operator=(Lease&& o) noexcept {
  if (this != &o) {
    release();
    shared_ = std::move(o.shared_);
    o.shared_.reset();
    tenant_id_ = std::move(o.tenant_id_);
    kind_ = o.kind_;
  }
  return *this;
}

void TenantLimits::Lease::release() noexcept {
  if (!shared_) return;
  std::shared_ptr<Shared> s = std::move(shared_);
  shared_.reset();
  s->give_back(tenant_id_, kind_);
}

// --- TenantLimits ---------------------------------------------------------------------------------
TenantLimits::TenantLimits(TenantLimitsOptions options, const Clock& clock, telemetry::Rejections* rejections)
    : options_(std::move(options)), clock_(clock), rejections_(rejections), shared_(std::make_shared<Shared>()) {}

TenantLimits::~TenantLimits() {
  // Parked leases point back at the shared state: give them back outside the lock, which also breaks
  // the reference cycle.
  decltype(Shared::parked) parked;
  {
    std::lock_guard lock(shared_->mu);
    parked.swap(shared_->parked);
  }
}

std::optional<TenantLimits::Refusal> TenantLimits::refuse(RejectReason reason, bool process_wide, int retry_after_s,
                                                          std::string message) const {
  if (rejections_ != nullptr) rejections_->count(reason);
  return Refusal{reason, process_wide, retry_after_s, std::move(message)};
}

std::optional<TenantLimits::Refusal> TenantLimits::admit_request(std::string_view tenant_id) {
  if (options_.tenant_request_rate <= 0) return std::nullopt;
  const auto now = clock_.now();
  Clock::Duration wait{0};
  {
    std::lock_guard lock(shared_->mu);
    if (shared_->created_since_sweep >= kSweepEvery) shared_->sweep_locked(now);
    Shared::Tenant& t = shared_->tenant_locked(tenant_id);
    if (!t.requests) {
      t.requests.emplace(throttle::BucketLimit{options_.tenant_request_rate, options_.tenant_request_burst}, fixed(),
                         now);
    }
    if (t.requests->try_take(now)) return std::nullopt;
    wait = t.requests->time_until_available(now);
  }
  return refuse(RejectReason::tenant_quota, false, retry_after(wait), "the tenant's request quota is spent");
}

boost::asio::awaitable<std::optional<TenantLimits::Refusal>> TenantLimits::admit_request_async(std::string tenant_id) {
  if (shared_quota_ == nullptr || options_.tenant_request_rate <= 0) co_return admit_request(tenant_id);
  boost::asio::awaitable<throttle::SharedRequestQuota::Verdict> asked =
      shared_quota_->admit(tenant_id, options_.tenant_request_rate, options_.tenant_request_burst);
  const throttle::SharedRequestQuota::Verdict verdict = co_await std::move(asked);
  switch (verdict.outcome) {
    case throttle::SharedRequestQuota::Outcome::allowed:
      co_return std::nullopt;
    case throttle::SharedRequestQuota::Outcome::refused:
      co_return refuse(RejectReason::tenant_quota, false, retry_after(verdict.retry_after),
                       "the tenant's request quota is spent");
    case throttle::SharedRequestQuota::Outcome::unavailable:
      break;
  }
  co_return admit_request(tenant_id);  // Redis is away: this node's bucket decides
}

TenantLimits::LoginAdmission TenantLimits::admit_login(std::string_view tenant_id) {
  LoginAdmission out;
  const auto now = clock_.now();
  const auto& o = options_;
  auto at_cap = [](std::size_t held, int cap) { return cap > 0 && held >= static_cast<std::size_t>(cap); };
  {
    std::lock_guard lock(shared_->mu);
    Shared::Tenant& t = shared_->tenant_locked(tenant_id);
    const auto& p = shared_->process;
    std::optional<Refusal> r;
    if (at_cap(t.held[index(Kind::session)], o.tenant_sessions)) {
      r = Refusal{RejectReason::sessions_cap, false, 0, "the tenant has its maximum of live sessions"};
    } else if (at_cap(t.held[index(Kind::login)], o.tenant_logins)) {
      r = Refusal{RejectReason::logins_cap, false, kLoginRetryS, "the tenant has its maximum of logins in progress"};
    } else if (at_cap(p[index(Kind::session)], o.process_sessions)) {
      r = Refusal{RejectReason::sessions_cap, true, kProcessRetryS, "the service has its maximum of live sessions"};
    } else if (at_cap(p[index(Kind::login)], o.process_logins)) {
      r = Refusal{RejectReason::logins_cap, true, kProcessRetryS, "the service has its maximum of logins in progress"};
    } else if (o.tenant_logins_per_minute > 0) {
      if (!t.logins) {
        t.logins.emplace(throttle::BucketLimit{o.tenant_logins_per_minute / 60.0,
                                               static_cast<double>(o.tenant_logins_per_minute)},
                         fixed(), now);
      }
      if (!t.logins->try_take(now)) {
        r = Refusal{RejectReason::login_rate, false, retry_after(t.logins->time_until_available(now)),
                    "the tenant created its maximum of logins per minute"};
      }
    }
    if (!r) {
      shared_->take_locked(tenant_id, Kind::session);
      shared_->take_locked(tenant_id, Kind::login);
    } else {
      out.refusal = std::move(r);
    }
  }
  if (out.refusal) {
    if (rejections_ != nullptr) rejections_->count(out.refusal->reason);
    return out;
  }
  out.session = Lease(shared_, std::string(tenant_id), Kind::session);
  out.login = Lease(shared_, std::string(tenant_id), Kind::login);
  return out;
}

TenantLimits::StreamAdmission TenantLimits::admit_stream(std::string_view tenant_id) {
  StreamAdmission out;
  auto at_cap = [](std::size_t held, int cap) { return cap > 0 && held >= static_cast<std::size_t>(cap); };
  {
    std::lock_guard lock(shared_->mu);
    Shared::Tenant& t = shared_->tenant_locked(tenant_id);
    if (at_cap(t.held[index(Kind::stream)], options_.tenant_streams)) {
      out.refusal = Refusal{RejectReason::streams_cap, false, kStreamRetryS,
                            "the tenant has its maximum of open event streams"};
    } else if (at_cap(shared_->process[index(Kind::stream)], options_.process_streams)) {
      out.refusal = Refusal{RejectReason::streams_cap, true, kProcessRetryS,
                            "the service has its maximum of open event streams"};
    } else {
      shared_->take_locked(tenant_id, Kind::stream);
    }
  }
  if (out.refusal) {
    if (rejections_ != nullptr) rejections_->count(out.refusal->reason);
    return out;
  }
  out.stream = Lease(shared_, std::string(tenant_id), Kind::stream);
  return out;
}

void TenantLimits::attach(const std::string& session_id, Lease session, Lease login) {
  std::lock_guard lock(shared_->mu);
  Shared::Parked& p = shared_->parked[session_id];
  // Any earlier leases of the same id are swapped out and given back after the lock is released.
  std::swap(p.session, session);
  std::swap(p.login, login);
}

void TenantLimits::attach_restored(const std::string& session_id, std::string tenant_id) {
  Lease lease;
  {
    std::lock_guard lock(shared_->mu);
    if (shared_->parked.count(session_id) != 0) return;
    shared_->take_locked(tenant_id, Kind::session);
    lease = Lease(shared_, std::move(tenant_id), Kind::session);
    shared_->parked[session_id].session = std::move(lease);
  }
}

void TenantLimits::login_ended(std::string_view session_id) {
  Lease login;
  {
    std::lock_guard lock(shared_->mu);
    auto it = shared_->parked.find(session_id);
    if (it == shared_->parked.end()) return;
    login = std::move(it->second.login);
  }
}

void TenantLimits::session_ended(std::string_view session_id) {
  std::optional<Shared::Parked> gone;
  {
    std::lock_guard lock(shared_->mu);
    auto it = shared_->parked.find(session_id);
    if (it == shared_->parked.end()) return;
    gone.emplace(std::move(it->second));
    shared_->parked.erase(it);
  }
}

std::optional<TenantLimits::Refusal> TenantLimits::admit_attempt(std::string_view session_id, Attempt what) {
  const int limit = what == Attempt::password ? options_.password_attempts : options_.code_attempts;
  if (limit <= 0) return std::nullopt;
  const auto slot = static_cast<std::size_t>(what);
  {
    std::lock_guard lock(shared_->mu);
    auto it = shared_->parked.find(session_id);
    // An id without slots is a login that ended (or never was one): nothing to try any more.
    if (it != shared_->parked.end() && it->second.attempts[slot] < limit) {
      ++it->second.attempts[slot];
      return std::nullopt;
    }
  }
  if (what == Attempt::code) {
    return refuse(RejectReason::code_attempts, false, 0, "the login has no code attempts left");
  }
  if (what == Attempt::phone_number) {
    return refuse(RejectReason::code_attempts, false, 0, "the login has no phone number attempts left");
  }
  return refuse(RejectReason::password_attempts, false, 0, "the login has no password attempts left");
}

void TenantLimits::refund_attempt(std::string_view session_id, Attempt what) {
  const int limit = what == Attempt::password ? options_.password_attempts : options_.code_attempts;
  if (limit <= 0) return;
  const auto slot = static_cast<std::size_t>(what);
  std::lock_guard lock(shared_->mu);
  auto it = shared_->parked.find(session_id);
  if (it != shared_->parked.end() && it->second.attempts[slot] > 0) --it->second.attempts[slot];
}

int TenantLimits::attempts_left(std::string_view session_id, Attempt what) const {
  const int limit = what == Attempt::password ? options_.password_attempts : options_.code_attempts;
  if (limit <= 0) return -1;
  const auto slot = static_cast<std::size_t>(what);
  std::lock_guard lock(shared_->mu);
  auto it = shared_->parked.find(session_id);
  const int used = it == shared_->parked.end() ? 0 : it->second.attempts[slot];
  return std::max(0, limit - used);
}

void TenantLimits::forget_tenant(std::string_view tenant_id) {
  std::lock_guard lock(shared_->mu);
  auto it = shared_->tenants.find(tenant_id);
  if (it == shared_->tenants.end()) return;
  it->second.requests.reset();
  it->second.logins.reset();
}

std::size_t TenantLimits::forget_idle() {
  const auto now = clock_.now();
  std::lock_guard lock(shared_->mu);
  return shared_->sweep_locked(now);
}

std::size_t TenantLimits::held(Kind kind, std::string_view tenant_id) const {
  std::lock_guard lock(shared_->mu);
  if (tenant_id.empty()) return shared_->process[index(kind)];
  auto it = shared_->tenants.find(tenant_id);
  return it == shared_->tenants.end() ? 0 : it->second.held[index(kind)];
}

}  // namespace tgpulse::session
