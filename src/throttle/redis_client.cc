#include "throttle/redis_client.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <openssl/evp.h>

#include <atomic>
#include <charconv>
#include <deque>
#include <optional>

#include "core/task_group.h"

namespace tgpulse::throttle {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Strand = asio::strand<asio::any_io_executor>;
using SteadyTime = std::chrono::steady_clock::time_point;

// ---- URL, script, encoding, parsing ----------------------------------------------------------------

Result<RedisEndpoint> RedisEndpoint::parse(std::string_view url) {
  constexpr std::string_view scheme = "redis://";
  if (url.substr(0, scheme.size()) != scheme) {
    return Error(Errc::invalid_argument, "is not a redis:// URL (e.g. redis://redis.internal:6379/0)");
  }
  std::string_view rest = url.substr(scheme.size());
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  if (authority.find('@') != std::string_view::npos) {
    return Error(Errc::invalid_argument,
                 "holds a user or password: give the password in quota.redis_password_file (or "
                 "TGPULSE_QUOTA_REDIS_PASSWORD) and remove it from the URL, which is logged at start-up");
  }
  if (rest.find('?') != std::string_view::npos) return Error(Errc::invalid_argument, "has a query; none is allowed");
  RedisEndpoint e;
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {  // [IPv6]:port
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return Error(Errc::invalid_argument, "has an unclosed [IPv6 address]");
    e.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Error(Errc::invalid_argument, "is not redis://host:port/db");
      port_text = after.substr(1);
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    e.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (e.host.empty()) return Error(Errc::invalid_argument, "has no host (e.g. redis://127.0.0.1:6379/0)");
  if (!port_text.empty()) {
    unsigned port = 0;
    auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || p != port_text.data() + port_text.size() || port == 0 || port > 65535) {
      return Error(Errc::invalid_argument, "has a port that is not 1-65535");
    }
    e.port = static_cast<std::uint16_t>(port);
  }
  if (!path.empty()) {
    int db = -1;
    auto [p, ec] = std::from_chars(path.data(), path.data() + path.size(), db);
    if (ec != std::errc() || p != path.data() + path.size() || db < 0 || db > 1'000'000) {
      return Error(Errc::invalid_argument, "has a database that is not a number (redis://host:port/0)");
    }
    e.db = db;
  }
  return e;
}

RedisScript::RedisScript(std::string text) : source(std::move(text)) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(source.data(), source.size(), digest, &length, EVP_sha1(), nullptr);
  static constexpr char hex[] = "0123456789abcdef";
  for (unsigned int i = 0; i < length; ++i) {
    sha1.push_back(hex[digest[i] >> 4]);
    sha1.push_back(hex[digest[i] & 0xf]);
  }
}

namespace {

std::string encode(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const std::string& a : args) {
    out += "$" + std::to_string(a.size()) + "\r\n";
    out += a;
    out += "\r\n";
  }
  return out;
}

Error protocol_error(std::string what) { return Error(Errc::invalid_argument, "redis protocol: " + std::move(what)); }

// A header line longer than this without its CRLF is no RESP2 a server sends.
constexpr std::size_t kMaxLine = 64 * 1024;

// Parses one reply at `pos`; sets *end past it. complete=false: more input is needed.
Result<bool> parse_at(std::string_view in, std::size_t pos, const RedisOptions& b, int depth, RedisReply* out,
                      std::size_t* end) {
  if (pos >= in.size()) return false;
  const std::size_t crlf = in.find("\r\n", pos + 1);
  if (crlf == std::string_view::npos) {
    if (in.size() - pos > std::max(kMaxLine, b.max_reply_bytes + 3)) return protocol_error("line too long");
    return false;
  }
  const std::string_view line = in.substr(pos + 1, crlf - pos - 1);
  auto number = [&](std::int64_t* v) {
    auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), *v);
    return ec == std::errc() && p == line.data() + line.size();
  };
  switch (in[pos]) {
    case '+':
    case '-':
      if (line.size() > b.max_reply_bytes) return protocol_error("status line over the reply bound");
      out->type = in[pos] == '+' ? RedisReply::Type::status : RedisReply::Type::error;
      out->text = std::string(line);
      *end = crlf + 2;
      return true;
    case ':':
      if (!number(&out->integer)) return protocol_error("bad integer");
      out->type = RedisReply::Type::integer;
      *end = crlf + 2;
      return true;
    case '$': {
      std::int64_t n = 0;
      if (!number(&n) || n < -1) return protocol_error("bad bulk length");
      if (n == -1) {
        out->type = RedisReply::Type::nil;
        *end = crlf + 2;
        return true;
      }
      if (static_cast<std::uint64_t>(n) > b.max_reply_bytes) return protocol_error("bulk string over the reply bound");
      const std::size_t start = crlf + 2;
      if (in.size() < start + static_cast<std::size_t>(n) + 2) return false;
      if (in.substr(start + static_cast<std::size_t>(n), 2) != "\r\n") return protocol_error("bulk string not terminated");
      out->type = RedisReply::Type::bulk;
      out->text = std::string(in.substr(start, static_cast<std::size_t>(n)));
      *end = start + static_cast<std::size_t>(n) + 2;
      return true;
    }
    case '*': {
      std::int64_t n = 0;
      if (!number(&n) || n < -1) return protocol_error("bad array length");
      if (n == -1) {
        out->type = RedisReply::Type::nil;
        *end = crlf + 2;
        return true;
      }
      if (static_cast<std::uint64_t>(n) > b.max_reply_elements) return protocol_error("array over the reply bound");
      if (depth + 1 > b.max_reply_depth) return protocol_error("arrays nested over the reply bound");
      out->type = RedisReply::Type::array;
      out->elements.clear();
      out->elements.reserve(static_cast<std::size_t>(n));
      std::size_t at = crlf + 2;
      for (std::int64_t i = 0; i < n; ++i) {
        RedisReply element;
        Result<bool> got = parse_at(in, at, b, depth + 1, &element, &at);
        if (!got) return std::move(got).error();
        if (!*got) return false;
        out->elements.push_back(std::move(element));
      }
      *end = at;
      return true;
    }
    default:
      return protocol_error("unknown reply type");
  }
}

}  // namespace

Result<RedisParse> parse_redis_reply(std::string_view input, const RedisOptions& bounds) {
  RedisParse parse;
  std::size_t end = 0;
  Result<bool> got = parse_at(input, 0, bounds, 0, &parse.reply, &end);
  if (!got) return std::move(got).error();
  parse.complete = *got;
  parse.consumed = parse.complete ? end : 0;
  return parse;
}

// ---- the connection, on the strand ------------------------------------------------------------------

namespace {

// One awaited reply (or a caller waiting for a connection attempt to end). The timer expires at the
// caller's deadline; whoever produces the result cancels it.
struct Pending {
  explicit Pending(const Strand& strand) : timer(strand) {}
  asio::steady_timer timer;
  std::optional<Result<RedisReply>> result;
  bool abandoned = false;  // the caller gave up: the reply is read and dropped
};

}  // namespace

struct RedisClient::State {
  State(asio::any_io_executor ex, RedisOptions o)
      : strand(asio::make_strand(std::move(ex))), options(std::move(o)), tasks("redis_client"),
        backoff(options.reconnect_initial) {}
  Strand strand;
  const RedisOptions options;
  TaskGroup tasks;
  // Everything below: on the strand only.
  enum class Conn { idle, connecting, connected };
  Conn conn = Conn::idle;
  std::shared_ptr<tcp::socket> socket;
  std::uint64_t generation = 0;  // one per connection attempt
  std::deque<std::shared_ptr<Pending>> in_flight;
  std::vector<std::shared_ptr<Pending>> connect_waiters;
  std::string outbox;
  bool writing = false;
  SteadyTime next_attempt{};
  std::chrono::milliseconds backoff;
  bool stopped = false;
  std::atomic<bool> is_connected{false};  // read from any thread
};

namespace {

using StatePtr = std::shared_ptr<RedisClient::State>;

void wake_all(std::vector<std::shared_ptr<Pending>>& waiters) {
  for (auto& w : waiters) w->timer.cancel();
  waiters.clear();
}

// Ends connection `gen` (if it is still the current one): in-flight calls fail with `code`.
void fail_connection(const StatePtr& s, std::uint64_t gen, Errc code, const std::string& why) {
  if (gen != s->generation || s->conn == RedisClient::State::Conn::idle) return;
  const bool was_connected = s->conn == RedisClient::State::Conn::connected;
  boost::system::error_code ignored;
  if (s->socket) s->socket->close(ignored);
  s->socket.reset();
  s->conn = RedisClient::State::Conn::idle;
  s->is_connected.store(false, std::memory_order_release);
  s->outbox.clear();
  s->writing = false;
  ++s->generation;
  for (auto& p : s->in_flight) {
    if (!p->abandoned) p->result.emplace(Error(code, "redis: " + why));
    p->timer.cancel();
  }
  s->in_flight.clear();
  // A connection that worked is tried again at once; a failed attempt waits, doubling the wait.
  const auto now = std::chrono::steady_clock::now();
  if (was_connected) {
    s->backoff = s->options.reconnect_initial;
    s->next_attempt = now;
  } else {
    s->next_attempt = now + s->backoff;
    s->backoff = std::min(s->backoff * 2, s->options.reconnect_max);
  }
  wake_all(s->connect_waiters);
}

// Reads one reply during the handshake (before the reader runs).
asio::awaitable<Result<RedisReply>> read_one(StatePtr s, std::shared_ptr<tcp::socket> sock, std::string* buf) {
  char chunk[4096];
  for (;;) {
    Result<RedisParse> parsed = parse_redis_reply(*buf, s->options);
    if (!parsed) co_return std::move(parsed).error();
    if (parsed->complete) {
      buf->erase(0, parsed->consumed);
      co_return std::move(parsed->reply);
    }
    boost::system::error_code ec;
    std::size_t n = co_await sock->async_read_some(asio::buffer(chunk), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return Error(Errc::unavailable, "redis: connection closed during the handshake");
    buf->append(chunk, n);
  }
}

// Connect + AUTH + SELECT under options.connect_timeout; then the connection's reader until it ends.
asio::awaitable<void> run_connection(StatePtr s, std::uint64_t gen, TaskGroup::Stop stop) {
  auto sock = std::make_shared<tcp::socket>(s->strand);
  auto resolver = std::make_shared<tcp::resolver>(s->strand);
  s->socket = sock;
  asio::steady_timer deadline(s->strand);
  deadline.expires_after(s->options.connect_timeout);
  deadline.async_wait([sock, resolver](boost::system::error_code ec) {
    if (ec) return;
    resolver->cancel();
    boost::system::error_code ignored;
    sock->close(ignored);
  });
  TaskGroup::StopGuard guard = stop.on_stop(s->strand, [sock] {
    boost::system::error_code ignored;
    sock->close(ignored);
  });
  auto failed = [&](const std::string& why) { fail_connection(s, gen, Errc::unavailable, why); };

  boost::system::error_code ec;
  tcp::resolver::results_type endpoints = co_await resolver->async_resolve(
      s->options.host, std::to_string(s->options.port), asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return failed("cannot resolve the host: " + ec.message());
  co_await asio::async_connect(*sock, endpoints, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return failed("cannot connect: " + ec.message());
  sock->set_option(tcp::no_delay(true), ec);

  std::string hello;
  if (!s->options.password.empty()) hello += encode({"AUTH", s->options.password});
  if (s->options.db != 0) hello += encode({"SELECT", std::to_string(s->options.db)});
  std::string buf;
  if (!hello.empty()) {
    co_await asio::async_write(*sock, asio::buffer(hello), asio::redirect_error(asio::use_awaitable, ec));
    std::fill(hello.begin(), hello.end(), '\0');
    if (ec) co_return failed("handshake write failed: " + ec.message());
    for (const char* step : {"AUTH", "SELECT"}) {
      if (std::string_view(step) == "AUTH" && s->options.password.empty()) continue;
      if (std::string_view(step) == "SELECT" && s->options.db == 0) continue;
      asio::awaitable<Result<RedisReply>> next = read_one(s, sock, &buf);
      Result<RedisReply> r = co_await std::move(next);
      if (!r) co_return failed(r.error().message);
      // The server's words only (they never echo the password).
      if (r->type == RedisReply::Type::error) co_return failed(std::string(step) + " refused: " + r->text);
    }
  }
  deadline.cancel();
  if (gen != s->generation || stop.requested() || !sock->is_open()) co_return failed("connection attempt abandoned");
  s->conn = RedisClient::State::Conn::connected;
  s->backoff = s->options.reconnect_initial;
  s->is_connected.store(true, std::memory_order_release);
  wake_all(s->connect_waiters);

  // The reader: replies come in the order the requests were written.
  char chunk[16 * 1024];
  for (;;) {
    std::size_t n = co_await sock->async_read_some(asio::buffer(chunk), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return failed(ec == asio::error::eof ? "connection closed by the server" : "connection lost: " + ec.message());
    buf.append(chunk, n);
    std::size_t used = 0;
    for (;;) {
      Result<RedisParse> parsed = parse_redis_reply(std::string_view(buf).substr(used), s->options);
      if (!parsed) co_return failed(parsed.error().message);
      if (!parsed->complete) break;
      used += parsed->consumed;
      if (s->in_flight.empty()) co_return failed("a reply nobody asked for");
      std::shared_ptr<Pending> p = std::move(s->in_flight.front());
      s->in_flight.pop_front();
      if (!p->abandoned) {
        p->result.emplace(std::move(parsed->reply));
        p->timer.cancel();
      }
    }
    buf.erase(0, used);
  }
}

void start_connect(const StatePtr& s) {
  if (s->stopped || s->conn != RedisClient::State::Conn::idle) return;
  if (std::chrono::steady_clock::now() < s->next_attempt) return;
  s->conn = RedisClient::State::Conn::connecting;
  const std::uint64_t gen = ++s->generation;
  const bool spawned = s->tasks.spawn(s->strand, "redis_connection", [s, gen](TaskGroup::Stop stop) {
    return run_connection(s, gen, std::move(stop));
  });
  if (!spawned) s->conn = RedisClient::State::Conn::idle;
}

// Waits on `p`'s timer unless its result is already there. Cancelled (result set) or expired (deadline).
asio::awaitable<void> wait_for_result(std::shared_ptr<Pending> p) {
  if (p->result) co_return;
  boost::system::error_code ec;
  co_await p->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

// One request (already encoded) on the current connection, on the strand.
asio::awaitable<Result<RedisReply>> call_on_strand(StatePtr s, std::string request, SteadyTime deadline) {
  if (s->stopped) co_return Error(Errc::cancelled, "redis: the client is stopped");
  if (s->conn != RedisClient::State::Conn::connected) {
    start_connect(s);
    if (s->conn == RedisClient::State::Conn::connecting) {
      auto waiter = std::make_shared<Pending>(s->strand);
      waiter->timer.expires_at(deadline);
      s->connect_waiters.push_back(waiter);
      asio::awaitable<void> waited = wait_for_result(waiter);
      co_await std::move(waited);
    }
    if (s->stopped) co_return Error(Errc::cancelled, "redis: the client is stopped");
    if (s->conn != RedisClient::State::Conn::connected) {
      if (s->conn == RedisClient::State::Conn::connecting) co_return Error(Errc::timeout, "redis: still connecting");
      co_return Error(Errc::unavailable, "redis: not connected");
    }
  }
  if (s->in_flight.size() >= s->options.max_in_flight) co_return Error(Errc::unavailable, "redis: too many calls in flight");
  auto p = std::make_shared<Pending>(s->strand);
  p->timer.expires_at(deadline);
  s->in_flight.push_back(p);
  s->outbox += request;
  if (!s->writing) {
    // This caller writes whatever is queued, its own request and those queued while it writes.
    s->writing = true;
    const std::uint64_t gen = s->generation;
    std::shared_ptr<tcp::socket> sock = s->socket;
    while (gen == s->generation && !s->outbox.empty()) {
      std::string out;
      out.swap(s->outbox);
      asio::steady_timer watchdog(s->strand);
      watchdog.expires_at(deadline);
      watchdog.async_wait([sock](boost::system::error_code ec) {
        if (ec) return;
        boost::system::error_code ignored;
        sock->close(ignored);  // the reader sees it and fails the connection
      });
      boost::system::error_code ec;
      co_await asio::async_write(*sock, asio::buffer(out), asio::redirect_error(asio::use_awaitable, ec));
      watchdog.cancel();
      if (ec) {
        fail_connection(s, gen, Errc::unavailable, "write failed: " + ec.message());
        break;
      }
    }
    if (gen == s->generation) s->writing = false;
  }
  asio::awaitable<void> waited = wait_for_result(p);
  co_await std::move(waited);
  if (p->result) co_return std::move(*p->result);
  p->abandoned = true;
  co_return Error(Errc::timeout, "redis: no reply within " + std::to_string(s->options.timeout.count()) + " ms");
}

bool is_noscript(const Result<RedisReply>& r) {
  return r && r->type == RedisReply::Type::error && r->text.rfind("NOSCRIPT", 0) == 0;
}

asio::awaitable<Result<RedisReply>> eval_on_strand(StatePtr s, std::shared_ptr<const RedisScript> script,
                                                   std::vector<std::string> keys, std::vector<std::string> args,
                                                   SteadyTime deadline) {
  std::vector<std::string> command{"EVALSHA", script->sha1, std::to_string(keys.size())};
  for (std::string& k : keys) command.push_back(std::move(k));
  for (std::string& a : args) command.push_back(std::move(a));
  std::string request = encode(command);
  asio::awaitable<Result<RedisReply>> first = call_on_strand(s, request, deadline);
  Result<RedisReply> r = co_await std::move(first);
  if (!is_noscript(r)) co_return r;
  // The server does not know the script (first use, restart, SCRIPT FLUSH): load it and try once more.
  asio::awaitable<Result<RedisReply>> load = call_on_strand(s, encode({"SCRIPT", "LOAD", script->source}), deadline);
  Result<RedisReply> loaded = co_await std::move(load);
  if (!loaded || loaded->type == RedisReply::Type::error) co_return loaded;
  asio::awaitable<Result<RedisReply>> again = call_on_strand(s, std::move(request), deadline);
  co_return co_await std::move(again);
}

// co_spawn(..., use_awaitable) needs a default-constructible result: the job's, wrapped.
asio::awaitable<std::optional<Result<RedisReply>>> optional_of(asio::awaitable<Result<RedisReply>> job) {
  Result<RedisReply> r = co_await std::move(job);
  co_return std::optional<Result<RedisReply>>(std::move(r));
}

// Runs `job` on the client's strand and resumes on the caller's executor.
asio::awaitable<Result<RedisReply>> on_strand(StatePtr s, asio::awaitable<Result<RedisReply>> job) {
  asio::awaitable<std::optional<Result<RedisReply>>> spawned =
      asio::co_spawn(s->strand, optional_of(std::move(job)), asio::use_awaitable);
  std::optional<Result<RedisReply>> r = co_await std::move(spawned);
  co_return std::move(*r);
}

}  // namespace

// ---- the public face ---------------------------------------------------------------------------------

std::shared_ptr<RedisClient> RedisClient::make(asio::any_io_executor executor, RedisOptions options) {
  return std::shared_ptr<RedisClient>(new RedisClient(std::move(executor), std::move(options)));
}

RedisClient::RedisClient(asio::any_io_executor executor, RedisOptions options)
    : options_(options), state_(std::make_shared<State>(std::move(executor), std::move(options))) {
  std::fill(options_.password.begin(), options_.password.end(), '\0');  // one copy of it: the state's
  options_.password.clear();
}

RedisClient::~RedisClient() { stop(); }

void RedisClient::connect() {
  asio::post(state_->strand, [s = state_] { start_connect(s); });
}

asio::awaitable<Result<RedisReply>> RedisClient::command(std::vector<std::string> args) {
  const SteadyTime deadline = std::chrono::steady_clock::now() + options_.timeout;
  return on_strand(state_, call_on_strand(state_, encode(args), deadline));
}

asio::awaitable<Result<RedisReply>> RedisClient::eval(std::shared_ptr<const RedisScript> script,
                                                      std::vector<std::string> keys, std::vector<std::string> args) {
  const SteadyTime deadline = std::chrono::steady_clock::now() + options_.timeout;
  return on_strand(state_, eval_on_strand(state_, std::move(script), std::move(keys), std::move(args), deadline));
}

void RedisClient::stop(std::chrono::milliseconds timeout) {
  StatePtr s = state_;
  if (!s || s->tasks.stop_requested()) return;
  s->tasks.request_stop("redis client stopped");
  asio::post(s->strand, [s] {
    s->stopped = true;
    fail_connection(s, s->generation, Errc::cancelled, "the client is stopped");
    wake_all(s->connect_waiters);
  });
  (void)s->tasks.wait_for(timeout);
}

bool RedisClient::connected() const noexcept { return state_->is_connected.load(std::memory_order_acquire); }

}  // namespace tgpulse::throttle
