#include "app/key_commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>

#include "app/config_schema.h"
#include "core/clock.h"
#include "store/key_cipher.h"
#include "store/sqlite_session_store.h"

namespace tgpulse::app {

int keys_generate(const std::string& out_file) {
  auto key = store::KeyCipher::generate_base64();
  if (!key) {
    std::cerr << "tgpulse keys generate: " << key.error().message << "\n";
    return 1;
  }
  const std::string line = *key + "\n";
  if (out_file.empty()) {
    std::cout << line << std::flush;
    return 0;
  }
  const int fd = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::cerr << "tgpulse keys generate: cannot create \"" << out_file << "\": " << std::strerror(errno)
              << (errno == EEXIST ? " (an existing key file is never overwritten)" : "") << "\n";
    return 1;
  }
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!written || !synced) {
    ::unlink(out_file.c_str());
    std::cerr << "tgpulse keys generate: cannot write \"" << out_file << "\"\n";
    return 1;
  }
  auto cipher = store::KeyCipher::from_base64(*key);
  std::cerr << "tgpulse keys generate: wrote master key " << (cipher ? cipher->key_id() : std::string("?")) << " to "
            << out_file << " (mode 0600)\n";
  return 0;
}

int keys_rotate(const ConfigSources& sources, const std::string& new_key_file) {
  auto config = load_config(sources);
  if (!config) {
    std::cerr << config.error().message << "\n";
    return 2;
  }
  auto new_text = read_key_file(new_key_file);
  if (!new_text) {
    std::cerr << "tgpulse keys rotate: --new-key-file: \"" << new_key_file << "\" " << new_text.error().message
              << "\n";
    return 2;
  }
  auto new_key = store::KeyCipher::from_base64(*new_text);
  if (!new_key) {
    std::cerr << "tgpulse keys rotate: --new-key-file: " << new_key.error().message << "\n";
    return 2;
  }
  if (!config->store.postgres.url.empty()) {
    // Rotation re-seals under an exclusive file lock that proves no service runs; PostgreSQL has no such
    // proof yet, so it is refused rather than racing a running node.
    std::cerr << "tgpulse keys rotate: the SQLite store only; store.url selects PostgreSQL, whose keys are not "
                 "rotated by this command yet\n";
    return 2;
  }
  store::SqliteStoreOptions options;
  options.data_dir = config->session.data_dir;
  std::string old_id = "none (keys stored in the clear)";
  if (!config->store.master_key.empty()) {
    auto old_key = store::KeyCipher::from_base64(config->store.master_key);
    if (!old_key) {
      std::cerr << "tgpulse keys rotate: store.master_key: " << old_key.error().message << "\n";
      return 2;
    }
    old_id = old_key->key_id();
    options.master_key = std::make_shared<const store::KeyCipher>(std::move(*old_key));
  }
  auto store = store::SqliteSessionStore::open(options, SystemClock::instance());
  if (!store) {
    std::cerr << "tgpulse keys rotate: " << store.error().message << "\n";
    return store.error().code == Errc::invalid_argument ? 2 : 1;
  }
  const std::string new_id = new_key->key_id();
  auto rotated = (*store)->rotate_master_key(std::make_shared<const store::KeyCipher>(std::move(*new_key)));
  if (!rotated) {
    std::cerr << "tgpulse keys rotate: " << rotated.error().message << " (nothing was changed)\n";
    return 1;
  }
  std::cout << "re-encrypted " << *rotated << " session keys in " << (*store)->path() << ": master key " << old_id
            << " -> " << new_id << "\n"
            << "start tgpulse with the new key (store.master_key_file / TGPULSE_MASTER_KEY_FILE, or "
               "TGPULSE_MASTER_KEY); the old key no longer opens this store\n";
  return 0;
}

}  // namespace tgpulse::app
