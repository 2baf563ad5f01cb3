// PostgresOptions: where the PostgreSQL store is and how it is reached (store.url, store.url_password,
// store.url_password_file, store.pg_pool_size; docs/store.md#postgresql). An empty url selects the
// embedded SQLite store under store.data_dir instead.
//
// Thread-safety: a value type.
#pragma once

#include <chrono>
#include <string>

namespace tgpulse::store {

struct PostgresOptions {
  // postgresql://user@host:port/dbname[?param=value...] (libpq's URI form). "" (default) = SQLite. A URL
  // carrying a password (user:password@, ?password=) is refused: the password comes from `password`.
  std::string url;
  // The database user's password, from store.url_password (TGPULSE_STORE_PASSWORD) or read by the
  // loader from store.url_password_file. "" (default) = none (trust, peer or ~/.pgpass authentication).
  // Secret: never logged, never in an error or in `tgpulse config` output.
  std::string password;
  std::string password_file;  // a file holding the password (its first line); "" = none
  // Connections the store keeps open; each store call takes one for its duration. Default 4, the
  // store pool's default thread count (store.pool_threads): more connections than threads only idle.
  int pool_size = 4;
  // How long opening one connection may take (libpq connect_timeout, whole seconds, at least 2).
  // Default 10 s.
  std::chrono::milliseconds connect_timeout{10'000};
  // How long one statement may run on the server before it is cancelled (statement_timeout); a call
  // waiting that long answers store_error. Default 30 s. 0 = no limit.
  std::chrono::milliseconds statement_timeout{30'000};
  // How long a call waits for a free connection before it answers store_error. Default 10 s.
  std::chrono::milliseconds acquire_timeout{10'000};

  bool operator==(const PostgresOptions&) const = default;
};

}  // namespace tgpulse::store
