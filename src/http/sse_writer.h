// SseWriter: the producer side of a Server-Sent Events stream (text/event-stream). The server sends
// the response head, then runs the handler's SseProducer with a writer:
//
//   co_return Response::event_stream([flow](SseWriter& w) -> asio::awaitable<void> {
//     auto wake = w.waker();                  // thread-safe; call it when there is news
//     flow->on_change(wake);
//     while (w.open()) {
//       if (!co_await w.send("state", flow->state_json())) co_return;   // client gone / shutdown
//       if (!co_await w.wait(std::chrono::seconds(30))) co_return;      // heartbeats while waiting
//     }
//   });
//
// wait() sends a heartbeat comment (": keep-alive") whenever the stream has been silent for the
// heartbeat interval, so proxies keep it open and a vanished client is noticed. The stream is closed —
// open() false, send()/wait() return false at once — when the client disconnects (the server keeps a
// read pending on the socket), when a write fails or times out, and when the server shuts down.
//
// A relayed stream (the answer of another server, passed through as it comes) writes its bytes with
// relay() and registers on_close() so that its read from the other server ends as soon as this stream
// closes.
//
// Thread-safety: confined to the connection's strand (the producer coroutine); only the function
// returned by waker() may be called from any thread, at any time, even after the stream ended.
#pragma once

#include <utility>  // before Boost.Asio: 1.74's awaitable.hpp uses std::exchange without it

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace tgpulse::http {

struct SseOptions {
  // A ": keep-alive" comment is sent when nothing was written for this long (during wait()).
  std::chrono::milliseconds heartbeat{15000};
  // A single write that takes longer than this closes the stream (a client that stopped reading).
  std::chrono::milliseconds write_timeout{30000};
};

class SseWriter {
 public:
  SseWriter(boost::beast::tcp_stream& stream, SseOptions options);
  ~SseWriter();
  SseWriter(const SseWriter&) = delete;
  SseWriter& operator=(const SseWriter&) = delete;

  // Sends one event: "event: <event>\nid: <id>\ndata: <line>\n...\n\n". `event` and `id` are omitted
  // when empty; multi-line data becomes several data: lines. Returns false when the stream is closed.
  boost::asio::awaitable<bool> send(std::string_view event, std::string_view data, std::string_view id = {});
  // Sends a comment line (": <text>\n\n"), which clients ignore. Returns false when closed.
  boost::asio::awaitable<bool> comment(std::string_view text = "keep-alive");
  // Writes `bytes` as they are: events another server already formatted (a stream relayed from the node
  // that owns the session). Counts no event. Returns false when the stream is closed.
  boost::asio::awaitable<bool> relay(std::string_view bytes);
  // `fn` runs on the connection's strand once, when the stream closes (stop() or mark_client_gone()),
  // so a producer awaiting something other than wait() — a read from another server — can end at once.
  // It must not throw (it cancels I/O). Replaces a previous one; nullptr removes it. Registered after the stream closed, it is not called:
  // check open() after registering.
  void on_close(std::function<void()> fn) { on_close_ = std::move(fn); }
  // Waits up to `duration`, sending heartbeats as needed. Returns true when the time elapsed or the
  // waker was called (then the flag is consumed), false as soon as the stream is closed.
  boost::asio::awaitable<bool> wait(std::chrono::milliseconds duration);
  // A function that makes a pending (or the next) wait() return true early. Thread-safe; a no-op once
  // the stream has ended.
  std::function<void()> waker();

  bool open() const noexcept { return !client_gone_.load() && !stopping_.load(); }
  bool client_gone() const noexcept { return client_gone_.load(); }
  bool stopping() const noexcept { return stopping_.load(); }
  std::uint64_t events_sent() const noexcept { return events_sent_; }

  // Server side (on the connection's strand): the server is shutting down / the client went away.
  void stop() noexcept;
  void mark_client_gone() noexcept;

 private:
  struct Wake;
  boost::asio::awaitable<bool> write_raw(std::string data);
  void closed() noexcept;

  boost::beast::tcp_stream& stream_;
  SseOptions options_;
  std::shared_ptr<Wake> wake_;
  std::atomic<bool> client_gone_{false};
  std::atomic<bool> stopping_{false};
  std::uint64_t events_sent_ = 0;
  std::chrono::steady_clock::time_point last_write_;
  std::function<void()> on_close_;
};

}  // namespace tgpulse::http
