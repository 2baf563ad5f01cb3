// StoreBackend: the session layer's session store and update log, opened from the configuration — the
// embedded SQLite database in the data directory (the default), or PostgreSQL when store.url is set —
// with what differs between the two (the readiness probe, where the data is, the state of the stored
// keys) as plain values, so the rest of the session layer codes against the interfaces only.
//
// Thread-safety: a value built once at start-up; the store and log are thread-safe, `probe` blocks.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/clock.h"
#include "core/result.h"
#include "store/postgres_options.h"
#include "store/sealed_values.h"
#include "store/session_store.h"
#include "store/update_log.h"

namespace tgpulse::session {

struct StoreBackend {
  std::unique_ptr<store::SessionStore> sessions;
  std::unique_ptr<store::UpdateLog> updates;
  // The /readyz "store" check (StorageProbe): SQLite's write-lock probe, PostgreSQL's SELECT 1. Blocks.
  std::function<Status()> probe;
  // Where the records are, for logs: the SQLite file, or postgresql://user@host:port/db (no password).
  std::string location;
  bool postgres = false;
  store::StoredKeyStatus keys;  // how the session keys are kept at rest, as open() left them

  // Opens PostgreSQL when postgres.url is set, else SQLite in data_dir. master_key: base64 (KeyCipher)
  // or "" for keys in the clear. The error names the store ("session store: ...", "update log: ...").
  static Result<StoreBackend> open(const std::string& data_dir, const std::string& master_key,
                                   const store::PostgresOptions& postgres, const Clock& clock);
};

}  // namespace tgpulse::session
