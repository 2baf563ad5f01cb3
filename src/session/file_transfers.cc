#include "session/file_transfers.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "http/byte_range.h"
#include "session/session.h"

namespace tgpulse::session {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace fs = std::filesystem;
using json = nlohmann::json;
using http::Request;
using http::Response;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kMaxName = 255;
constexpr std::size_t kUploadIdChars = 32;

bool valid_upload_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxName || name == "." || name == "..") return false;
  return std::none_of(name.begin(), name.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return c == '/' || c == '\\' || u < 0x20 || u == 0x7f;
  });
}

bool valid_upload_id(std::string_view id) {
  return id.size() == kUploadIdChars &&
         std::all_of(id.begin(), id.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Result<std::string> new_upload_id() {
  unsigned char bytes[kUploadIdChars / 2];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return Error(Errc::internal, "upload id: the random generator failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (unsigned char b : bytes) {
    id += kHex[b >> 4];
    id += kHex[b & 15];
  }
  return id;
}

// Bytes of the regular files under `dir` (symlinks not followed; a missing directory counts 0).
std::uint64_t directory_bytes(const fs::path& dir) {
  std::uint64_t total = 0;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  for (const fs::recursive_directory_iterator end; !ec && it != end; it.increment(ec)) {
    std::error_code entry_ec;
    if (it->is_regular_file(entry_ec) && !it->is_symlink(entry_ec)) {
      const std::uintmax_t size = it->file_size(entry_ec);
      if (!entry_ec) total += size;
    }
  }
  return total;
}

// An upload is written to <uploads>/<upload_id>.part and moved into <uploads>/<upload_id>/<name> only
// once whole, so a process killed in the middle leaves a .part file and never a file invoke accepts.
// A .part file nobody has written to for this long belongs to no upload in flight (each read of the body
// waits at most server.read_timeout): the quota walk removes it.
constexpr std::chrono::minutes kAbandonedPart{10};

// Bytes of a session's uploads directory; abandoned .part files are removed instead of counted.
std::uint64_t uploads_bytes(const fs::path& dir) {
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code entry_ec;
    if (it->path().extension() == ".part" && it->is_regular_file(entry_ec) &&
        now - it->last_write_time(entry_ec) > kAbandonedPart && !entry_ec) {
      fs::remove(it->path(), entry_ec);
    }
  }
  return directory_bytes(dir);
}

// An open file descriptor, closed with its last owner.
struct OpenFile {
  int fd = -1;
  std::uint64_t size = 0;
  OpenFile() = default;
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  ~OpenFile() {
    if (fd >= 0) ::close(fd);
  }
};

std::string errno_text(int e) { return std::strerror(e); }

// Content-Disposition for a file name that may hold any UTF-8 (RFC 6266 / 8187): a plain ASCII
// fallback and the exact name percent-encoded.
std::string content_disposition(std::string_view name) {
  std::string ascii, encoded;
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                       c == '-' || c == '_';
    ascii += plain ? c : '_';
    if (plain) {
      encoded += c;
    } else {
      encoded += '%';
      encoded += kHex[u >> 4];
      encoded += kHex[u & 15];
    }
  }
  if (ascii.empty()) ascii = "file";
  return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + encoded;
}

Response refusal(bhttp::status status, std::string_view code, std::string message) {
  return Response::error(status, code, message);
}

// Writes [offset, offset + length) of `file` to the response in pieces read on `pool`. A read that
// fails or comes short ends the body early, which closes the connection (the client sees a cut).
asio::awaitable<void> send_file(std::shared_ptr<OpenFile> file, std::shared_ptr<BlockingPool> pool,
                                std::uint64_t offset, std::uint64_t length, std::size_t piece,
                                telemetry::Counter* sent, http::BodyWriter& out) {
  while (length > 0) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(piece, length));
    auto read = [file, offset, want]() -> Result<std::string> {
      std::string bytes(want, '\0');
      std::size_t got = 0;
      while (got < want) {
        const ssize_t n = ::pread(file->fd, bytes.data() + got, want - got, static_cast<off_t>(offset + got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error(Errc::internal, "reading the file failed: " + errno_text(errno));
        if (n == 0) return Error(Errc::internal, "the file ended early");
        got += static_cast<std::size_t>(n);
      }
      return bytes;
    };
    asio::awaitable<Result<std::string>> reading = pool->run(std::move(read));
    Result<std::string> bytes = co_await std::move(reading);
    if (!bytes) co_return;
    asio::awaitable<bool> writing = out.write(*bytes);
    if (!co_await std::move(writing)) co_return;
    if (sent != nullptr) sent->inc(static_cast<double>(want));
    offset += want;
    length -= want;
  }
}

}  // namespace

struct FileTransfers::Impl : std::enable_shared_from_this<Impl> {
  FileTransfersOptions options;
  SessionManager& manager;
  SessionRoutes& routes;
  throttle::InvokePipeline* invoke;
  const telemetry::FileMetrics* metrics;
  std::shared_ptr<BlockingPool> pool = std::make_shared<BlockingPool>(BlockingPoolOptions{"files", 2, 256});

  struct Measured {
    std::string tenant_id;
    std::uint64_t bytes = 0;
    SteadyClock::time_point at{};
  };
  mutable std::mutex mu;
  std::map<std::string, std::uint64_t, std::less<>> reserved;  // tenant → bytes of transfers in flight
  std::map<std::string, Measured, std::less<>> measured;       // session → its uploads + files on disk

  Impl(FileTransfersOptions o, SessionManager& m, SessionRoutes& r, throttle::InvokePipeline* i,
       const telemetry::FileMetrics* fm)
      : options(std::move(o)), manager(m), routes(r), invoke(i), metrics(fm) {}

  // --- disk quota ---------------------------------------------------------------------------------
  // Bytes held back for a transfer in flight; given back on destruction. The session's measurement is
  // dropped first, so the bytes the transfer left on disk are counted by the next check.
  struct Reservation {
    std::shared_ptr<Impl> impl;
    std::string tenant_id;
    std::string session_id;
    std::uint64_t bytes = 0;
    Reservation(std::shared_ptr<Impl> i, std::string tenant, std::string session, std::uint64_t n)
        : impl(std::move(i)), tenant_id(std::move(tenant)), session_id(std::move(session)), bytes(n) {}
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;
    ~Reservation() {
      if (!impl) return;
      std::lock_guard lock(impl->mu);
      impl->measured.erase(session_id);
      auto it = impl->reserved.find(tenant_id);
      if (it != impl->reserved.end()) {
        it->second -= std::min(it->second, bytes);
        if (it->second == 0) impl->reserved.erase(it);
      }
    }
  };

  // Measures what needs it (the session of the request always; the tenant's other sessions when their
  // measurement is older than measure_reuse), then admits `bytes` if the tenant stays within its quota.
  // Errc::payload_too_large (answered 507) when it does not.
  asio::awaitable<Result<std::shared_ptr<Reservation>>> admit(std::string tenant_id, std::string session_id, std::uint64_t bytes) {
    std::vector<std::pair<std::string, std::string>> to_measure;  // session id, directory
    std::vector<std::string> live;
    const auto now = SteadyClock::now();
    {
      const std::vector<SessionView> views = manager.list(tenant_id);
      std::lock_guard lock(mu);
      for (const SessionView& v : views) {
        live.push_back(v.id);
        auto it = measured.find(v.id);
        if (v.id == session_id || it == measured.end() || now - it->second.at > options.measure_reuse) {
          to_measure.emplace_back(v.id, manager.engine_dir_of(v.id));
        }
      }
    }
    auto measure = [to_measure]() -> Result<std::vector<std::uint64_t>> {
      std::vector<std::uint64_t> out;
      for (const auto& [id, dir] : to_measure) {
        out.push_back(directory_bytes(fs::path(dir) / "files") + uploads_bytes(fs::path(dir) / "uploads"));
      }
      return out;
    };
    asio::awaitable<Result<std::vector<std::uint64_t>>> measuring = pool->run(std::move(measure));
    Result<std::vector<std::uint64_t>> sizes = co_await std::move(measuring);
    if (!sizes) co_return sizes.error();
    std::lock_guard lock(mu);
    for (std::size_t i = 0; i < to_measure.size(); ++i) {
      measured[to_measure[i].first] = Measured{tenant_id, (*sizes)[i], now};
    }
    std::uint64_t used = 0;
    for (auto it = measured.begin(); it != measured.end();) {
      if (it->second.tenant_id == tenant_id &&
          std::find(live.begin(), live.end(), it->first) == live.end()) {
        it = measured.erase(it);  // a session that is gone
        continue;
      }
      if (it->second.tenant_id == tenant_id) used += it->second.bytes;
      ++it;
    }
    if (auto r = reserved.find(tenant_id); r != reserved.end()) used += r->second;
    if (used + bytes > options.max_bytes_per_tenant) {
      co_return Error(Errc::payload_too_large,
                      "the tenant's files would use " + std::to_string(used + bytes) + " bytes, over its quota of " +
                          std::to_string(options.max_bytes_per_tenant) + " bytes (files.max_bytes_per_tenant)");
    }
    reserved[tenant_id] += bytes;
    co_return std::make_shared<Reservation>(shared_from_this(), std::move(tenant_id), std::move(session_id), bytes);
  }

  // Grows a reservation by `more` bytes when the tenant's last measurement plus its reservations allow it.
  bool grow(Reservation& r, std::uint64_t more) {
    std::lock_guard lock(mu);
    std::uint64_t used = 0;
    for (const auto& [id, m] : measured) {
      if (m.tenant_id == r.tenant_id) used += m.bytes;
    }
    if (auto it = reserved.find(r.tenant_id); it != reserved.end()) used += it->second;
    if (used + more > options.max_bytes_per_tenant) return false;
    reserved[r.tenant_id] += more;
    r.bytes += more;
    return true;
  }

  static Response over_quota(const Error& e) {
    return refusal(bhttp::status::insufficient_storage, "insufficient_storage", e.message);
  }

  // --- the caller and its session -----------------------------------------------------------------
  struct Target {
    std::shared_ptr<Session> session;
    std::optional<Response> refusal;
  };
  asio::awaitable<Target> target_of(const Request& r) {
    asio::awaitable<http::Caller> who = routes.tenant_of(r);
    http::Caller caller = co_await std::move(who);
    if (!caller) co_return Target{nullptr, std::move(caller.refusal)};
    std::shared_ptr<Session> s = manager.find(caller.tenant_id, r.param("id"));
    if (!s) co_return Target{nullptr, refusal(bhttp::status::not_found, "not_found", "no such session")};
    const SessionStatus status = s->view().status;
    if (status == SessionStatus::restoring) {
      co_return Target{nullptr, Response::error(bhttp::status::service_unavailable, "unavailable",
                                                "the session is being restored (status restoring); retry shortly",
                                                {{"status", "restoring"}, {"retry_after", 1}})
                                    .with_header("Retry-After", "1")};
    }
    if (status != SessionStatus::authorized) {
      co_return Target{nullptr, refusal(bhttp::status::conflict, "conflict",
                                        std::string("the session is not authorized (status ") +
                                            session_status_name(status) + ")")};
    }
    co_return Target{std::move(s), std::nullopt};
  }

  // One TDLib call of the file routes, through the invoke pipeline (throttle, FloodWait policy), with
  // the telethon_invoke span every invoke has.
  asio::awaitable<Result<json>> call(std::shared_ptr<Session> s, json function, std::chrono::milliseconds timeout,
                                     const telemetry::SpanContext& parent) {
    const SessionServices& sv = manager.services();
    const std::string method = function.value("@type", std::string());
    telemetry::Span span = sv.tracer.start_span("telethon_invoke", &parent);
    span.set_attribute("telethon.operation", std::string("invoke"));
    span.set_attribute("telethon.tenant_id", s->tenant_id());
    span.set_attribute("telethon.session_id", s->id());
    span.set_attribute("telethon.method", method);
    Result<json> answer = Error(Errc::internal, "no call made");
    if (invoke != nullptr) {
      throttle::InvokeCall c{s->tenant_id(), s->id(), std::move(function), sv.clock.now() + timeout,
                             throttle::FloodMode::wait};
      throttle::Sender sender = [s](json request, std::chrono::milliseconds t) { return s->send(std::move(request), t); };
      asio::awaitable<Result<json>> pending = invoke->invoke(std::move(c), std::move(sender), span);
      answer = co_await std::move(pending);
    } else {
      asio::awaitable<Result<json>> pending = s->send(std::move(function), timeout);
      answer = co_await std::move(pending);
    }
    if (answer) {
      span.set_status(telemetry::SpanStatus::ok);
    } else {
      span.set_status(telemetry::SpanStatus::error, answer.error().message);
    }
    co_return answer;
  }

  static Response call_error(const Error& e, std::int64_t file_id) {
    if (e.code == Errc::engine_error && e.td_code == 400 && e.message.find("Invalid file identifier") != std::string::npos) {
      return refusal(bhttp::status::not_found, "not_found",
                     "file " + std::to_string(file_id) + " is not known to this session");
    }
    Response r = Response::from_error(e);
    if (e.code == Errc::flood_wait || e.code == Errc::throttled) {
      r = Response::error(http::status_for(e.code), errc_name(e.code), e.message, {{"retry_after", e.retry_after_s}});
      if (e.retry_after_s > 0) r.with_header("Retry-After", std::to_string(e.retry_after_s));
    }
    return r;
  }

  // --- GET /v1/sessions/{id}/files/{file_id} ------------------------------------------------------
  asio::awaitable<Response> download(Request& r) {
    asio::awaitable<Target> finding = target_of(r);
    Target t = co_await std::move(finding);
    if (!t.session) co_return std::move(*t.refusal);
    std::shared_ptr<Session> s = std::move(t.session);
    const auto file_id = http::parse_decimal(r.param("file_id"));
    if (!file_id || *file_id == 0 || *file_id > 0x7fffffff) {
      co_return refusal(bhttp::status::bad_request, "invalid_argument", "file_id must be a TDLib file id (1 to 2147483647)");
    }
    const auto id = static_cast<std::int64_t>(*file_id);
    const auto request_timeout = manager.services().options.engine_request_timeout;
    telemetry::Span span = manager.services().tracer.start_span("tgpulse_file_download", &r.span_context);
    span.set_attribute("telethon.tenant_id", s->tenant_id());
    span.set_attribute("telethon.session_id", s->id());

    asio::awaitable<Result<json>> getting = call(s, {{"@type", "getFile"}, {"file_id", id}}, request_timeout, span.context());
    Result<json> file = co_await std::move(getting);
    if (!file) co_return call_error(file.error(), id);
    auto local_of = [](const json& f) { return f.contains("local") && f["local"].is_object() ? f["local"] : json::object(); };
    std::int64_t size = file->value("size", std::int64_t{0});
    if (size <= 0) size = file->value("expected_size", std::int64_t{0});
    if (size < 0) size = 0;
    span.set_attribute("tgpulse.file.size", size);
    if (!local_of(*file).value("is_downloading_completed", false)) {
      if (!local_of(*file).value("can_be_downloaded", true)) {
        co_return refusal(bhttp::status::conflict, "conflict", "TDLib cannot download file " + std::to_string(id));
      }
      asio::awaitable<Result<std::shared_ptr<Reservation>>> admitting = admit(s->tenant_id(), s->id(), static_cast<std::uint64_t>(size));
      Result<std::shared_ptr<Reservation>> held = co_await std::move(admitting);
      if (!held && held.error().code == Errc::payload_too_large) {
        // Make room: TDLib drops this session's downloaded files (not those downloading), then again.
        json optimize = {{"@type", "optimizeStorage"}, {"size", 0}, {"ttl", 0}, {"count", 0},
                         {"immunity_delay", 0}, {"file_types", json::array()}, {"chat_ids", json::array()},
                         {"exclude_chat_ids", json::array()}, {"return_deleted_file_statistics", false},
                         {"chat_limit", 0}};
        asio::awaitable<Result<json>> optimizing = call(s, std::move(optimize), request_timeout, span.context());
        Result<json> optimized = co_await std::move(optimizing);
        (void)optimized;  // a refusal here leaves the quota to answer
        asio::awaitable<Result<std::shared_ptr<Reservation>>> again = admit(s->tenant_id(), s->id(), static_cast<std::uint64_t>(size));
        held = co_await std::move(again);
      }
      if (!held) {
        span.set_status(telemetry::SpanStatus::error, held.error().message);
        co_return held.error().code == Errc::payload_too_large ? over_quota(held.error()) : Response::from_error(held.error());
      }
      json fetch = {{"@type", "downloadFile"}, {"file_id", id}, {"priority", 1}, {"offset", 0}, {"limit", 0},
                    {"synchronous", true}};
      asio::awaitable<Result<json>> downloading = call(s, std::move(fetch), options.download_timeout, span.context());
      file = co_await std::move(downloading);
      if (!file) {
        span.set_status(telemetry::SpanStatus::error, file.error().message);
        co_return call_error(file.error(), id);
      }
      if (!local_of(*file).value("is_downloading_completed", false)) {
        co_return refusal(bhttp::status::bad_gateway, "engine_error",
                          "TDLib ended the download of file " + std::to_string(id) + " before it was complete");
      }
    }
    const std::string path = local_of(*file).value("path", std::string());
    const std::string files_dir = manager.engine_dir_of(s->id()) + "/files";
    auto open = [path, files_dir]() -> Result<std::shared_ptr<OpenFile>> {
      std::error_code ec;
      const fs::path root = fs::canonical(files_dir, ec);
      if (ec) return Error(Errc::not_found, "the session has no downloaded files");
      const fs::path real = fs::canonical(path, ec);
      if (ec) return Error(Errc::not_found, "the downloaded file is gone");
      auto [r_end, p_it] = std::mismatch(root.begin(), root.end(), real.begin(), real.end());
      if (r_end != root.end()) return Error(Errc::internal, "TDLib placed the file outside the session's files directory");
      auto f = std::make_shared<OpenFile>();
      f->fd = ::open(real.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
      if (f->fd < 0) return Error(Errc::not_found, "the downloaded file cannot be opened: " + errno_text(errno));
      struct stat st {};
      if (::fstat(f->fd, &st) != 0 || !S_ISREG(st.st_mode)) return Error(Errc::internal, "the downloaded file is not a regular file");
      f->size = static_cast<std::uint64_t>(st.st_size);
      return f;
    };
    asio::awaitable<Result<std::shared_ptr<OpenFile>>> opening = pool->run(std::move(open));
    Result<std::shared_ptr<OpenFile>> opened = co_await std::move(opening);
    if (!opened) {
      span.set_status(telemetry::SpanStatus::error, opened.error().message);
      co_return Response::from_error(opened.error());
    }
    std::shared_ptr<OpenFile> f = std::move(*opened);
    const http::ByteRange range = http::parse_range(r.header("Range"), f->size);
    if (range.kind == http::ByteRange::Kind::unsatisfiable) {
      co_return Response::error(bhttp::status::range_not_satisfiable, "range_not_satisfiable",
                                "the file has " + std::to_string(f->size) + " bytes")
          .with_header("Content-Range", "bytes */" + std::to_string(f->size));
    }
    const bool partial = range.kind == http::ByteRange::Kind::partial;
    const std::uint64_t first = partial ? range.first : 0;
    const std::uint64_t length = partial ? range.length : f->size;
    span.set_attribute("tgpulse.file.bytes_sent", static_cast<std::int64_t>(length));
    span.set_status(telemetry::SpanStatus::ok);
    const std::string name = fs::path(path).filename().string();
    std::shared_ptr<BlockingPool> p = pool;
    const std::size_t piece = options.piece_bytes;
    telemetry::Counter* sent = metrics != nullptr ? &metrics->bytes(telemetry::FileMetrics::Direction::download) : nullptr;
    Response out = Response::streamed(partial ? bhttp::status::partial_content : bhttp::status::ok,
                                      "application/octet-stream", length,
                                      [f, p, first, length, piece, sent](http::BodyWriter& w) {
                                        return send_file(f, p, first, length, piece, sent, w);
                                      });
    out.with_header("Accept-Ranges", "bytes");
    out.with_header("Cache-Control", "no-store");
    out.with_header("X-Content-Type-Options", "nosniff");
    out.with_header("Content-Disposition", content_disposition(name));
    if (partial) {
      out.with_header("Content-Range", "bytes " + std::to_string(first) + "-" + std::to_string(first + length - 1) +
                                           "/" + std::to_string(f->size));
    }
    co_return out;
  }

  // --- POST /v1/sessions/{id}/files?name=N ---------------------------------------------------------
  asio::awaitable<Response> upload(Request& r) {
    asio::awaitable<Target> finding = target_of(r);
    Target t = co_await std::move(finding);
    if (!t.session) co_return std::move(*t.refusal);
    std::shared_ptr<Session> s = std::move(t.session);
    const std::optional<std::string_view> name_param = r.query("name");
    if (!name_param || !valid_upload_name(*name_param)) {
      co_return refusal(bhttp::status::bad_request, "invalid_argument",
                        "name (the file's name, 1-255 bytes without '/', '\\\\' or control characters, not . or ..) "
                        "is required as a query parameter");
    }
    const std::string name(*name_param);
    if (r.body_reader == nullptr) co_return refusal(bhttp::status::internal_server_error, "internal", "no request body");
    const std::optional<std::uint64_t> declared = r.body_reader->content_length();
    if (declared && *declared == 0) {
      co_return refusal(bhttp::status::bad_request, "invalid_argument", "the file is empty: Telegram takes no empty files");
    }
    telemetry::Span span = manager.services().tracer.start_span("tgpulse_file_upload", &r.span_context);
    span.set_attribute("telethon.tenant_id", s->tenant_id());
    span.set_attribute("telethon.session_id", s->id());
    asio::awaitable<Result<std::shared_ptr<Reservation>>> admitting = admit(s->tenant_id(), s->id(), declared.value_or(0));
    Result<std::shared_ptr<Reservation>> held = co_await std::move(admitting);
    if (!held) {
      span.set_status(telemetry::SpanStatus::error, held.error().message);
      co_return held.error().code == Errc::payload_too_large ? over_quota(held.error()) : Response::from_error(held.error());
    }
    Result<std::string> upload_id = new_upload_id();
    if (!upload_id) co_return Response::from_error(upload_id.error());
    const std::string dir = manager.engine_dir_of(s->id()) + "/uploads/" + *upload_id;
    const std::string path = dir + "/" + name;
    const std::string part = dir + ".part";
    auto create = [part]() -> Result<std::shared_ptr<OpenFile>> {
      std::error_code ec;
      fs::create_directories(fs::path(part).parent_path(), ec);
      if (ec) return Error(Errc::internal, "creating the uploads directory failed: " + ec.message());
      auto f = std::make_shared<OpenFile>();
      f->fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (f->fd < 0) return Error(Errc::internal, "creating the upload's file failed: " + errno_text(errno));
      return f;
    };
    asio::awaitable<Result<std::shared_ptr<OpenFile>>> creating = pool->run(std::move(create));
    Result<std::shared_ptr<OpenFile>> created = co_await std::move(creating);
    std::optional<Response> failure;
    std::uint64_t written = 0;
    if (!created) {
      failure = Response::from_error(created.error());
    } else {
      std::shared_ptr<OpenFile> f = std::move(*created);
      auto buffer = std::make_shared<std::vector<char>>(options.piece_bytes);
      while (true) {
        asio::awaitable<Result<std::size_t>> reading = r.body_reader->read(*buffer);
        Result<std::size_t> n = co_await std::move(reading);
        if (!n) {
          failure = n.error().code == Errc::payload_too_large
                        ? Response::error(bhttp::status::payload_too_large, "payload_too_large",
                                          n.error().message + " (files.max_upload_bytes)")
                        : Response::from_error(n.error().code == Errc::unavailable
                                                   ? Error(Errc::invalid_argument, "the upload was not completed: " + n.error().message)
                                                   : n.error());
          break;
        }
        if (*n == 0) break;
        if (!declared && !grow(**held, *n)) {
          failure = over_quota(Error(Errc::payload_too_large,
                                     "the upload passed the tenant's quota of " +
                                         std::to_string(options.max_bytes_per_tenant) + " bytes (files.max_bytes_per_tenant)"));
          break;
        }
        if (declared && written + *n > *declared) {
          failure = refusal(bhttp::status::bad_request, "invalid_argument", "the body is longer than its Content-Length");
          break;
        }
        auto write = [f, buffer, count = *n]() -> Status {
          std::size_t done = 0;
          while (done < count) {
            const ssize_t w = ::write(f->fd, buffer->data() + done, count - done);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) return Error(Errc::internal, "writing the upload failed: " + errno_text(errno));
            done += static_cast<std::size_t>(w);
          }
          return {};
        };
        asio::awaitable<Status> writing = pool->run(std::move(write));
        Status st = co_await std::move(writing);
        if (!st) {
          failure = Response::from_error(st.error());
          break;
        }
        written += *n;
      }
      if (!failure && written == 0) {
        failure = refusal(bhttp::status::bad_request, "invalid_argument", "the file is empty: Telegram takes no empty files");
      }
      if (!failure) {
        // Whole: only now does it get the name invoke accepts.
        auto finish = [dir, part, path, f]() -> Status {
          std::error_code ec;
          fs::create_directory(dir, ec);
          if (!ec) fs::rename(part, path, ec);
          if (ec) return Error(Errc::internal, "storing the upload failed: " + ec.message());
          return {};
        };
        asio::awaitable<Status> finishing = pool->run(std::move(finish));
        Status finished = co_await std::move(finishing);
        if (!finished) failure = Response::from_error(finished.error());
      }
    }
    if (failure) {
      // Nothing half-done stays: the partial file and its directory go before the answer.
      auto remove = [dir, part]() -> Status {
        std::error_code ec;
        fs::remove(part, ec);
        fs::remove_all(dir, ec);
        return {};
      };
      asio::awaitable<Status> removing = pool->run(std::move(remove));
      Status removed = co_await std::move(removing);
      (void)removed;
      span.set_status(telemetry::SpanStatus::error, std::to_string(static_cast<unsigned>(failure->status)));
      co_return std::move(*failure);
    }
    span.set_attribute("tgpulse.file.size", static_cast<std::int64_t>(written));
    span.set_status(telemetry::SpanStatus::ok);
    if (metrics != nullptr) metrics->bytes(telemetry::FileMetrics::Direction::upload).inc(static_cast<double>(written));
    co_return Response::json(bhttp::status::created,
                             {{"upload_id", *upload_id},
                              {"name", name},
                              {"size", written},
                              {"input_file", {{"@type", "inputFileLocal"}, {"path", path}}}});
  }

  // --- DELETE /v1/sessions/{id}/uploads/{upload_id} ------------------------------------------------
  asio::awaitable<Response> remove_upload(Request& r) {
    asio::awaitable<http::Caller> who = routes.tenant_of(r);
    http::Caller caller = co_await std::move(who);
    if (!caller) co_return std::move(*caller.refusal);
    std::shared_ptr<Session> s = manager.find(caller.tenant_id, r.param("id"));
    if (!s) co_return refusal(bhttp::status::not_found, "not_found", "no such session");
    const std::string upload_id(r.param("upload_id"));
    if (!valid_upload_id(upload_id)) co_return refusal(bhttp::status::not_found, "not_found", "no such upload");
    const std::string dir = manager.engine_dir_of(s->id()) + "/uploads/" + upload_id;
    auto remove = [dir]() -> Result<bool> {
      std::error_code ec;
      const auto n = fs::remove_all(dir, ec);
      if (ec) return Error(Errc::internal, "removing the upload failed: " + ec.message());
      return n > 0;
    };
    asio::awaitable<Result<bool>> removing = pool->run(std::move(remove));
    Result<bool> removed = co_await std::move(removing);
    if (!removed) co_return Response::from_error(removed.error());
    if (!*removed) co_return refusal(bhttp::status::not_found, "not_found", "no such upload");
    {
      std::lock_guard lock(mu);
      measured.erase(s->id());
    }
    co_return Response::json(bhttp::status::ok, {{"deleted", true}, {"upload_id", upload_id}});
  }
};

FileTransfers::FileTransfers(FileTransfersOptions options, SessionManager& manager, SessionRoutes& routes,
                             throttle::InvokePipeline* invoke, const telemetry::FileMetrics* metrics)
    : impl_(std::make_shared<Impl>(std::move(options), manager, routes, invoke, metrics)) {}

FileTransfers::~FileTransfers() { stop(); }

void FileTransfers::stop() { impl_->pool->stop(); }

bool FileTransfers::is_own_upload(std::string_view session_id, std::string_view path) const {
  const std::string prefix = impl_->manager.engine_dir_of(session_id) + "/uploads/";
  if (path.size() <= prefix.size() || path.substr(0, prefix.size()) != prefix) return false;
  const std::string_view rest = path.substr(prefix.size());
  if (rest.size() < kUploadIdChars + 2 || rest[kUploadIdChars] != '/') return false;
  return valid_upload_id(rest.substr(0, kUploadIdChars)) && valid_upload_name(rest.substr(kUploadIdChars + 1));
}

namespace {

using Member = asio::awaitable<Response> (FileTransfers::Impl::*)(Request&);

// Runs a transfer route and counts how it ended.
asio::awaitable<Response> counted(std::shared_ptr<FileTransfers::Impl> impl, Member member,
                                  telemetry::FileMetrics::Direction direction, Request& r) {
  asio::awaitable<Response> answering = ((*impl).*member)(r);
  Response res = co_await std::move(answering);
  if (impl->metrics != nullptr) impl->metrics->transfer(direction, static_cast<unsigned>(res.status)).inc();
  co_return res;
}

}  // namespace

void FileTransfers::add_to(http::Router& router) {
  using Direction = telemetry::FileMetrics::Direction;
  auto add = [&](bhttp::verb verb, std::string_view pattern, Member member, Direction direction,
                 http::RouteOptions route_options = {}) {
    router.add(verb, pattern, [impl = impl_, member, direction](Request& r) { return counted(impl, member, direction, r); },
               route_options);
  };
  add(bhttp::verb::get, "/v1/sessions/{id}/files/{file_id}", &Impl::download, Direction::download);
  add(bhttp::verb::post, "/v1/sessions/{id}/files", &Impl::upload, Direction::upload,
      http::RouteOptions{true, impl_->options.max_upload_bytes});
  router.add(bhttp::verb::delete_, "/v1/sessions/{id}/uploads/{upload_id}",
             [impl = impl_](Request& r) { return impl->remove_upload(r); });
}

}  // namespace tgpulse::session
