#include "store/memory_update_log.h"

namespace tgpulse::store {

bool MemoryUpdateLog::tenant_exists(const std::string& tenant_id) {
  return tenants_ == nullptr || tenants_->get_tenant(tenant_id).ok();
}

Result<std::vector<AppendedUpdate>> MemoryUpdateLog::append(const std::vector<NewUpdate>& batch) {
  std::map<std::string, bool, std::less<>> exists;
  for (const auto& u : batch) {
    if (!exists.contains(u.tenant_id)) exists[u.tenant_id] = tenant_exists(u.tenant_id);
  }
  std::lock_guard lock(mu_);
  std::vector<AppendedUpdate> out;
  out.reserve(batch.size());
  for (const auto& u : batch) {
    if (!exists[u.tenant_id]) continue;
    TenantLog& log = logs_[u.tenant_id];
    const std::int64_t id = ++log.last_id;
    log.updates.emplace(id, StoredUpdate{u.tenant_id, id, u.session_id, u.received_at_ms, u.payload});
    out.push_back(AppendedUpdate{u.tenant_id, id});
  }
  return out;
}

Result<std::vector<StoredUpdate>> MemoryUpdateLog::read(std::string_view tenant_id, std::int64_t from_id,
                                                        std::size_t limit, std::string_view session_id) {
  if (auto valid = validate_update_read(from_id, limit); !valid) return valid.error();
  std::lock_guard lock(mu_);
  std::vector<StoredUpdate> out;
  auto it = logs_.find(tenant_id);
  if (it == logs_.end()) return out;
  for (auto u = it->second.updates.lower_bound(from_id); u != it->second.updates.end() && out.size() < limit; ++u) {
    if (session_id.empty() || u->second.session_id == session_id) out.push_back(u->second);
  }
  return out;
}

Result<std::int64_t> MemoryUpdateLog::acknowledge(std::string_view tenant_id, std::int64_t below_id) {
  std::lock_guard lock(mu_);
  auto it = logs_.find(tenant_id);
  if (it == logs_.end()) return std::int64_t{0};
  auto& updates = it->second.updates;
  const auto end = updates.lower_bound(below_id);
  const auto n = static_cast<std::int64_t>(std::distance(updates.begin(), end));
  updates.erase(updates.begin(), end);
  return n;
}

Result<std::int64_t> MemoryUpdateLog::remove(std::string_view tenant_id, const std::vector<std::int64_t>& update_ids) {
  if (update_ids.size() > kMaxUpdateRemove) return Error(Errc::invalid_argument, "too many update ids to remove");
  std::lock_guard lock(mu_);
  auto it = logs_.find(tenant_id);
  if (it == logs_.end()) return std::int64_t{0};
  std::int64_t n = 0;
  for (std::int64_t id : update_ids) n += static_cast<std::int64_t>(it->second.updates.erase(id));
  return n;
}

Result<std::int64_t> MemoryUpdateLog::count_pending(std::string_view tenant_id) {
  std::lock_guard lock(mu_);
  auto it = logs_.find(tenant_id);
  return it == logs_.end() ? std::int64_t{0} : static_cast<std::int64_t>(it->second.updates.size());
}

Result<std::int64_t> MemoryUpdateLog::last_update_id(std::string_view tenant_id) {
  std::lock_guard lock(mu_);
  auto it = logs_.find(tenant_id);
  return it == logs_.end() ? std::int64_t{0} : it->second.last_id;
}

Result<TrimmedUpdates> MemoryUpdateLog::trim(std::string_view tenant_id, std::int64_t max_pending,
                                             std::int64_t min_received_at_ms) {
  if (max_pending < 0) return Error(Errc::invalid_argument, "max_pending must not be negative");
  std::lock_guard lock(mu_);
  TrimmedUpdates out;
  auto it = logs_.find(tenant_id);
  if (it == logs_.end()) return out;
  auto& updates = it->second.updates;
  // By age: everything below the first update received at or after the limit.
  auto young = updates.begin();
  while (young != updates.end() && young->second.received_at_ms < min_received_at_ms) ++young;
  if (young != updates.begin()) {
    out.by_age = UpdateIdRange{updates.begin()->first, std::prev(young)->first};
    updates.erase(updates.begin(), young);
  }
  const auto excess = static_cast<std::int64_t>(updates.size()) - max_pending;
  if (excess > 0) {
    auto cut = std::next(updates.begin(), excess);
    out.by_count = UpdateIdRange{updates.begin()->first, std::prev(cut)->first};
    updates.erase(updates.begin(), cut);
  }
  return out;
}

Result<std::optional<std::string>> MemoryUpdateLog::allowed_updates(std::string_view tenant_id) {
  std::lock_guard lock(mu_);
  auto it = logs_.find(tenant_id);
  if (it == logs_.end()) return std::optional<std::string>{};
  return it->second.allowed_updates;
}

Status MemoryUpdateLog::set_allowed_updates(std::string_view tenant_id, std::string_view json) {
  if (!tenant_exists(std::string(tenant_id))) return Error(Errc::not_found, "no such tenant");
  std::lock_guard lock(mu_);
  logs_[std::string(tenant_id)].allowed_updates = std::string(json);
  return {};
}

Result<std::optional<WebhookRecord>> MemoryUpdateLog::webhook(std::string_view tenant_id) {
  std::lock_guard lock(mu_);
  auto it = logs_.find(tenant_id);
  if (it == logs_.end()) return std::optional<WebhookRecord>{};
  return it->second.webhook;
}

Status MemoryUpdateLog::set_webhook(const WebhookRecord& webhook) {
  if (!tenant_exists(webhook.tenant_id)) return Error(Errc::not_found, "no such tenant");
  std::lock_guard lock(mu_);
  logs_[webhook.tenant_id].webhook = webhook;
  return {};
}

Result<bool> MemoryUpdateLog::delete_webhook(std::string_view tenant_id) {
  std::lock_guard lock(mu_);
  auto it = logs_.find(tenant_id);
  if (it == logs_.end() || !it->second.webhook) return false;
  it->second.webhook.reset();
  return true;
}

Result<std::vector<WebhookRecord>> MemoryUpdateLog::webhooks() {
  std::lock_guard lock(mu_);
  std::vector<WebhookRecord> out;
  for (const auto& [tenant, log] : logs_) {
    if (log.webhook) out.push_back(*log.webhook);
  }
  return out;
}

Status MemoryUpdateLog::delete_tenant(std::string_view tenant_id) {
  std::lock_guard lock(mu_);
  if (auto it = logs_.find(tenant_id); it != logs_.end()) logs_.erase(it);
  return {};
}

}  // namespace tgpulse::store
