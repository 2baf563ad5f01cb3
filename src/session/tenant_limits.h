// TenantLimits: what one tenant may hold and how fast it may ask, so that no tenant can starve the
// others or the process (docs/security-isolation.md):
//
//   request quota      one token bucket per tenant across all its routes (not per method, not per
//                      route): refused → 429 tenant_quota with Retry-After. With a SharedRequestQuota
//                      (quota.redis_url) the bucket is in Redis, shared by every node; while Redis is
//                      away each request is decided on this node's bucket (admit_request_async)
//   live sessions      per tenant (429 sessions_cap) and per process (503 sessions_cap); logins count
//   logins running     per tenant (429 logins_cap) and per process (503 logins_cap)
//   login creations    per tenant per minute (429 login_rate with Retry-After)
//   password attempts  per login (429 password_attempts once spent; the route then ends the login)
//   code attempts      per phone login: wrong codes (429 code_attempts once spent; the login then ends)
//   event streams      per tenant (429 streams_cap) and per process (503 streams_cap); a page stream
//                      counts against the tenant that owns the session
//
// Holding is accounted with leases: acquire → a Lease; destroying or release()-ing it gives the slot
// back, on every path (error, client gone, shutdown). Sessions and logins outlive the HTTP request that
// created them, so their leases are parked here by session id (attach()) and given back by
// login_ended() / session_ended(), which the session layer calls when a login reaches its outcome and
// when the session leaves the live map. Every refusal is counted once in tgpulse_rejected_total{reason}.
//
// Memory: per tenant one small entry (counts + two buckets); entries of tenants holding nothing whose
// buckets are full are dropped by forget_idle() and at most every 1024 new entries; tenants are
// authenticated, so the map is bounded by the tenants that exist.
//
// Thread-safety: thread-safe (one mutex, O(1) per call); leases may be released from any thread and
// may outlive the TenantLimits (they keep the shared state alive).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <utility>  // before Boost.Asio 1.74's awaitable.hpp, which uses std::exchange without it

#include <boost/asio/awaitable.hpp>

#include "core/clock.h"
#include "core/result.h"
#include "telemetry/rejections.h"
#include "throttle/shared_request_quota.h"

namespace tgpulse::session {

struct TenantLimitsOptions {
  // limits.tenant_request_rate / limits.tenant_request_burst: one bucket per tenant across every tenant
  // route. 100 requests/s sustained with a burst of 200: far above what the accounts of a tenant may
  // send to Telegram (sessions are throttled to 10 calls/s each, sendMessage to 1/s) yet a hard bound on
  // what one tenant may cost the shared HTTP threads. 0 = no quota.
  double tenant_request_rate = 100;
  double tenant_request_burst = 200;
  // limits.tenant_sessions / limits.process_sessions: live sessions (logins included). A real TDLib
  // client holds about 0.5-1 MB and several file descriptors: 5000 per process ≈ 5 GB at most; 1000 per
  // tenant keeps five tenants from filling a process. 0 = no cap.
  int tenant_sessions = 1000;
  int process_sessions = 5000;
  // limits.tenant_logins / limits.process_logins: QR logins in progress (qr_pending or
  // password_required). A person scans a QR in seconds; 20 at once per tenant is a busy onboarding
  // desk, 200 per process keeps engine start-up work bounded. 0 = no cap.
  int tenant_logins = 20;
  int process_logins = 200;
  // limits.tenant_logins_per_minute: login creations per tenant per minute (a bucket of this size
  // refilled over a minute). 30 = one every 2 s on average. 0 = no limit.
  int tenant_logins_per_minute = 30;
  // limits.password_attempts: 2FA password submissions per login; the login ends after this many
  // wrong ones. 5 — enough for typos, too few to guess. 0 = no limit.
  int password_attempts = 5;
  // limits.code_attempts: login codes submitted per phone login, and phone numbers submitted per phone
  // login (counted apart); the login ends after this many wrong ones. Numbers are bounded so a page-key
  // holder cannot use a login to probe which numbers Telegram accepts. Telegram's codes are 5 digits: 5 tries leave a guesser 1 chance in 20,000. 0 = no limit.
  int code_attempts = 5;
  // limits.tenant_streams / limits.process_streams: open event streams (tenant and page streams).
  // Each holds a connection; 50 per tenant covers a dashboard per running login; 1000 per process
  // stays well inside server.max_connections. 0 = no cap.
  int tenant_streams = 50;
  int process_streams = 1000;
  // limits.auth_failure_rate / limits.auth_failure_burst / limits.auth_failure_clients: unknown bearer
  // tokens one client address (IPv4, or IPv6 /64) may try (AuthFailureLimiter). Each costs a store
  // lookup on the shared pool; past the bucket → 429 auth_failures with Retry-After, no store call.
  // 1/s with a burst of 10: a person mistyping a token or a client with a stale one never notices;
  // a flood from one address costs the pool at most one lookup a second. Clients tracked at most:
  // 10,000 (≈1 MB); beyond that new addresses share one bucket. Rate 0 = no limit.
  double auth_failure_rate = 1;
  double auth_failure_burst = 10;
  int auth_failure_clients = 10'000;

  // Checks every value; the error names the key ("limits.tenant_sessions: ...").
  Status validate() const;

  bool operator==(const TenantLimitsOptions&) const = default;
};

class TenantLimits {
 public:
  enum class Kind { session, login, stream };

  // Why a request was refused: the reason (its metric label and JSON error code), whether the tenant's
  // own cap (429) or the process's (503) was hit, and when to try again (0: waiting does not help).
  struct Refusal {
    telemetry::RejectReason reason = telemetry::RejectReason::tenant_quota;
    bool process_wide = false;
    int retry_after_s = 0;
    std::string message;  // for the JSON error; names the limit, never a secret
  };

  struct Shared;
  // One held slot. Move-only; gives the slot back when destroyed or released (idempotent).
  class Lease {
   public:
    Lease() = default;
    ~Lease() { release(); }
    Lease(Lease&& o) noexcept;
    Lease& operator=(Lease&& o) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    void release() noexcept;
    bool held() const noexcept { return shared_ != nullptr; }

   private:
    friend class TenantLimits;
    Lease(std::shared_ptr<Shared> shared, std::string tenant_id, Kind kind)
        : shared_(std::move(shared)), tenant_id_(std::move(tenant_id)), kind_(kind) {}
    std::shared_ptr<Shared> shared_;
    std::string tenant_id_;
    Kind kind_ = Kind::session;
  };

  // A login admission: its session slot and its login slot (both held), or why not.
  struct LoginAdmission {
    Lease session;
    Lease login;
    std::optional<Refusal> refusal;
  };
  struct StreamAdmission {
    Lease stream;
    std::optional<Refusal> refusal;
  };

  // `rejections` may be null (tests that only look at the answers).
  TenantLimits(TenantLimitsOptions options, const Clock& clock, telemetry::Rejections* rejections);
  ~TenantLimits();
  TenantLimits(const TenantLimits&) = delete;
  TenantLimits& operator=(const TenantLimits&) = delete;

  const TenantLimitsOptions& options() const noexcept { return options_; }

  // One request of the tenant on any tenant route: a token now, or tenant_quota with Retry-After.
  std::optional<Refusal> admit_request(std::string_view tenant_id);
  // The same, cluster-wide: from the shared quota when one is set and Redis answers, else (no shared
  // quota, Redis failed or its breaker is open) admit_request(). Runs on the caller's executor.
  boost::asio::awaitable<std::optional<Refusal>> admit_request_async(std::string tenant_id);
  // The cluster-wide request quota (null, the default: per-node buckets only). Set before requests come;
  // must outlive this object.
  void set_shared_quota(throttle::SharedRequestQuota* shared) { shared_quota_ = shared; }
  // A new QR login: login rate, then session and login caps (tenant first, then process); all or
  // nothing — a refusal takes no slot and no rate token.
  LoginAdmission admit_login(std::string_view tenant_id);
  // One more event stream of the tenant.
  StreamAdmission admit_stream(std::string_view tenant_id);

  // Parks a login's leases under its session id until login_ended()/session_ended().
  void attach(const std::string& session_id, Lease session, Lease login);
  // A session that exists without a request (restored at start-up): counted over any cap.
  void attach_restored(const std::string& session_id, std::string tenant_id);
  // The login reached its outcome (authorized, expired, failed): its login slot and attempts go.
  void login_ended(std::string_view session_id);
  // The session left the live map: every slot it held goes.
  void session_ended(std::string_view session_id);

  // What a login's attempts are spent on: 2FA passwords, login codes, or phone numbers Telegram refused
  // (phone logins; numbers and codes each get limits.code_attempts). Counted apart.
  enum class Attempt { password, code, phone_number };
  // One attempt on the login `session_id`: nullopt and counted when attempts are left;
  // password_attempts / code_attempts (no Retry-After) when they are spent or the login is no longer
  // attached.
  std::optional<Refusal> admit_attempt(std::string_view session_id, Attempt what);
  // Gives back the attempt admit_attempt took when the secret was never checked (Telegram answered a
  // FloodWait, the engine was unavailable): only a checked password or code spends an attempt.
  void refund_attempt(std::string_view session_id, Attempt what);
  // How many attempts the login has left (after admit_attempt); -1 when unlimited.
  int attempts_left(std::string_view session_id, Attempt what) const;
  std::optional<Refusal> admit_password(std::string_view session_id) { return admit_attempt(session_id, Attempt::password); }
  void refund_password(std::string_view session_id) { refund_attempt(session_id, Attempt::password); }
  int password_attempts_left(std::string_view session_id) const { return attempts_left(session_id, Attempt::password); }

  // The tenant was deleted: drop its buckets (its sessions end through session_ended()).
  void forget_tenant(std::string_view tenant_id);
  // Drops entries of tenants that hold nothing and whose buckets are full; returns how many.
  std::size_t forget_idle();

  // Current counts (tests, gauges): per tenant, and for the process when tenant_id is empty.
  std::size_t held(Kind kind, std::string_view tenant_id = {}) const;

 private:
  std::optional<Refusal> refuse(telemetry::RejectReason reason, bool process_wide, int retry_after_s,
                                std::string message) const;

  const TenantLimitsOptions options_;
  const Clock& clock_;
  throttle::SharedRequestQuota* shared_quota_ = nullptr;
  telemetry::Rejections* rejections_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace tgpulse::session
