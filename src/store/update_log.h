// UpdateLog: the durable per-tenant log of updates (TDLib's update objects and the service's own events)
// waiting to be read by the tenant (docs/updates.md). SqliteUpdateLog is the real one
// (sqlite_update_log.h); MemoryUpdateLog is the test double with the same semantics
// (memory_update_log.h). Both pass the same typed test suite (update_log_test.cc).
//
// Semantics every implementation keeps:
// - update_id is assigned by the log on append: per tenant, starting at 1, each append continuing from
//   the highest id ever assigned to that tenant (also after everything was acknowledged or dropped, and
//   after a restart) — an id is never reused while the tenant exists. A failed append assigns nothing.
// - Long polling and the stream delete only a prefix of a tenant's log (acknowledge below an offset;
//   trim the oldest), so the ids they can still read are contiguous and a gap is exactly what was
//   dropped. Webhook deliveries remove the ids a receiver took (remove()), one session at a time, so a
//   tenant with a webhook has holes in its log: trim() counts rows, not id spans.
// - A tenant's log, its highest id and its settings go when the tenant is deleted (delete_tenant; the
//   SQLite log also follows the tenants table by foreign key). Updates appended for a tenant that no
//   longer exists are not stored (absent from append's answer).
// - Errors are Result values: Errc::invalid_argument for a bad offset or limit, Errc::store_error when
//   the storage fails (the message names the operation, never a payload).
//
// Mapping onto PostgreSQL later: plain SQL, a (tenant_id, update_id) primary key, one transaction (one
// round trip of statements) per appended batch; nothing here needs SQLite-only features.
//
// Thread-safety: every implementation is thread-safe. Calls block (a lock, the disk): event-loop code
// calls them on the blocking pool, never directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace tgpulse::store {

// An update to append: the log assigns its update_id.
struct NewUpdate {
  std::string tenant_id;
  std::string session_id;       // the session that received it; "" for a tenant-wide service event
  std::int64_t received_at_ms = 0;  // wall clock, when the service received it
  std::string payload;          // the update object as JSON text, unchanged
};

// An update as the log keeps it.
struct StoredUpdate {
  std::string tenant_id;
  std::int64_t update_id = 0;
  std::string session_id;
  std::int64_t received_at_ms = 0;
  std::string payload;

  bool operator==(const StoredUpdate&) const = default;
};

// What append() answers for each stored update: where it went, without a copy of its payload (the
// caller has the batch; the hub needs only which tenants to wake).
struct AppendedUpdate {
  std::string tenant_id;
  std::int64_t update_id = 0;

  bool operator==(const AppendedUpdate&) const = default;
};

// A run of update ids, both ends included.
struct UpdateIdRange {
  std::int64_t first = 0;
  std::int64_t last = 0;
  std::int64_t count() const noexcept { return last - first + 1; }
  bool operator==(const UpdateIdRange&) const = default;
};

// What trim() removed, by the limit that removed it. Each is empty or one range (trim removes a prefix).
struct TrimmedUpdates {
  std::optional<UpdateIdRange> by_age;    // older than the age limit
  std::optional<UpdateIdRange> by_count;  // over max_pending, after the age limit was applied
  std::int64_t dropped() const noexcept {
    return (by_age ? by_age->count() : 0) + (by_count ? by_count->count() : 0);
  }
};

// A tenant's webhook (docs/api.md#webhooks): where its updates are POSTed and the secret that signs them.
struct WebhookRecord {
  std::string tenant_id;
  std::string url;                     // as the tenant gave it (validated by the routes)
  std::string secret;                  // never returned by a route, never logged; sealed at rest (SQLite, master key)
  std::int64_t max_connections = 40;   // POSTs in flight at once for the tenant
  std::int64_t updated_at_ms = 0;      // wall clock, when it was set

  bool operator==(const WebhookRecord&) const = default;
};

// The most ids one remove() takes.
inline constexpr std::size_t kMaxUpdateRemove = 1000;

// The largest page read() returns.
inline constexpr std::size_t kMaxUpdateReadLimit = 1000;

class UpdateLog {
 public:
  virtual ~UpdateLog() = default;

  // Appends the batch in one transaction, assigning ids per tenant in batch order. Returns the tenant
  // and id of each update stored, in batch order (rows of a tenant that does not exist are left out).
  virtual Result<std::vector<AppendedUpdate>> append(const std::vector<NewUpdate>& batch) = 0;
  // Up to `limit` (1..kMaxUpdateReadLimit) of the tenant's updates with update_id >= from_id, in id
  // order; only those of `session_id` when it is not empty. invalid_argument: from_id < 0 or a bad limit.
  virtual Result<std::vector<StoredUpdate>> read(std::string_view tenant_id, std::int64_t from_id, std::size_t limit,
                                                 std::string_view session_id = {}) = 0;
  // Deletes the tenant's updates with update_id < below_id; returns how many went.
  virtual Result<std::int64_t> acknowledge(std::string_view tenant_id, std::int64_t below_id) = 0;
  // Deletes exactly these ids of the tenant (a webhook delivery's answer: what its receiver took);
  // ids that are not there are skipped. Returns how many went. invalid_argument past kMaxUpdateRemove.
  virtual Result<std::int64_t> remove(std::string_view tenant_id, const std::vector<std::int64_t>& update_ids) = 0;
  // How many of the tenant's updates are stored.
  virtual Result<std::int64_t> count_pending(std::string_view tenant_id) = 0;
  // The highest update_id ever assigned to the tenant (0 before the first).
  virtual Result<std::int64_t> last_update_id(std::string_view tenant_id) = 0;
  // Drops the tenant's oldest updates: first every one received before min_received_at_ms (a prefix:
  // everything below the first update received at or after it), then the oldest of the rest until at
  // most max_pending (>= 0) remain. Returns exactly which ids went, by limit.
  virtual Result<TrimmedUpdates> trim(std::string_view tenant_id, std::int64_t max_pending,
                                      std::int64_t min_received_at_ms) = 0;
  // The tenant's allowed_updates setting as the JSON text it was saved as; nullopt when never set.
  virtual Result<std::optional<std::string>> allowed_updates(std::string_view tenant_id) = 0;
  virtual Status set_allowed_updates(std::string_view tenant_id, std::string_view json) = 0;
  // The tenant's webhook; nullopt when none is set.
  virtual Result<std::optional<WebhookRecord>> webhook(std::string_view tenant_id) = 0;
  // Sets (or replaces) the tenant's webhook. not_found when the tenant does not exist.
  virtual Status set_webhook(const WebhookRecord& webhook) = 0;
  // Removes the tenant's webhook; false when there was none.
  virtual Result<bool> delete_webhook(std::string_view tenant_id) = 0;
  // Every tenant's webhook, by tenant id (at start-up, to resume their deliveries).
  virtual Result<std::vector<WebhookRecord>> webhooks() = 0;
  // Forgets the tenant's log, highest id, settings and webhook.
  virtual Status delete_tenant(std::string_view tenant_id) = 0;
};

// The checks both implementations make on read()'s arguments.
Status validate_update_read(std::int64_t from_id, std::size_t limit);

}  // namespace tgpulse::store
