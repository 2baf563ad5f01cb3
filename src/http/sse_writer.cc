#include "http/sse_writer.h"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace tgpulse::http {

namespace asio = boost::asio;

// The part of the writer a waker may reach from another thread: it posts to the strand and only
// touches the timer there.
struct SseWriter::Wake {
  explicit Wake(asio::any_io_executor ex) : executor(ex), timer(ex) {}
  asio::any_io_executor executor;
  asio::steady_timer timer;
  bool woken = false;  // strand only
};

SseWriter::SseWriter(boost::beast::tcp_stream& stream, SseOptions options)
    : stream_(stream),
      options_(options),
      wake_(std::make_shared<Wake>(stream.get_executor())),
      last_write_(std::chrono::steady_clock::now()) {}

SseWriter::~SseWriter() { wake_->timer.cancel(); }

void SseWriter::stop() noexcept {
  stopping_.store(true);
  wake_->timer.cancel();
  closed();
}

void SseWriter::mark_client_gone() noexcept {
  client_gone_.store(true);
  wake_->timer.cancel();
  closed();
}

void SseWriter::closed() noexcept {
  std::function<void()> fn = std::move(on_close_);
  on_close_ = nullptr;
  if (fn) fn();
}

std::function<void()> SseWriter::waker() {
  std::weak_ptr<Wake> weak = wake_;
  asio::any_io_executor ex = wake_->executor;
  return [weak, ex]() {
    asio::post(ex, [weak]() {
      if (auto w = weak.lock()) {
        w->woken = true;
        w->timer.cancel();
      }
    });
  };
}

asio::awaitable<bool> SseWriter::write_raw(std::string data) {
  if (!open()) co_return false;
  boost::system::error_code ec;
  stream_.expires_after(options_.write_timeout);
  co_await asio::async_write(stream_, asio::buffer(data), asio::redirect_error(asio::use_awaitable, ec));
  stream_.expires_never();
  if (ec) {
    client_gone_.store(true);
    co_return false;
  }
  last_write_ = std::chrono::steady_clock::now();
  co_return open();
}

asio::awaitable<bool> SseWriter::relay(std::string_view bytes) {
  if (bytes.empty()) co_return open();
  asio::awaitable<bool> writing = write_raw(std::string(bytes));
  co_return co_await std::move(writing);
}

asio::awaitable<bool> SseWriter::send(std::string_view event, std::string_view data, std::string_view id) {
  std::string out;
  out.reserve(data.size() + event.size() + id.size() + 32);
  auto single_line = [](std::string_view v) {
    std::string s(v);
    for (char& c : s) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    return s;
  };
  if (!event.empty()) out += "event: " + single_line(event) + "\n";
  if (!id.empty()) out += "id: " + single_line(id) + "\n";
  std::string_view rest = data;
  while (true) {
    auto nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out += "data: ";
    out += line;
    out += '\n';
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  out += '\n';
  const bool ok = co_await write_raw(std::move(out));
  if (ok) ++events_sent_;
  co_return ok;
}

asio::awaitable<bool> SseWriter::comment(std::string_view text) {
  std::string out = ": ";
  for (char c : text) out.push_back(c == '\n' || c == '\r' ? ' ' : c);
  out += "\n\n";
  co_return co_await write_raw(std::move(out));
}

asio::awaitable<bool> SseWriter::wait(std::chrono::milliseconds duration) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + duration;
  while (true) {
    if (!open()) co_return false;
    if (wake_->woken) {
      wake_->woken = false;
      co_return true;
    }
    const auto now = Clock::now();
    if (now >= deadline) co_return true;
    const auto heartbeat_at = last_write_ + options_.heartbeat;
    if (now >= heartbeat_at) {
      if (!co_await comment()) co_return false;
      continue;
    }
    wake_->timer.expires_at(std::min(deadline, heartbeat_at));
    boost::system::error_code ec;
    co_await wake_->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

}  // namespace tgpulse::http
