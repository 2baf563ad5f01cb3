#include "store/async_session_store.h"

namespace tgpulse::store {

// Each job captures the store by pointer and its arguments by value (moved in): the job runs on a pool
// thread after this function has returned.

AsyncSessionStore::Awaitable<void> AsyncSessionStore::create_tenant(TenantRecord tenant) {
  return pool_.run([s = &store_, tenant = std::move(tenant)] { return s->create_tenant(tenant); });
}

AsyncSessionStore::Awaitable<std::optional<std::string>> AsyncSessionStore::tenant_proxy(std::string tenant_id) {
  return pool_.run([s = &store_, id = std::move(tenant_id)] { return s->tenant_proxy(id); });
}

AsyncSessionStore::Awaitable<void> AsyncSessionStore::set_tenant_proxy(std::string tenant_id,
                                                                      std::optional<std::string> proxy) {
  return pool_.run([s = &store_, id = std::move(tenant_id), p = std::move(proxy)] { return s->set_tenant_proxy(id, p); });
}

AsyncSessionStore::Awaitable<TenantRecord> AsyncSessionStore::get_tenant(std::string tenant_id) {
  return pool_.run([s = &store_, id = std::move(tenant_id)] { return s->get_tenant(id); });
}

AsyncSessionStore::Awaitable<std::vector<TenantRecord>> AsyncSessionStore::list_tenants() {
  return pool_.run([s = &store_] { return s->list_tenants(); });
}

AsyncSessionStore::Awaitable<void> AsyncSessionStore::delete_tenant(std::string tenant_id, TenantDeletion mode) {
  return pool_.run([s = &store_, id = std::move(tenant_id), mode] { return s->delete_tenant(id, mode); });
}

AsyncSessionStore::Awaitable<TenantRecord> AsyncSessionStore::find_tenant_by_token(std::string token) {
  return pool_.run([s = &store_, token = std::move(token)] { return s->find_tenant_by_token(token); });
}

AsyncSessionStore::Awaitable<void> AsyncSessionStore::create_session(SessionRecord session) {
  return pool_.run([s = &store_, session = std::move(session)] { return s->create_session(session); });
}

AsyncSessionStore::Awaitable<SessionRecord> AsyncSessionStore::get_session(std::string tenant_id,
                                                                           std::string session_id) {
  return pool_.run([s = &store_, tenant = std::move(tenant_id), id = std::move(session_id)] {
    return s->get_session(tenant, id);
  });
}

AsyncSessionStore::Awaitable<SessionRecord> AsyncSessionStore::find_session(std::string session_id) {
  return pool_.run([s = &store_, id = std::move(session_id)] { return s->find_session(id); });
}

AsyncSessionStore::Awaitable<std::vector<SessionRecord>> AsyncSessionStore::list_sessions(std::string tenant_id) {
  return pool_.run([s = &store_, id = std::move(tenant_id)] { return s->list_sessions(id); });
}

AsyncSessionStore::Awaitable<std::vector<SessionRecord>> AsyncSessionStore::list_all_sessions() {
  return pool_.run([s = &store_] { return s->list_all_sessions(); });
}

AsyncSessionStore::Awaitable<SessionRecord> AsyncSessionStore::update_state(std::string session_id,
                                                                            SessionStateChange change) {
  return pool_.run([s = &store_, id = std::move(session_id), change = std::move(change)] {
    return s->update_state(id, change);
  });
}

AsyncSessionStore::Awaitable<void> AsyncSessionStore::delete_session(std::string session_id) {
  return pool_.run([s = &store_, id = std::move(session_id)] { return s->delete_session(id); });
}

}  // namespace tgpulse::store
