#include "store/slow_session_store.h"

#include <thread>

namespace tgpulse::store {

void SlowSessionStore::stall() {
  calls_.fetch_add(1, std::memory_order_relaxed);
  {
    std::unique_lock lock(gate_mu_);
    if (to_hold_ > 0) {
      --to_hold_;
      ++held_;
      gate_cv_.notify_all();
      const std::uint64_t seen = releases_;
      gate_cv_.wait_for(lock, kGateLimit, [&] { return releases_ != seen; });
      --held_;
    }
  }
  if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
}

void SlowSessionStore::hold_next(std::size_t calls) {
  std::lock_guard lock(gate_mu_);
  to_hold_ = calls;
}

void SlowSessionStore::release() {
  {
    std::lock_guard lock(gate_mu_);
    to_hold_ = 0;
    ++releases_;
  }
  gate_cv_.notify_all();
}

std::size_t SlowSessionStore::held() const {
  std::lock_guard lock(gate_mu_);
  return held_;
}

bool SlowSessionStore::wait_held(std::size_t calls, std::chrono::milliseconds limit) const {
  std::unique_lock lock(gate_mu_);
  return gate_cv_.wait_for(lock, limit, [&] { return held_ >= calls; });
}

Status SlowSessionStore::create_tenant(const TenantRecord& tenant) {
  stall();
  return inner_.create_tenant(tenant);
}
Result<TenantRecord> SlowSessionStore::get_tenant(std::string_view tenant_id) {
  stall();
  return inner_.get_tenant(tenant_id);
}
Result<std::optional<std::string>> SlowSessionStore::tenant_proxy(std::string_view tenant_id) {
  stall();
  return inner_.tenant_proxy(tenant_id);
}
Status SlowSessionStore::set_tenant_proxy(std::string_view tenant_id, const std::optional<std::string>& proxy) {
  stall();
  return inner_.set_tenant_proxy(tenant_id, proxy);
}
Result<std::vector<TenantRecord>> SlowSessionStore::list_tenants() {
  stall();
  return inner_.list_tenants();
}
Status SlowSessionStore::delete_tenant(std::string_view tenant_id, TenantDeletion mode) {
  stall();
  return inner_.delete_tenant(tenant_id, mode);
}
Result<TenantRecord> SlowSessionStore::find_tenant_by_token(std::string_view token) {
  stall();
  return inner_.find_tenant_by_token(token);
}
Status SlowSessionStore::create_session(const SessionRecord& session) {
  stall();
  return inner_.create_session(session);
}
Result<SessionRecord> SlowSessionStore::get_session(std::string_view tenant_id, std::string_view session_id) {
  stall();
  return inner_.get_session(tenant_id, session_id);
}
Result<SessionRecord> SlowSessionStore::find_session(std::string_view session_id) {
  stall();
  return inner_.find_session(session_id);
}
Result<std::vector<SessionRecord>> SlowSessionStore::list_sessions(std::string_view tenant_id) {
  stall();
  return inner_.list_sessions(tenant_id);
}
Result<std::vector<SessionRecord>> SlowSessionStore::list_sessions_by_state(SessionState state) {
  stall();
  return inner_.list_sessions_by_state(state);
}
Result<std::vector<SessionRecord>> SlowSessionStore::list_all_sessions() {
  stall();
  return inner_.list_all_sessions();
}
Result<SessionRecord> SlowSessionStore::update_state(std::string_view session_id, const SessionStateChange& change) {
  stall();
  return inner_.update_state(session_id, change);
}
Status SlowSessionStore::touch_last_used(std::string_view session_id, std::int64_t used_at_ms) {
  stall();
  return inner_.touch_last_used(session_id, used_at_ms);
}
Status SlowSessionStore::delete_session(std::string_view session_id) {
  stall();
  return inner_.delete_session(session_id);
}

}  // namespace tgpulse::store
