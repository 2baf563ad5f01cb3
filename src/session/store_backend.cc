#include "session/store_backend.h"

#include "store/postgres_session_store.h"
#include "store/postgres_update_log.h"
#include "store/sqlite_session_store.h"
#include "store/sqlite_update_log.h"

namespace tgpulse::session {

Result<StoreBackend> StoreBackend::open(const std::string& data_dir, const std::string& master_key,
                                        const store::PostgresOptions& postgres, const Clock& clock) {
  std::shared_ptr<const store::KeyCipher> cipher;
  if (!master_key.empty()) {
    auto parsed = store::KeyCipher::from_base64(master_key);
    if (!parsed) return Error(Errc::invalid_argument, "store.master_key: " + parsed.error().message);
    cipher = std::make_shared<const store::KeyCipher>(std::move(*parsed));
  }
  StoreBackend backend;
  if (!postgres.url.empty()) {
    auto opened = store::PostgresSessionStore::open(postgres, cipher, clock);
    if (!opened) return Error(opened.error().code, "session store: " + opened.error().message);
    store::PostgresSessionStore& pg = **opened;
    backend.postgres = true;
    backend.location = pg.description();
    backend.keys = pg.key_status();
    backend.probe = [&pg] { return pg.probe(); };
    backend.updates = std::make_unique<store::PostgresUpdateLog>(pg.pool(), cipher);
    backend.sessions = std::move(*opened);
    return backend;
  }
  store::SqliteStoreOptions options;
  options.data_dir = data_dir;
  options.master_key = cipher;
  auto opened = store::SqliteSessionStore::open(options, clock);
  if (!opened) return Error(opened.error().code, "session store: " + opened.error().message);
  store::SqliteSessionStore& sqlite = **opened;
  backend.location = sqlite.path();
  backend.keys = sqlite.key_status();
  backend.probe = [&sqlite] { return sqlite.probe(); };
  store::SqliteUpdateLogOptions log_options{sqlite.path()};
  log_options.master_key = cipher;  // webhook secrets sealed like the session keys
  auto log = store::SqliteUpdateLog::open(log_options);
  if (!log) return Error(log.error().code, "update log: " + log.error().message);
  backend.updates = std::move(*log);
  backend.sessions = std::move(*opened);
  return backend;
}

}  // namespace tgpulse::session
