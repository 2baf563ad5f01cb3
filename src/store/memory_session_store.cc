#include "store/memory_session_store.h"

#include <algorithm>

#include "store/tenant_tokens.h"

namespace tgpulse::store {
namespace {

Error no_session() { return Error(Errc::not_found, "no such session"); }
Error no_tenant() { return Error(Errc::not_found, "no such tenant"); }

void sort_sessions(std::vector<SessionRecord>& v) {
  std::sort(v.begin(), v.end(), [](const SessionRecord& a, const SessionRecord& b) {
    return a.created_at_ms != b.created_at_ms ? a.created_at_ms < b.created_at_ms : a.session_id < b.session_id;
  });
}

}  // namespace

std::int64_t MemorySessionStore::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.wall().time_since_epoch()).count();
}

template <typename Pred>
std::vector<SessionRecord> MemorySessionStore::select_locked(Pred pred) const {
  std::vector<SessionRecord> out;
  for (const auto& [id, s] : sessions_) {
    if (pred(s)) out.push_back(s);
  }
  sort_sessions(out);
  return out;
}

Status MemorySessionStore::create_tenant(const TenantRecord& tenant) {
  if (auto valid = validate_tenant_record(tenant); !valid) return valid;
  std::lock_guard lock(mu_);
  if (tenants_.count(tenant.tenant_id) != 0) return Error(Errc::conflict, "tenant already exists");
  for (const auto& [id, t] : tenants_) {
    if (t.token_hash == tenant.token_hash) return Error(Errc::conflict, "token hash already in use");
  }
  tenants_.emplace(tenant.tenant_id, tenant);
  return {};
}

Result<TenantRecord> MemorySessionStore::get_tenant(std::string_view tenant_id) {
  std::lock_guard lock(mu_);
  auto it = tenants_.find(tenant_id);
  if (it == tenants_.end()) return no_tenant();
  return it->second;
}

Result<std::optional<std::string>> MemorySessionStore::tenant_proxy(std::string_view tenant_id) {
  std::lock_guard lock(mu_);
  if (tenants_.find(tenant_id) == tenants_.end()) return no_tenant();
  auto it = proxies_.find(tenant_id);
  if (it == proxies_.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

Status MemorySessionStore::set_tenant_proxy(std::string_view tenant_id, const std::optional<std::string>& proxy) {
  std::lock_guard lock(mu_);
  if (tenants_.find(tenant_id) == tenants_.end()) return no_tenant();
  if (proxy) {
    proxies_.insert_or_assign(std::string(tenant_id), *proxy);
  } else if (auto it = proxies_.find(tenant_id); it != proxies_.end()) {
    proxies_.erase(it);
  }
  return {};
}

Result<std::vector<TenantRecord>> MemorySessionStore::list_tenants() {
  std::lock_guard lock(mu_);
  std::vector<TenantRecord> out;
  for (const auto& [id, t] : tenants_) out.push_back(t);
  return out;
}

Status MemorySessionStore::delete_tenant(std::string_view tenant_id, TenantDeletion mode) {
  std::lock_guard lock(mu_);
  auto it = tenants_.find(tenant_id);
  if (it == tenants_.end()) return no_tenant();
  const bool has_sessions = std::any_of(sessions_.begin(), sessions_.end(),
                                        [&](const auto& kv) { return kv.second.tenant_id == tenant_id; });
  if (has_sessions && mode == TenantDeletion::only_if_empty) {
    return Error(Errc::conflict, "tenant still has sessions");
  }
  std::erase_if(sessions_, [&](const auto& kv) { return kv.second.tenant_id == tenant_id; });
  tenants_.erase(it);
  if (auto p = proxies_.find(tenant_id); p != proxies_.end()) proxies_.erase(p);
  return {};
}

Result<TenantRecord> MemorySessionStore::find_tenant_by_token(std::string_view token) {
  const std::string hash = TenantTokens::hash_token(token);
  std::lock_guard lock(mu_);
  for (const auto& [id, t] : tenants_) {
    if (TenantTokens::constant_time_equal(t.token_hash, hash)) return t;
  }
  return Error(Errc::unauthorized, "no tenant has this token");
}

Status MemorySessionStore::create_session(const SessionRecord& session) {
  if (auto valid = validate_session_record(session); !valid) return valid;
  std::lock_guard lock(mu_);
  if (tenants_.count(session.tenant_id) == 0) return no_tenant();
  if (sessions_.count(session.session_id) != 0) return Error(Errc::conflict, "session already exists");
  SessionRecord stored = session;
  stored.updated_at_ms = now_ms();
  sessions_.emplace(stored.session_id, std::move(stored));
  return {};
}

Result<SessionRecord> MemorySessionStore::get_session(std::string_view tenant_id, std::string_view session_id) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(session_id);
  if (it == sessions_.end() || it->second.tenant_id != tenant_id) return no_session();
  return it->second;
}

Result<SessionRecord> MemorySessionStore::find_session(std::string_view session_id) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) return no_session();
  return it->second;
}

Result<std::vector<SessionRecord>> MemorySessionStore::list_sessions(std::string_view tenant_id) {
  std::lock_guard lock(mu_);
  return select_locked([&](const SessionRecord& s) { return s.tenant_id == tenant_id; });
}

Result<std::vector<SessionRecord>> MemorySessionStore::list_sessions_by_state(SessionState state) {
  std::lock_guard lock(mu_);
  return select_locked([&](const SessionRecord& s) { return s.state == state; });
}

Result<std::vector<SessionRecord>> MemorySessionStore::list_all_sessions() {
  std::lock_guard lock(mu_);
  return select_locked([](const SessionRecord&) { return true; });
}

Result<SessionRecord> MemorySessionStore::update_state(std::string_view session_id,
                                                       const SessionStateChange& change) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) return no_session();
  SessionRecord& s = it->second;
  if (change.expected_from && s.state != *change.expected_from) {
    return Error(Errc::conflict, std::string("session is ") + session_state_name(s.state) + ", not " +
                                     session_state_name(*change.expected_from));
  }
  s.state = change.to;
  if (change.cleanup_trigger) s.cleanup_trigger = *change.cleanup_trigger;
  if (change.cleanup_logout) s.cleanup_logout = *change.cleanup_logout;
  if (change.authorized_at_ms) s.authorized_at_ms = change.authorized_at_ms;
  if (change.user_id) s.user_id = change.user_id;
  s.updated_at_ms = now_ms();
  return s;
}

Status MemorySessionStore::touch_last_used(std::string_view session_id, std::int64_t used_at_ms) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) return no_session();
  it->second.last_used_at_ms = std::max(it->second.last_used_at_ms, used_at_ms);
  it->second.updated_at_ms = now_ms();
  return {};
}

Status MemorySessionStore::delete_session(std::string_view session_id) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) return no_session();
  sessions_.erase(it);
  return {};
}

}  // namespace tgpulse::store
