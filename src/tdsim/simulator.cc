#include "tdsim/simulator.h"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "tdsim/fake_world.h"

namespace tgpulse::tdsim {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {
bool is_auth_function(std::string_view t) {
  return t == "setTdlibParameters" || t == "requestQrCodeAuthentication" || t == "checkAuthenticationPassword" ||
         t == "getAuthorizationState" || t == "logOut" || t == "close" || t == "destroy" ||
         t == "setAuthenticationPhoneNumber" || t == "checkAuthenticationCode" ||
         t == "requestAuthenticationPasswordRecovery" || t == "resendAuthenticationCode";
}
// Functions that work before setTdlibParameters (as in TDLib).
bool allowed_before_parameters(std::string_view t) {
  return t == "getAuthorizationState" || t == "close" || t == "destroy" || t == "getOption" || t == "setOption" ||
         t == "getCurrentState" || t == "testSquareInt";
}
// Functions that reach Telegram and so meet its flood limits.
bool reaches_network(std::string_view t) {
  return t != "getAuthorizationState" && t != "close" && t != "getOption" && t != "setOption" &&
         t != "getCurrentState" && t != "testSquareInt";
}
// Proxy functions: local to TDLib (pingProxy connects, but not through the enabled proxy).
bool is_proxy_function(std::string_view t) {
  return t == "addProxy" || t == "enableProxy" || t == "disableProxy" || t == "removeProxy" || t == "getProxies" ||
         t == "pingProxy";
}
// Network requests that wait for a connection (an unreachable proxy holds them). logOut and destroy do
// not: TDLib destroys the local authorization without the server when it cannot reach it.
bool waits_for_connection(std::string_view t) {
  return reaches_network(t) && t != "setTdlibParameters" && t != "logOut" && t != "destroy" &&
         !is_proxy_function(t);
}
}  // namespace

const char* sim_state_type(SimAuthState s) noexcept {
  switch (s) {
    case SimAuthState::wait_tdlib_parameters: return "authorizationStateWaitTdlibParameters";
    case SimAuthState::wait_phone_number: return "authorizationStateWaitPhoneNumber";
    case SimAuthState::wait_other_device_confirmation: return "authorizationStateWaitOtherDeviceConfirmation";
    case SimAuthState::wait_code: return "authorizationStateWaitCode";
    case SimAuthState::wait_registration: return "authorizationStateWaitRegistration";
    case SimAuthState::wait_password: return "authorizationStateWaitPassword";
    case SimAuthState::ready: return "authorizationStateReady";
    case SimAuthState::logging_out: return "authorizationStateLoggingOut";
    case SimAuthState::closing: return "authorizationStateClosing";
    case SimAuthState::closed: return "authorizationStateClosed";
  }
  return "authorizationStateClosed";
}

Simulator::Simulator(Profile profile, std::string world_directory)
    : profile_(std::move(profile)),
      rng_(profile_.seed),
      world_directory_(std::move(world_directory)),
      auth_key_rng_((static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}()) {
  std::lock_guard lock(mutex_);
  if (profile_.incoming.rate_per_second > 0) schedule_incoming_tick(std::chrono::steady_clock::now());
}

Simulator::~Simulator() = default;

int Simulator::create_client_id() {
  const int id = next_client_id_.fetch_add(1);
  std::lock_guard lock(mutex_);
  SimClient& c = clients_[id];
  c.id = id;
  c.user_id = FakeWorld::user_id_for_client(id);
  return id;
}

SimClient* Simulator::find(int client_id) {
  auto it = clients_.find(client_id);
  return it == clients_.end() ? nullptr : &it->second;
}

Simulator::TimePoint Simulator::after_latency(const LatencyRange& range) {
  double ms = range.min_ms;
  if (range.max_ms > range.min_ms) ms = std::uniform_real_distribution<double>(range.min_ms, range.max_ms)(rng_);
  return std::chrono::steady_clock::now() + std::chrono::microseconds(static_cast<std::int64_t>(ms * 1000));
}

void Simulator::emit(Outgoing& out, SimClient& client, json object, TimePoint at, const std::optional<json>& extra,
                     bool in_order) {
  if (in_order) {
    at = std::max(at, client.last_delivery);
    client.last_delivery = at;
  }
  if (extra) object["@extra"] = *extra;
  object["@client_id"] = client.id;
  out.lines.emplace_back(at, object.dump());
}

void Simulator::flush_due(TimePoint now) {
  while (!delayed_.empty() && delayed_.top().at <= now) {
    output_.push(std::move(const_cast<Delayed&>(delayed_.top()).line));  // top() is const; popped next
    delayed_.pop();
  }
}

void Simulator::deliver(Outgoing& out) {
  const auto now = std::chrono::steady_clock::now();
  std::vector<TimePoint> wakeups;
  {
    std::lock_guard lock(delivery_mutex_);
    flush_due(now);  // what is left is due after now, so a line due now may go out at once
    for (auto& [at, line] : out.lines) {
      if (at <= now) {
        output_.push(std::move(line));
      } else {
        delayed_.push(Delayed{at, delayed_sequence_++, std::move(line)});
        wakeups.push_back(at);
      }
    }
  }
  for (TimePoint at : wakeups) {
    scheduler_.at(at, [this] {
      std::lock_guard lock(delivery_mutex_);
      flush_due(std::chrono::steady_clock::now());
    });
  }
  auto callback = log_callback_.load();
  if (callback != nullptr && log_max_verbosity_.load() >= 2 && static_functions_.log_verbosity() >= 2) {
    for (const auto& l : out.logs) callback(2, l.c_str());
  }
}

void Simulator::send(int client_id, std::string_view text) {
  Outgoing out;
  {
    std::lock_guard lock(mutex_);
    SimClient* client = find(client_id);
    if (client == nullptr) return;  // TDLib ignores requests to client ids it never issued
    const auto now = std::chrono::steady_clock::now();
    if (!client->started) {
      client->started = true;
      emit(out, *client, {{"@type", "updateOption"}, {"name", "version"},
                          {"value", {{"@type", "optionValueString"}, {"value", kTdlibVersion}}}}, now);
      emit(out, *client, {{"@type", "updateAuthorizationState"}, {"authorization_state", state_object(*client)}}, now);
    }
    json error;
    auto request = TdRequest::parse(text, &error);
    if (!request) {
      std::optional<json> extra;
      if (auto it = error.find("@extra"); it != error.end()) {
        extra = *it;
        error.erase("@extra");
      }
      emit(out, *client, std::move(error), now, extra);
    } else {
      client->calls.push_back(request->type);
      if (client->calls.size() > SimClient::kMaxCalls) client->calls.pop_front();
      handle(*client, std::move(*request), out);
    }
  }
  deliver(out);
}

void Simulator::handle(SimClient& client, TdRequest request, Outgoing& out) {
  const auto now = std::chrono::steady_clock::now();
  const auto& t = request.type;
  if (client.state == SimAuthState::closed) {
    emit(out, client, TdRequest::error(500, "Request aborted"), now, request.extra);
    return;
  }
  if (auto answer = static_functions_.run(request); answer && t != "getOption") {
    emit(out, client, std::move(*answer), now, request.extra);
    return;
  }
  // While setTdlibParameters waits for the directory's lock the rest waits for it too, as in TDLib —
  // getOption and the static functions excepted (answered at once, as TDLib 1.8.67 answers them).
  if (client.opening && t != "getOption") {
    if (client.waiting_for_open.size() >= SimClient::kMaxHeldRequests) {
      emit(out, client, TdRequest::error(500, "Too many requests wait for a connection"), now, request.extra);
    } else {
      client.waiting_for_open.push_back(std::move(request));
    }
    return;
  }
  if (client.state == SimAuthState::wait_tdlib_parameters && t != "setTdlibParameters" &&
      !allowed_before_parameters(t)) {
    emit(out, client, TdRequest::error(400, "Initialization parameters are needed: call setTdlibParameters first"),
         now, request.extra);
    return;
  }
  if (is_proxy_function(t)) {
    handle_proxy(client, request, out, after_latency(profile_.auth_latency));
    return;
  }
  if (waits_for_connection(t) && hold_while_disconnected(client, request, out, now)) return;
  if (reaches_network(t) && t != "setTdlibParameters" &&
      drop_duplicated_key(client, request, out, after_latency(profile_.latency_for(t)))) {
    return;
  }
  FloodDecision flood;
  if (reaches_network(t) && t != "setTdlibParameters" && t != "destroy") {
    flood = flood_decision(client, t, out);
    if (flood.error) {
      emit(out, client, std::move(*flood.error), after_latency(profile_.latency_for(t)), request.extra);
      return;
    }
  }
  const auto delay = std::chrono::microseconds(static_cast<std::int64_t>(flood.delay_seconds * 1e6));
  if (is_auth_function(t)) {
    handle_auth(client, request, out, after_latency(profile_.auth_latency) + delay);
  } else {
    handle_ordinary(client, request, out, after_latency(profile_.latency_for(t)) + delay);
  }
}

json Simulator::state_object(const SimClient& c) const {
  json s = {{"@type", sim_state_type(c.state)}};
  if (c.state == SimAuthState::wait_other_device_confirmation) s["link"] = c.link;
  if (c.state == SimAuthState::wait_code) s["code_info"] = code_info(c);
  if (c.state == SimAuthState::wait_registration) {
    s["terms_of_service"] = {{"@type", "termsOfService"},
                             {"text", {{"@type", "formattedText"},
                                       {"text", "Terms of service of the tdsim test data centre."},
                                       {"entities", json::array()}}},
                             {"min_user_age", 0},
                             {"show_popup", false}};
  }
  if (c.state == SimAuthState::wait_password) {
    s["password_hint"] = c.password_hint;
    s["has_recovery_email_address"] = false;
    s["has_passport_data"] = false;
    s["recovery_email_address_pattern"] = "";
  }
  return s;
}

void Simulator::set_state(SimClient& client, SimAuthState state, Outgoing& out, TimePoint at) {
  client.state = state;
  emit(out, client, {{"@type", "updateAuthorizationState"}, {"authorization_state", state_object(client)}}, at);
}

void Simulator::handle_auth(SimClient& client, const TdRequest& request, Outgoing& out, TimePoint at) {
  const auto& t = request.type;
  const auto& o = request.object;
  auto unexpected = [&] { emit(out, client, TdRequest::error(400, "Call to " + t + " unexpected"), at, request.extra); };
  auto ok = [&] { emit(out, client, TdRequest::ok(), at, request.extra); };

  if (t == "getAuthorizationState") {
    emit(out, client, state_object(client), at, request.extra);
  } else if (t == "setTdlibParameters") {
    if (client.state != SimAuthState::wait_tdlib_parameters) {
      emit(out, client, TdRequest::error(400, "Unexpected setTdlibParameters"), at, request.extra);
      return;
    }
    auto api_id = o.find("api_id");
    if (api_id == o.end() || !api_id->is_number_integer() || api_id->get<std::int64_t>() <= 0) {
      emit(out, client, TdRequest::error(400, "Valid api_id must be provided. Can be obtained at https://my.telegram.org"),
           at, request.extra);
      return;
    }
    auto api_hash = o.find("api_hash");
    if (api_hash == o.end() || !api_hash->is_string() || api_hash->get_ref<const std::string&>().empty()) {
      emit(out, client, TdRequest::error(400, "Valid api_hash must be provided. Can be obtained at https://my.telegram.org"),
           at, request.extra);
      return;
    }
    open_database(client, request, out, at);
  } else if (t == "requestQrCodeAuthentication") {
    if (client.state != SimAuthState::wait_phone_number && client.state != SimAuthState::wait_other_device_confirmation) {
      unexpected();
      return;
    }
    client.auto_scan_rolled = false;
    new_qr_token(client, out, at);
    ok();
    roll_auto_scan(client);
  } else if (t == "checkAuthenticationPassword") {
    if (client.state != SimAuthState::wait_password) {
      unexpected();
      return;
    }
    auto password = o.find("password");
    if (password == o.end() || !password->is_string() || *password != client.password) {
      emit(out, client, TdRequest::error(400, "PASSWORD_HASH_INVALID"), at, request.extra);
      return;
    }
    authorize(client);
    set_state(client, SimAuthState::ready, out, at);
    ok();
    start_incoming(client, json(), out, at);
  } else if (t == "logOut") {
    set_state(client, SimAuthState::logging_out, out, at);
    ok();
    finish_logout(client, out, at + std::chrono::milliseconds(1), true);
  } else if (t == "destroy") {
    ok();
    set_state(client, SimAuthState::logging_out, out, at);
    finish_logout(client, out, at + std::chrono::milliseconds(1), true);
  } else if (t == "close") {
    ok();
    set_state(client, SimAuthState::closing, out, at);
    finish_logout(client, out, at + std::chrono::milliseconds(1), false);
  } else if (t == "setAuthenticationPhoneNumber" || t == "checkAuthenticationCode" || t == "resendAuthenticationCode") {
    handle_phone_login(client, request, out, at);
  } else {
    unexpected();  // requestAuthenticationPasswordRecovery: tdsim's accounts have no recovery e-mail
  }
}

void Simulator::finish_logout(SimClient& client, Outgoing& out, TimePoint at, bool remove_database) {
  if (!remove_database && client.incoming && client.state != SimAuthState::logging_out) {
    write_database(client, true);  // the sequence and the time the account went offline
  }
  release_database(client, remove_database);
  client.incoming.reset();
  client.withheld_updates.clear();
  abort_files(client, out, at);
  // Every request is answered once: what waited for a connection is aborted, as TDLib aborts it on close.
  for (auto& held : client.held) emit(out, client, TdRequest::error(500, "Request aborted"), at, held.extra);
  client.held.clear();
  client.link.clear();
  client.token_generation++;
  flood_.forget_client(client.id);
  set_state(client, SimAuthState::closed, out, at);
}

void Simulator::new_qr_token(SimClient& client, Outgoing& out, TimePoint at) {
  static constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string token;
  for (int i = 0; i < 43; ++i) token.push_back(kBase64Url[rng_() % 64]);  // 32 random bytes, base64url
  client.link = "tg://login?token=" + token;
  const auto generation = ++client.token_generation;
  set_state(client, SimAuthState::wait_other_device_confirmation, out, at);
  const auto ttl = std::chrono::microseconds(static_cast<std::int64_t>(profile_.qr_token_ttl_seconds * 1e6));
  const int id = client.id;
  scheduler_.at(at + ttl, [this, id, generation] { on_token_expiry(id, generation); });
}

void Simulator::on_token_expiry(int client_id, std::uint64_t generation) {
  Outgoing out;
  {
    std::lock_guard lock(mutex_);
    SimClient* c = find(client_id);
    if (c == nullptr || c->token_generation != generation ||
        c->state != SimAuthState::wait_other_device_confirmation) {
      return;
    }
    new_qr_token(*c, out, std::chrono::steady_clock::now());  // TDLib exports a fresh token by itself
  }
  deliver(out);
}

void Simulator::roll_auto_scan(SimClient& client) {
  if (client.auto_scan_rolled) return;
  client.auto_scan_rolled = true;
  std::uniform_real_distribution<double> unit(0, 1);
  if (unit(rng_) >= profile_.qr.scan_probability) return;
  std::string outcome = "accept";
  if (unit(rng_) < profile_.qr.decline_probability) {
    outcome = "decline";
  } else if (unit(rng_) < profile_.qr.password_probability) {
    outcome = "password";
  }
  const auto at = after_latency(profile_.qr.scan_delay);
  const int id = client.id;
  scheduler_.at(at, [this, id, outcome] {
    Outgoing out;
    {
      std::lock_guard lock(mutex_);
      SimClient* c = find(id);
      if (c == nullptr || c->state != SimAuthState::wait_other_device_confirmation) return;
      apply_scan(*c, outcome, profile_.qr.password, out);
    }
    deliver(out);
  });
}

void Simulator::apply_scan(SimClient& client, const std::string& outcome, const std::string& password, Outgoing& out) {
  const auto now = std::chrono::steady_clock::now();
  client.login_link = client.link;
  client.link.clear();
  client.token_generation++;
  if (outcome == "decline") {
    set_state(client, SimAuthState::wait_phone_number, out, now);
    return;
  }
  if (outcome == "password") {
    client.password = password.empty() ? profile_.qr.password : password;
    client.password_hint = profile_.qr.password_hint;
  }
  if (!client.password.empty()) {
    set_state(client, SimAuthState::wait_password, out, now);
    return;
  }
  authorize(client);
  set_state(client, SimAuthState::ready, out, now);
  start_incoming(client, json(), out, now);
}

Simulator::FloodDecision Simulator::flood_decision(SimClient& client, const std::string& method, Outgoing& out) {
  FloodDecision d;
  // logOut meets only forced waits: the profile's limits would make every cleanup of a busy test slow.
  const FloodLimit& limit = method == "logOut" ? FloodLimit{} : profile_.flood_for(method);
  const FloodControl::Verdict v = flood_.decide(client.id, method, limit, std::chrono::steady_clock::now());
  const int wait = v.seconds;
  if (wait == 0) return d;
  if (wait <= profile_.flood_wait_limit_seconds && !v.error) {
    d.delay_seconds = wait;
    out.logs.push_back(flood_log_line(true, client.id, wait, wait, method));
    return d;
  }
  flood_.refund(client.id, method);
  // A forced 429 for a short wait plays a query whose earlier waits already filled TDLib's limit.
  const int total = wait <= profile_.flood_wait_limit_seconds
                        ? static_cast<int>(profile_.flood_wait_limit_seconds) + wait
                        : wait;
  out.logs.push_back(flood_log_line(false, client.id, wait, total, method));
  d.error = TdRequest::error(429, "Too Many Requests: retry after " + std::to_string(wait));
  return d;
}

std::string Simulator::flood_log_line(bool absorbed, int client_id, int seconds, int total_seconds,
                                      const std::string& method) {
  // The header and text NetQueryDelayer writes (see docs/engine.md); tl is a stand-in for the MTProto
  // constructor of the method.
  const auto wall = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const auto tl = static_cast<std::uint32_t>(std::hash<std::string>{}(method));
  char header[160];
  std::snprintf(header, sizeof header, "[ 2][t 1][%.9f][NetQueryDelayer.cpp:%d][#%d][!NetQueryDelayer]\t", wall,
                absorbed ? 107 : 94, client_id);
  char body[256];
  std::snprintf(body, sizeof body,
                "%s: [Query:[id:%llu][tl:0x%08x][state:Query]] [timeout:%d][total_timeout:%d] because of "
                "[Error : 420 : FLOOD_WAIT_%d] from \n",
                absorbed ? "Delay" : "Failed", static_cast<unsigned long long>(next_query_id_++), tl, seconds,
                total_seconds, seconds);
  return std::string(header) + body;
}

void Simulator::handle_ordinary(SimClient& client, const TdRequest& request, Outgoing& out, TimePoint at) {
  if (request.type != "getOption" && request.type != "setOption" && request.type != "testSquareInt" &&
      client.state != SimAuthState::ready) {
    emit(out, client, TdRequest::error(401, "Unauthorized"), at, request.extra);
    return;
  }
  if (profile_.faults.error_rate > 0 && request.type != "getOption" &&
      std::uniform_real_distribution<double>(0, 1)(rng_) < profile_.faults.error_rate) {
    emit(out, client, TdRequest::error(500, "INTERNAL_SERVER_ERROR"), at, request.extra);
    return;
  }
  if (is_file_function(request.type) || is_file_upload(request)) {
    handle_files(client, request, out, at);
    return;
  }
  // An absorbed flood wait delays only this answer, like a query TDLib resends later.
  const bool in_order = at <= std::chrono::steady_clock::now() + std::chrono::seconds(1);
  emit(out, client, ordinary_answer(client, request), at, request.extra, in_order);
}

json Simulator::ordinary_answer(SimClient& client, const TdRequest& request) {
  const auto& o = request.object;
  const auto& t = request.type;
  const int chats = profile_.chats;
  auto chat_id = [&] { return o.value("chat_id", std::int64_t{0}); };
  if (t == "getOption") {
    const auto name = o.value("name", std::string());
    if (name == "version") return {{"@type", "optionValueString"}, {"value", kTdlibVersion}};
    if (name == "my_id" && client.state == SimAuthState::ready)
      return {{"@type", "optionValueInteger"}, {"value", std::to_string(client.user_id)}};
    return {{"@type", "optionValueEmpty"}};
  }
  if (t == "setOption") return TdRequest::ok();
  if (t == "testSquareInt") {
    const auto x = o.value("x", 0);
    return {{"@type", "testInt"}, {"value", x * x}};
  }
  if (t == "getMe") return FakeWorld::user(client.user_id, true);
  if (t == "getUser" || t == "getUserFullInfo") {
    const auto id = o.value("user_id", std::int64_t{0});
    if (id <= 0) return TdRequest::error(400, "Invalid user identifier");
    if (t == "getUserFullInfo") return {{"@type", "userFullInfo"}, {"bio", nullptr}, {"group_in_common_count", 0}};
    return FakeWorld::user(id, id == client.user_id);
  }
  if (t == "getChats" || t == "loadChats") {
    if (t == "loadChats") return TdRequest::ok();
    return FakeWorld::chats(chats, o.value("limit", 100));
  }
  if (t == "getChat" || t == "joinChat" || t == "viewMessages" || t == "getChatHistory" || t == "sendMessage" ||
      t == "getSupergroupMembers") {
    if (t == "getSupergroupMembers") return {{"@type", "chatMembers"}, {"total_count", 0}, {"members", json::array()}};
    auto chat = FakeWorld::chat(chat_id(), chats);
    if (chat.is_null()) return TdRequest::error(400, "Chat not found");
    if (t == "getChat") return chat;
    if (t == "joinChat" || t == "viewMessages") return TdRequest::ok();
    if (t == "getChatHistory") {
      return FakeWorld::history(chat_id(), o.value("from_message_id", std::int64_t{0}), o.value("limit", 20),
                                client.user_id);
    }
    auto content = o.find("input_message_content");
    if (content == o.end() || !content->is_object()) return TdRequest::error(400, "Message content must be non-empty");
    json message_content = {{"@type", "messageText"}, {"text", content->value("text", json::object())}};
    auto m = FakeWorld::message(chat_id(), static_cast<std::int64_t>(next_query_id_++), client.user_id,
                                message_content, static_cast<std::int64_t>(std::time(nullptr)));
    m["is_outgoing"] = true;
    m["sending_state"] = {{"@type", "messageSendingStatePending"}};
    return m;
  }
  if (t == "searchPublicChat") {
    auto chat = FakeWorld::search_public_chat(o.value("username", std::string()), chats);
    if (chat.is_null()) return TdRequest::error(400, "USERNAME_NOT_OCCUPIED");
    return chat;
  }
  if (t == "testNetwork") return TdRequest::ok();
  if (t == "getCurrentState") return {{"@type", "updates"}, {"updates", json::array()}};
  return TdRequest::error(400, "tdsim does not simulate " + t);
}

const char* Simulator::receive(double timeout_seconds) { return output_.pop(timeout_seconds); }

const char* Simulator::execute(std::string_view text) {
  thread_local std::string answer;
  json error;
  auto request = TdRequest::parse(text, &error);
  json result;
  if (!request) {
    result = std::move(error);
  } else if (auto r = static_functions_.run(*request)) {
    result = std::move(*r);
    if (request->extra) result["@extra"] = *request->extra;
  } else {
    result = TdRequest::error(400, "The method can't be executed synchronously");
    if (request->extra) result["@extra"] = *request->extra;
  }
  answer = result.dump();
  return answer.c_str();
}

void Simulator::set_log_message_callback(int max_verbosity_level, LogMessageCallback callback) {
  log_max_verbosity_.store(max_verbosity_level);
  log_callback_.store(callback);
}

Result<json> Simulator::scan(const std::string& link, const std::string& outcome, const std::string& password) {
  if (outcome != "accept" && outcome != "password" && outcome != "decline") {
    return Error(Errc::invalid_argument, "outcome must be accept, password or decline");
  }
  Outgoing out;
  json answer;
  {
    std::lock_guard lock(mutex_);
    SimClient* client = nullptr;
    for (auto& [id, c] : clients_) {
      if (!link.empty() && c.link == link) client = &c;
    }
    if (client == nullptr) return Error(Errc::not_found, "no client shows this link (expired or never issued)");
    apply_scan(*client, outcome, password, out);
    answer = {{"client_id", client->id}, {"state", sim_state_type(client->state)}};
  }
  deliver(out);
  return answer;
}

Result<json> Simulator::force_flood(const std::string& method, int client_id, int seconds, bool as_error) {
  if (method.empty() || !TdRequest::known_function(method)) {
    return Error(Errc::invalid_argument, "method must name a TDLib function");
  }
  if (seconds < 0) return Error(Errc::invalid_argument, "seconds must be >= 0");
  std::lock_guard lock(mutex_);
  if (client_id != 0 && find(client_id) == nullptr) return Error(Errc::not_found, "no such client");
  flood_.force(method, client_id, seconds, as_error);
  return json{{"method", method}, {"client_id", client_id}, {"seconds", seconds},
              {"answer", as_error ? "error" : "tdlib"}};
}

Result<json> Simulator::revoke(const std::string& link, int client_id) {
  Outgoing out;
  json answer;
  {
    std::lock_guard lock(mutex_);
    SimClient* client = nullptr;
    for (auto& [id, c] : clients_) {
      if ((client_id != 0 && id == client_id) || (!link.empty() && (c.link == link || c.login_link == link))) {
        client = &c;
      }
    }
    if (client == nullptr) return Error(Errc::not_found, "no such client");
    if (client->state == SimAuthState::closed || client->state == SimAuthState::wait_tdlib_parameters ||
        !client->started) {
      return Error(Errc::conflict, "the client has no authorization to lose");
    }
    // What TDLib does on AUTH_KEY_UNREGISTERED: LoggingOut, local data removed, Closed.
    const auto now = std::chrono::steady_clock::now();
    set_state(*client, SimAuthState::logging_out, out, now);
    finish_logout(*client, out, now, true);
    answer = {{"client_id", client->id}, {"state", sim_state_type(client->state)}};
  }
  deliver(out);
  return answer;
}

Result<json> Simulator::release_withheld() {
  Outgoing out;
  int released = 0;
  {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    for (auto& [id, c] : clients_) {
      if (!c.ready_withheld) continue;
      c.ready_withheld = false;
      if (c.state != SimAuthState::ready) continue;  // logged out meanwhile: its own updates went out
      set_state(c, SimAuthState::ready, out, now);
      for (auto& update : c.withheld_updates) emit(out, c, std::move(update), now);
      c.withheld_updates.clear();
      ++released;
    }
  }
  deliver(out);
  return json{{"released", released}};
}

json Simulator::state() const {
  std::lock_guard lock(mutex_);
  json clients = json::array();
  for (const auto& [id, c] : clients_) {
    if (!c.started) continue;
    json entry = {{"client_id", id}, {"state", sim_state_type(c.state)}, {"user_id", c.user_id},
                  {"has_password", !c.password.empty()}, {"ready_withheld", c.ready_withheld},
                  {"calls", c.calls}, {"proxy", nullptr}, {"connected", c.connected},
                  {"held_requests", c.held.size()}, {"uploads", c.uploads},
                  {"downloads", {{"active", c.active_downloads}, {"queued", c.download_queue.size()}}}};
    if (const SimProxy* p = c.proxies.enabled()) {
      // Never the secret, user name or password.
      entry["proxy"] = {{"server", p->proxy["server"]}, {"port", p->proxy["port"]}, {"type", p->proxy["type"]["@type"]}};
    }
    if (!c.link.empty()) entry["link"] = c.link;
    clients.push_back(std::move(entry));
  }
  return {{"clients", clients}, {"profile", profile_.to_json()}, {"pending_events", scheduler_.pending()},
          {"queued_objects", output_.size()}, {"forced_floods", flood_.forced_count()}};
}

Result<json> Simulator::update_profile(const json& patch) {
  std::lock_guard lock(mutex_);
  auto next = Profile::apply(profile_, patch);
  if (!next.ok()) return next.error();
  const bool reseed = patch.contains("seed");
  profile_ = std::move(next.value());
  if (reseed) rng_.seed(profile_.seed);
  if (profile_.incoming.rate_per_second > 0) schedule_incoming_tick(std::chrono::steady_clock::now());
  return profile_.to_json();
}

Profile Simulator::profile() const {
  std::lock_guard lock(mutex_);
  return profile_;
}

}  // namespace tgpulse::tdsim
