// The `tgpulse keys` commands, for the master key that encrypts the session keys at rest
// (docs/security-keys.md):
//
//   tgpulse keys generate [--out FILE]
//       a fresh master key (base64 of 32 random bytes) on stdout, or written to FILE (created with mode
//       0600; an existing file is never overwritten).
//   tgpulse keys rotate --new-key-file FILE [--config F] [--data-dir D] [--master-key-file K]
//       re-encrypts every stored session key with the key in FILE, in one transaction. The current key
//       comes from the normal configuration (file < TGPULSE_* env < flags). Offline: refused while a
//       tgpulse process has the store open. Prints the old and new key ids, never a key.
//
// Exit codes: 0 done, 1 failed (nothing changed), 2 bad flags or configuration (nothing changed).
//
// Thread-safety: run from main() on the main thread.
#pragma once

#include <string>

#include "app/config_loader.h"

namespace tgpulse::app {

int keys_generate(const std::string& out_file);
int keys_rotate(const ConfigSources& sources, const std::string& new_key_file);

}  // namespace tgpulse::app
