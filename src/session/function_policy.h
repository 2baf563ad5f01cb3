// FunctionPolicy: which TDLib functions a tenant may run through POST /v1/sessions/{id}/invoke.
//
// Two lists decide. The allow-list (default: the functions a product needs to read and write chats,
// messages, users, contacts and members — docs/api.md lists them; invoke.allow replaces it,
// invoke.allow_extra adds to it) names everything that may pass. The deny-list is fixed in the code and
// no configuration lifts it: functions that act on the whole process or on the service's disk, or that
// the service owns —
//   - every function TDLib can run synchronously (td_execute), among them the log functions
//     (setLogStream writes files at any path, setLogVerbosityLevel is process-wide, addLogMessage at
//     level 0 aborts TDLib), and getOption/setOption;
//   - every test* function (testReturnError forges errors and FloodWaits);
//   - the functions the service owns: authorization (*Authentication*, registerUser, ...), close,
//     logOut, destroy, deleteAccount, setTdlibParameters, the database encryption key;
//   - proxies, network type and statistics, storage statistics and optimisation, auto-download;
//   - local files: preliminaryUploadFile, readFilePart, downloadFile and the download list,
//     file generation, uploadStickerFile, deleteFile, ...
// Arguments are checked too: an inputFileLocal or inputFileGenerated anywhere in the function object
// would make TDLib read the service's own disk (sendMessage with a document at /etc/...), so it is
// refused whatever the function — except an inputFileLocal naming exactly one of the session's own
// uploads (the object POST /v1/sessions/{id}/files answered).
//
// Because only listed names pass, everything keyed by method name after the policy (throttle buckets,
// flood ledger, per-method metrics) holds a bounded number of keys.
//
// Thread-safety: immutable after make(); check() and check_arguments() are safe from any thread.
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/result.h"

namespace tgpulse::session {

// invoke.* — the operator's part of the policy.
struct InvokePolicyOptions {
  // invoke.allow: the allow-list, replacing the default one. Empty (the default) = the default list.
  std::vector<std::string> allow;
  // invoke.allow_extra: names added to the allow-list (default or replaced). Default: none.
  std::vector<std::string> allow_extra;

  bool operator==(const InvokePolicyOptions&) const = default;
};

class FunctionPolicy {
 public:
  // The longest accepted function name; TDLib's longest is under 50 characters.
  static constexpr std::size_t kMaxNameLength = 64;

  // The default allow-list.
  FunctionPolicy();
  // The policy `options` describe. Fails when a name is not a function name or is on the deny-list;
  // the message names the key (invoke.allow or invoke.allow_extra), the function and why.
  static Result<FunctionPolicy> make(const InvokePolicyOptions& options);

  // [a-zA-Z][a-zA-Z0-9]* of at most kMaxNameLength characters: TDLib's constructor names.
  static bool is_valid_name(std::string_view name) noexcept;
  // Why `name` may never be invoked ("acts on the whole process: TDLib's log", ...), or nullopt.
  static std::optional<std::string_view> never_allowed(std::string_view name) noexcept;
  // The default allow-list, sorted.
  static const std::vector<std::string_view>& default_allow();

  // nullopt when `name` (already a valid name) may be invoked, else the refusal's message, which names
  // the function.
  std::optional<std::string> check(std::string_view name) const;
  // nullopt when no argument of `function` (a bounded JSON object) reaches the local disk, else the
  // refusal's message. `own_upload` (may be empty) names the exception: an inputFileLocal whose path it
  // accepts — a file the session's tenant uploaded through POST /v1/sessions/{id}/files — passes.
  using LocalFileCheck = std::function<bool(std::string_view path)>;
  static std::optional<std::string> check_arguments(const nlohmann::json& function,
                                                    const LocalFileCheck& own_upload = {});

  const std::set<std::string, std::less<>>& allowed() const noexcept { return allowed_; }

 private:
  std::set<std::string, std::less<>> allowed_;
};

}  // namespace tgpulse::session
