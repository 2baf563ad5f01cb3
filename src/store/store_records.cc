#include "store/store_records.h"

#include <array>

#include "store/tenant_tokens.h"

namespace tgpulse::store {
namespace {

constexpr std::array<std::pair<SessionState, const char*>, 7> kStateNames = {{
    {SessionState::qr_pending, "qr_pending"},
    {SessionState::phone_pending, "phone_pending"},
    {SessionState::password_required, "password_required"},
    {SessionState::authorized, "authorized"},
    {SessionState::cleanup_pending, "cleanup_pending"},
    {SessionState::cleanup_closing, "cleanup_closing"},
    {SessionState::cleanup_removing, "cleanup_removing"},
}};

}  // namespace

const char* session_state_name(SessionState s) noexcept {
  for (const auto& [state, name] : kStateNames) {
    if (state == s) return name;
  }
  return "unknown";
}

std::optional<SessionState> parse_session_state(std::string_view name) noexcept {
  for (const auto& [state, state_name] : kStateNames) {
    if (name == state_name) return state;
  }
  return std::nullopt;
}

bool is_cleanup_state(SessionState s) noexcept {
  return s == SessionState::cleanup_pending || s == SessionState::cleanup_closing ||
         s == SessionState::cleanup_removing;
}

bool is_login_state(SessionState s) noexcept {
  return s == SessionState::qr_pending || s == SessionState::phone_pending || s == SessionState::password_required;
}

bool is_valid_tenant_id(std::string_view tenant_id) noexcept {
  if (tenant_id.empty() || tenant_id.size() > 64) return false;
  for (char c : tenant_id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '-';
    if (!ok) return false;
  }
  return true;
}

Status validate_tenant_record(const TenantRecord& tenant) {
  if (!is_valid_tenant_id(tenant.tenant_id)) {
    return Error(Errc::invalid_argument, "tenant_id must be 1-64 characters of [A-Za-z0-9_-]");
  }
  if (!TenantTokens::is_valid_hash(tenant.token_hash)) {
    return Error(Errc::invalid_argument, "token_hash must be 64 lowercase hex characters");
  }
  return {};
}

Status validate_session_record(const SessionRecord& session) {
  if (!TenantTokens::is_valid_session_id(session.session_id)) {
    return Error(Errc::invalid_argument, "session_id must be \"s_\" and 22 base62 characters");
  }
  if (!is_valid_tenant_id(session.tenant_id)) {
    return Error(Errc::invalid_argument, "tenant_id must be 1-64 characters of [A-Za-z0-9_-]");
  }
  if (session.engine_dir.empty() || session.engine_dir.front() != '/') {
    return Error(Errc::invalid_argument, "engine_dir must be an absolute path");
  }
  if (session.db_key.empty()) return Error(Errc::invalid_argument, "db_key must not be empty");
  if (!TenantTokens::is_valid_hash(session.page_key_hash)) {
    return Error(Errc::invalid_argument, "page_key_hash must be 64 lowercase hex characters");
  }
  return {};
}

}  // namespace tgpulse::store
