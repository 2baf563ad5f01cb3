// RedisClient: a minimal asynchronous Redis client (RESP2 over one pipelined TCP connection) for the
// shared request quota (SharedRequestQuota). It knows only what the quota needs: AUTH and SELECT at
// connect, EVALSHA with a SCRIPT LOAD fallback on NOSCRIPT, and plain commands for tests.
//
//   - Every call has a deadline (RedisOptions::timeout, 50 ms by default): past it the caller gets
//     Errc::timeout; the reply, if it comes later, is read and dropped. A call never waits longer.
//   - Connecting has its own bound (connect_timeout). A failed connection (refused, reset, protocol
//     error) fails the calls in flight with Errc::unavailable and is retried, at the earliest, after a
//     back-off (reconnect_initial, doubling to reconnect_max); calls made during the back-off fail at
//     once with Errc::unavailable instead of waiting.
//   - Replies are bounded before they are copied: a bulk string over max_reply_bytes, an array over
//     max_reply_elements or nesting deeper than max_reply_depth is a protocol error that closes the
//     connection.
//   - The password (RedisOptions::password) is sent in AUTH only; it is never logged nor put in an error.
//
// Thread-safety: thread-safe. The connection and every piece of state live on the client's own strand;
// a call from another executor runs its work there (co_spawn) and resumes on the caller's executor.
// The connection reader is a task of the client's TaskGroup, on that strand; stop() ends it and joins it
// within a bound. Create with make(); the client must be stop()-ped before its executor's io_context
// stops running.
#pragma once

#include <utility>  // before Boost.Asio 1.74's awaitable.hpp, which uses std::exchange without it

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace tgpulse::throttle {

// One RESP2 reply.
struct RedisReply {
  enum class Type { status, error, integer, bulk, nil, array };
  Type type = Type::nil;
  std::string text;  // status, error and bulk
  std::int64_t integer = 0;
  std::vector<RedisReply> elements;  // array
};

struct RedisOptions {
  // redis://host:port/db (RedisEndpoint::parse). The password is never part of it.
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  int db = 0;
  // Sent with AUTH after connecting; "" = no AUTH. Secret.
  std::string password;
  // Deadline of one call (quota.redis_timeout). 50 ms: far above a LAN round trip (< 1 ms), short
  // enough that a request never waits noticeably on a sick Redis before it falls back.
  std::chrono::milliseconds timeout{50};
  // Bound on connect + AUTH + SELECT. 1 s: a remote Redis answers in milliseconds when it is there.
  std::chrono::milliseconds connect_timeout{1000};
  // Back-off between connection attempts: 100 ms, doubling to 1 s.
  std::chrono::milliseconds reconnect_initial{100};
  std::chrono::milliseconds reconnect_max{1000};
  // Reply bounds: the quota's replies are two integers; these leave room for tests and INFO.
  std::size_t max_reply_bytes = 1 << 20;  // one bulk string
  std::size_t max_reply_elements = 1024;  // one array
  int max_reply_depth = 4;                // nested arrays
  // Calls in flight at once (written, reply awaited); more fail at once with Errc::unavailable.
  std::size_t max_in_flight = 4096;
};

// A parsed redis:// URL.
struct RedisEndpoint {
  std::string host;
  std::uint16_t port = 6379;
  int db = 0;
  // redis://host[:port][/db]; a URL carrying a user or password is refused (the password comes from
  // its own setting). The error never contains the URL.
  static Result<RedisEndpoint> parse(std::string_view url);
};

// A Lua script and its SHA1 (what EVALSHA names it by).
struct RedisScript {
  explicit RedisScript(std::string source);
  std::string source;
  std::string sha1;  // lowercase hex
};

// The incremental RESP2 parser, exposed for tests. Parses one reply from the front of `input`:
// the reply and the bytes it took, nothing yet (need more input), or invalid_argument (malformed or
// over a bound).
struct RedisParse {
  bool complete = false;
  std::size_t consumed = 0;
  RedisReply reply;
};
Result<RedisParse> parse_redis_reply(std::string_view input, const RedisOptions& bounds);

// The Redis boundary as the quota sees it (RedisClient is the real one; tests may give another).
class RedisScripts {
 public:
  virtual ~RedisScripts() = default;
  // EVALSHA script.sha1 with `keys` and `args`; on NOSCRIPT, SCRIPT LOAD then EVALSHA again, all within
  // one deadline. A Redis error reply is a value (Type::error); Error is timeout, unavailable or cancelled.
  virtual boost::asio::awaitable<Result<RedisReply>> eval(std::shared_ptr<const RedisScript> script,
                                                           std::vector<std::string> keys,
                                                           std::vector<std::string> args) = 0;
};

class RedisClient final : public RedisScripts, public std::enable_shared_from_this<RedisClient> {
 public:
  // Does not connect: the first call (or connect()) does.
  static std::shared_ptr<RedisClient> make(boost::asio::any_io_executor executor, RedisOptions options);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Starts connecting now if not connected and not backing off (e.g. at start-up). Returns at once.
  void connect();
  // One command (e.g. {"SET", "k", "v"}) under options().timeout. A Redis error reply is a value
  // (Type::error), not an Error; Error is timeout, unavailable (not connected, connection lost, too many
  // in flight) or cancelled (stopped).
  boost::asio::awaitable<Result<RedisReply>> command(std::vector<std::string> args);
  // RedisScripts::eval, within one options().timeout.
  boost::asio::awaitable<Result<RedisReply>> eval(std::shared_ptr<const RedisScript> script,
                                                   std::vector<std::string> keys,
                                                   std::vector<std::string> args) override;
  // Closes the connection, fails what is in flight (cancelled) and joins the reader within `timeout`.
  // Later calls fail with cancelled. Idempotent; from any thread but the one running the strand (the
  // destructor calls it too: destroy the client off that thread).
  void stop(std::chrono::milliseconds timeout = std::chrono::milliseconds(1000));

  bool connected() const noexcept;
  const RedisOptions& options() const noexcept { return options_; }

  struct State;  // strand-confined connection state (redis_client.cc)

 private:
  RedisClient(boost::asio::any_io_executor executor, RedisOptions options);

  RedisOptions options_;
  std::shared_ptr<State> state_;
};

}  // namespace tgpulse::throttle
