#include "store/postgres_update_log.h"

#include <algorithm>
#include <string>

#include <pqxx/pqxx>

#include "store/sealed_values.h"

namespace tgpulse::store {
namespace {

// A PostgreSQL array literal of text values ({"a","b\"c"}), for a text[] parameter.
std::string text_array(const std::vector<const std::string*>& values) {
  std::string out = "{";
  for (const std::string* v : values) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (char c : *v) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

template <typename Ints>
std::string int_array(const Ints& values) {
  std::string out = "{";
  for (const auto v : values) {
    if (out.size() > 1) out += ',';
    out += std::to_string(v);
  }
  return out + "}";
}

}  // namespace

std::vector<PreparedSql> PostgresUpdateLog::statements() {
  return {
      {"updates_append",
       "WITH batch AS (SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) WITH ORDINALITY"
       "                 AS b (tenant_id, session_id, received_at, payload, ord)),"
       " counts AS (SELECT tenant_id, count(*) AS n FROM batch GROUP BY tenant_id),"
       " bumped AS (INSERT INTO update_tenants AS u (tenant_id, last_update_id)"
       "            SELECT c.tenant_id, c.n FROM counts c JOIN tenants t ON t.tenant_id = c.tenant_id"
       "            ON CONFLICT (tenant_id) DO UPDATE SET last_update_id = u.last_update_id + excluded.last_update_id"
       "            RETURNING u.tenant_id, u.last_update_id),"
       " numbered AS (SELECT b.tenant_id, b.session_id, b.received_at, b.payload, b.ord,"
       "                     bu.last_update_id - c.n + row_number() OVER (PARTITION BY b.tenant_id ORDER BY b.ord)"
       "                       AS update_id"
       "              FROM batch b JOIN bumped bu ON bu.tenant_id = b.tenant_id"
       "                           JOIN counts c ON c.tenant_id = b.tenant_id),"
       " stored AS (INSERT INTO update_log (tenant_id, update_id, session_id, received_at, payload)"
       "            SELECT tenant_id, update_id, session_id, received_at, payload FROM numbered)"
       " SELECT tenant_id, update_id FROM numbered ORDER BY ord"},
      {"updates_read",
       "SELECT update_id, session_id, received_at, payload FROM update_log "
       "WHERE tenant_id = $1 AND update_id >= $2 AND ($3 = '' OR session_id = $3) ORDER BY update_id LIMIT $4"},
      {"updates_acknowledge", "DELETE FROM update_log WHERE tenant_id = $1 AND update_id < $2"},
      {"updates_remove", "DELETE FROM update_log WHERE tenant_id = $1 AND update_id = ANY ($2::bigint[])"},
      {"updates_count", "SELECT count(*) FROM update_log WHERE tenant_id = $1"},
      {"updates_last_id", "SELECT last_update_id FROM update_tenants WHERE tenant_id = $1"},
      {"updates_lock_tenant", "SELECT 1 FROM update_tenants WHERE tenant_id = $1 FOR UPDATE"},
      {"updates_span",
       "SELECT min(update_id), max(update_id),"
       " (SELECT received_at FROM update_log WHERE tenant_id = $1 ORDER BY update_id LIMIT 1),"
       " EXISTS (SELECT 1 FROM update_webhooks WHERE tenant_id = $1) "
       "FROM update_log WHERE tenant_id = $1"},
      {"updates_first_young", "SELECT min(update_id) FROM update_log WHERE tenant_id = $1 AND received_at >= $2"},
      {"updates_keep_from",
       "SELECT update_id FROM update_log WHERE tenant_id = $1 AND update_id >= $2 "
       "ORDER BY update_id DESC LIMIT 1 OFFSET $3"},
      {"updates_allowed_get", "SELECT allowed_updates FROM update_tenants WHERE tenant_id = $1"},
      {"updates_allowed_set",
       "INSERT INTO update_tenants (tenant_id, allowed_updates) SELECT tenant_id, $2 FROM tenants "
       "WHERE tenant_id = $1 ON CONFLICT (tenant_id) DO UPDATE SET allowed_updates = excluded.allowed_updates"},
      {"webhook_get", "SELECT url, secret, max_connections, updated_at FROM update_webhooks WHERE tenant_id = $1"},
      {"webhook_set",
       "INSERT INTO update_webhooks (tenant_id, url, secret, max_connections, updated_at) "
       "SELECT tenant_id, $2, $3, $4, $5 FROM tenants WHERE tenant_id = $1 "
       "ON CONFLICT (tenant_id) DO UPDATE SET url = excluded.url, secret = excluded.secret, "
       "max_connections = excluded.max_connections, updated_at = excluded.updated_at"},
      {"webhook_delete", "DELETE FROM update_webhooks WHERE tenant_id = $1"},
      {"webhook_list",
       "SELECT tenant_id, url, secret, max_connections, updated_at FROM update_webhooks ORDER BY tenant_id"},
      {"updates_forget_tenant",
       "WITH l AS (DELETE FROM update_log WHERE tenant_id = $1),"
       " t AS (DELETE FROM update_tenants WHERE tenant_id = $1) "
       "DELETE FROM update_webhooks WHERE tenant_id = $1"},
  };
}

Result<std::vector<AppendedUpdate>> PostgresUpdateLog::append(const std::vector<NewUpdate>& batch) {
  using Appended = std::vector<AppendedUpdate>;
  if (batch.empty()) return Appended{};
  std::vector<const std::string*> tenants, sessions, payloads;
  std::vector<std::int64_t> received;
  for (const NewUpdate& u : batch) {
    tenants.push_back(&u.tenant_id);
    sessions.push_back(&u.session_id);
    payloads.push_back(&u.payload);
    received.push_back(u.received_at_ms);
  }
  return pool_->call<Appended>("append updates", [&](pqxx::connection& c) -> Result<Appended> {
    pqxx::nontransaction tx(c);  // one statement: atomic on its own
    pqxx::result rows = tx.exec_prepared("updates_append", text_array(tenants), text_array(sessions),
                                         int_array(received), text_array(payloads));
    Appended out;
    out.reserve(rows.size());
    for (const pqxx::row& r : rows) out.push_back(AppendedUpdate{r[0].as<std::string>(), r[1].as<std::int64_t>()});
    return out;
  });
}

Result<std::vector<StoredUpdate>> PostgresUpdateLog::read(std::string_view tenant_id, std::int64_t from_id,
                                                          std::size_t limit, std::string_view session_id) {
  using Stored = std::vector<StoredUpdate>;
  if (auto valid = validate_update_read(from_id, limit); !valid) return valid.error();
  return pool_->call<Stored>("read updates", [&](pqxx::connection& c) -> Result<Stored> {
    pqxx::nontransaction tx(c);
    const std::string tenant(tenant_id);
    pqxx::result rows = tx.exec_prepared("updates_read", tenant, from_id, std::string(session_id),
                                         static_cast<std::int64_t>(limit));
    Stored out;
    out.reserve(rows.size());
    for (const pqxx::row& r : rows) {
      out.push_back(StoredUpdate{tenant, r[0].as<std::int64_t>(), r[1].as<std::string>(), r[2].as<std::int64_t>(),
                                 r[3].as<std::string>()});
    }
    return out;
  });
}

Result<std::int64_t> PostgresUpdateLog::acknowledge(std::string_view tenant_id, std::int64_t below_id) {
  return pool_->call<std::int64_t>("acknowledge updates", [&](pqxx::connection& c) -> Result<std::int64_t> {
    pqxx::nontransaction tx(c);
    return static_cast<std::int64_t>(
        tx.exec_prepared("updates_acknowledge", std::string(tenant_id), below_id).affected_rows());
  });
}

Result<std::int64_t> PostgresUpdateLog::remove(std::string_view tenant_id, const std::vector<std::int64_t>& update_ids) {
  if (update_ids.size() > kMaxUpdateRemove) return Error(Errc::invalid_argument, "too many update ids to remove");
  if (update_ids.empty()) return std::int64_t{0};
  return pool_->call<std::int64_t>("remove updates", [&](pqxx::connection& c) -> Result<std::int64_t> {
    pqxx::nontransaction tx(c);
    return static_cast<std::int64_t>(
        tx.exec_prepared("updates_remove", std::string(tenant_id), int_array(update_ids)).affected_rows());
  });
}

Result<std::int64_t> PostgresUpdateLog::first_int(const char* statement, const char* operation,
                                                  std::string_view tenant_id) {
  return pool_->call<std::int64_t>(operation, [&](pqxx::connection& c) -> Result<std::int64_t> {
    pqxx::nontransaction tx(c);
    pqxx::result r = tx.exec_prepared(statement, std::string(tenant_id));
    if (r.empty() || r[0][0].is_null()) return std::int64_t{0};
    return r[0][0].as<std::int64_t>();
  });
}

Result<std::int64_t> PostgresUpdateLog::count_pending(std::string_view tenant_id) {
  return first_int("updates_count", "count updates", tenant_id);
}

Result<std::int64_t> PostgresUpdateLog::last_update_id(std::string_view tenant_id) {
  return first_int("updates_last_id", "last update id", tenant_id);
}

Result<TrimmedUpdates> PostgresUpdateLog::trim(std::string_view tenant_id, std::int64_t max_pending,
                                               std::int64_t min_received_at_ms) {
  if (max_pending < 0) return Error(Errc::invalid_argument, "max_pending must not be negative");
  return pool_->call<TrimmedUpdates>("trim updates", [&](pqxx::connection& c) -> Result<TrimmedUpdates> {
    const std::string tenant(tenant_id);
    pqxx::work tx(c);
    tx.exec_prepared("updates_lock_tenant", tenant);  // an append of this tenant waits for the trim
    TrimmedUpdates out;
    pqxx::row span = tx.exec_prepared1("updates_span", tenant);
    if (span[0].is_null()) return out;  // nothing stored
    const UpdateIdRange ends{span[0].as<std::int64_t>(), span[1].as<std::int64_t>()};
    // By age: everything below the first update young enough (all of them when none is); when the
    // oldest is young enough, nothing is old (the usual case: no scan).
    std::int64_t age_cut = ends.first;
    if (span[2].as<std::int64_t>() < min_received_at_ms) {
      pqxx::row young = tx.exec_prepared1("updates_first_young", tenant, min_received_at_ms);
      age_cut = young[0].is_null() ? ends.last + 1 : young[0].as<std::int64_t>();
    }
    // By count: keep the newest max_pending. Without a webhook the ids from age_cut on are all there
    // (arithmetic); a webhook leaves holes, so its tenant's rows are counted from the top.
    std::int64_t count_cut = std::max(age_cut, ends.last - max_pending + 1);
    if (count_cut > age_cut && span[3].as<bool>()) {
      pqxx::result keep = tx.exec_prepared("updates_keep_from", tenant, age_cut, max_pending);
      count_cut = keep.empty() ? age_cut : keep[0][0].as<std::int64_t>() + 1;
    }
    if (age_cut > ends.first) out.by_age = UpdateIdRange{ends.first, age_cut - 1};
    if (count_cut > age_cut) out.by_count = UpdateIdRange{age_cut, count_cut - 1};
    if (count_cut > ends.first) tx.exec_prepared("updates_acknowledge", tenant, count_cut);
    tx.commit();
    return out;
  });
}

Result<std::optional<std::string>> PostgresUpdateLog::allowed_updates(std::string_view tenant_id) {
  using Setting = std::optional<std::string>;
  return pool_->call<Setting>("read update settings", [&](pqxx::connection& c) -> Result<Setting> {
    pqxx::nontransaction tx(c);
    pqxx::result r = tx.exec_prepared("updates_allowed_get", std::string(tenant_id));
    if (r.empty() || r[0][0].is_null()) return Setting{};
    return Setting{r[0][0].as<std::string>()};
  });
}

Status PostgresUpdateLog::set_allowed_updates(std::string_view tenant_id, std::string_view json) {
  return pool_->call<void>("write update settings", [&](pqxx::connection& c) -> Status {
    pqxx::nontransaction tx(c);
    if (tx.exec_prepared("updates_allowed_set", std::string(tenant_id), std::string(json)).affected_rows() == 0) {
      return Error(Errc::not_found, "no such tenant");
    }
    return {};
  });
}

Result<std::optional<WebhookRecord>> PostgresUpdateLog::webhook(std::string_view tenant_id) {
  using Hook = std::optional<WebhookRecord>;
  return pool_->call<Hook>("read webhook", [&](pqxx::connection& c) -> Result<Hook> {
    const std::string tenant(tenant_id);
    pqxx::nontransaction tx(c);
    pqxx::result r = tx.exec_prepared("webhook_get", tenant);
    if (r.empty()) return Hook{};
    auto secret = reveal_webhook_secret(cipher_.get(), r[0][1].as<std::string>(), tenant);
    if (!secret) return secret.error();
    return Hook{WebhookRecord{tenant, r[0][0].as<std::string>(), std::move(*secret), r[0][2].as<std::int64_t>(),
                              r[0][3].as<std::int64_t>()}};
  });
}

Status PostgresUpdateLog::set_webhook(const WebhookRecord& webhook) {
  auto secret = seal_webhook_secret(cipher_.get(), webhook.secret, webhook.tenant_id);
  if (!secret) return secret.error();
  return pool_->call<void>("write webhook", [&](pqxx::connection& c) -> Status {
    pqxx::nontransaction tx(c);
    if (tx.exec_prepared("webhook_set", webhook.tenant_id, webhook.url, *secret, webhook.max_connections,
                         webhook.updated_at_ms)
            .affected_rows() == 0) {
      return Error(Errc::not_found, "no such tenant");
    }
    return {};
  });
}

Result<bool> PostgresUpdateLog::delete_webhook(std::string_view tenant_id) {
  return pool_->call<bool>("delete webhook", [&](pqxx::connection& c) -> Result<bool> {
    pqxx::nontransaction tx(c);
    return tx.exec_prepared("webhook_delete", std::string(tenant_id)).affected_rows() > 0;
  });
}

Result<std::vector<WebhookRecord>> PostgresUpdateLog::webhooks() {
  using Hooks = std::vector<WebhookRecord>;
  return pool_->call<Hooks>("list webhooks", [&](pqxx::connection& c) -> Result<Hooks> {
    pqxx::nontransaction tx(c);
    Hooks out;
    for (const pqxx::row& r : tx.exec_prepared("webhook_list")) {
      std::string tenant = r[0].as<std::string>();
      auto secret = reveal_webhook_secret(cipher_.get(), r[2].as<std::string>(), tenant);
      if (!secret) return secret.error();
      out.push_back(WebhookRecord{std::move(tenant), r[1].as<std::string>(), std::move(*secret),
                                  r[3].as<std::int64_t>(), r[4].as<std::int64_t>()});
    }
    return out;
  });
}

Status PostgresUpdateLog::delete_tenant(std::string_view tenant_id) {
  return pool_->call<void>("delete tenant updates", [&](pqxx::connection& c) -> Status {
    pqxx::nontransaction tx(c);  // one statement: its three deletes are atomic together
    tx.exec_prepared("updates_forget_tenant", std::string(tenant_id));
    return {};
  });
}

}  // namespace tgpulse::store
