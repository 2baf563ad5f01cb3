#include "td/td_library.h"

#include <dlfcn.h>
#include <sys/stat.h>

namespace tgpulse::td {
namespace {

template <typename Fn>
bool resolve(void* handle, const char* symbol, Fn* out) {
  void* address = dlsym(handle, symbol);
  if (address == nullptr) {
    return false;
  }
  // POSIX guarantees object pointers returned by dlsym convert to function pointers.
  *out = reinterpret_cast<Fn>(address);
  return true;
}

}  // namespace

Result<std::unique_ptr<DlopenTdLibrary>> DlopenTdLibrary::load(const std::string& path) {
  struct stat st {};
  if (path.empty() || stat(path.c_str(), &st) != 0) {
    return Error(Errc::not_found, "TDLib library not found: " + path);
  }
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_NODELETE | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return Error(Errc::not_found, "cannot load TDLib library " + path + ": " + (why ? why : "dlopen failed"));
  }
  // The handle is deliberately never closed: RTLD_NODELETE keeps the code mapped and TDLib's exit
  // handlers must find it at process exit.
  std::unique_ptr<DlopenTdLibrary> lib(new DlopenTdLibrary());
  lib->path_ = path;
  const char* missing = nullptr;
  if (!resolve(handle, "td_create_client_id", &lib->create_client_id_)) missing = "td_create_client_id";
  else if (!resolve(handle, "td_send", &lib->send_)) missing = "td_send";
  else if (!resolve(handle, "td_receive", &lib->receive_)) missing = "td_receive";
  else if (!resolve(handle, "td_execute", &lib->execute_)) missing = "td_execute";
  else if (!resolve(handle, "td_set_log_message_callback", &lib->set_log_message_callback_))
    missing = "td_set_log_message_callback";
  if (missing != nullptr) {
    return Error(Errc::invalid_argument,
                 std::string("TDLib library ") + path + " lacks the symbol " + missing);
  }
  return lib;
}

int DlopenTdLibrary::create_client_id() { return create_client_id_(); }
void DlopenTdLibrary::send(int client_id, const char* request) { send_(client_id, request); }
const char* DlopenTdLibrary::receive(double timeout_seconds) { return receive_(timeout_seconds); }
const char* DlopenTdLibrary::execute(const char* request) { return execute_(request); }
void DlopenTdLibrary::set_log_message_callback(int max_verbosity_level, LogMessageCallback callback) {
  set_log_message_callback_(max_verbosity_level, callback);
}

}  // namespace tgpulse::td
