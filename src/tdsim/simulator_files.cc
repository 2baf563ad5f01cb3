// The Simulator's files (docs/tdsim.md#files): remote files with FileContent's bytes, getFile,
// downloadFile (written by TransferPool workers at the profile's throughput), cancelDownloadFile,
// deleteFile, optimizeStorage, and sendMessage with a local file (read and hashed by a worker).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <thread>

#include "tdsim/fake_world.h"
#include "tdsim/file_content.h"
#include "tdsim/simulator.h"

namespace tgpulse::tdsim {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {
constexpr std::int64_t kChunk = 1 << 20;                  // bytes a worker moves between checks
constexpr std::int64_t kMaxUploadSize = std::int64_t{2} << 30;  // Telegram's 2 GiB (TDLib: "File is too big")
constexpr int kProgressSteps = 4;                          // updateFile at each quarter of a transfer

void add_range(std::map<std::int64_t, std::int64_t>& ranges, std::int64_t start, std::int64_t end) {
  if (end <= start) return;
  auto it = ranges.upper_bound(start);
  if (it != ranges.begin() && std::prev(it)->second >= start) {
    --it;
    start = it->first;
    end = std::max(end, it->second);
    it = ranges.erase(it);
  }
  while (it != ranges.end() && it->first <= end) {
    end = std::max(end, it->second);
    it = ranges.erase(it);
  }
  ranges.emplace(start, end);
}

// Bytes covered from `from` on without a gap.
std::int64_t prefix_from(const std::map<std::int64_t, std::int64_t>& ranges, std::int64_t from) {
  auto it = ranges.upper_bound(from);
  if (it == ranges.begin()) return 0;
  --it;
  return it->second > from ? it->second - from : 0;
}

std::int64_t total(const std::map<std::int64_t, std::int64_t>& ranges) {
  std::int64_t n = 0;
  for (const auto& [start, end] : ranges) n += end - start;
  return n;
}

// Sleeps until `target` in short slices; false when `stop` turned true first.
template <typename Stop>
bool pace_until(std::chrono::steady_clock::time_point target, const Stop& stop) {
  while (std::chrono::steady_clock::now() < target) {
    if (stop()) return false;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        target - std::chrono::steady_clock::now(), std::chrono::milliseconds(20)));
  }
  return !stop();
}

std::chrono::steady_clock::time_point after_bytes(std::chrono::steady_clock::time_point start, std::int64_t bytes,
                                                  double per_second) {
  return start + std::chrono::microseconds(static_cast<std::int64_t>(static_cast<double>(bytes) / per_second * 1e6));
}

json storage_statistics(std::int64_t size, std::int64_t count) {
  json by_chat = json::array();
  if (count > 0) {
    // Files from POST /file belong to no chat: TDLib lists them under chat 0.
    by_chat.push_back({{"@type", "storageStatisticsByChat"}, {"chat_id", 0}, {"size", size}, {"count", count},
                       {"by_file_type", json::array({{{"@type", "storageStatisticsByFileType"},
                                                      {"file_type", {{"@type", "fileTypeDocument"}}},
                                                      {"size", size}, {"count", count}}})}});
  }
  return {{"@type", "storageStatistics"}, {"size", size}, {"count", count}, {"by_chat", by_chat}};
}
}  // namespace

bool Simulator::is_file_function(std::string_view t) {
  return t == "getFile" || t == "downloadFile" || t == "cancelDownloadFile" || t == "deleteFile" ||
         t == "optimizeStorage";
}

bool Simulator::is_file_upload(const TdRequest& request) {
  if (request.type != "sendMessage") return false;
  auto content = request.object.find("input_message_content");
  if (content == request.object.end() || !content->is_object()) return false;
  const std::string type = content->value("@type", std::string());
  return type == "inputMessageDocument" || type == "inputMessagePhoto" || type == "inputMessageAudio";
}

Result<json> Simulator::create_file(std::int64_t size, const std::string& name) {
  if (auto ok = RemoteFiles::check(size, name); !ok) return std::move(ok).error();
  std::uint64_t seed = 0;
  std::int32_t id = 0;
  {
    std::lock_guard lock(mutex_);
    seed = profile_.seed;
    auto added = remote_files_.add(seed, size, name, "", false);
    if (!added.ok()) return added.error();
    id = added.value()->id;
  }
  // Hashed without the lock: a 1 GiB file takes a few seconds and clients keep running meanwhile.
  // Until then the file exists with an empty sha256 (only this route reports it).
  std::string sha = FileContent::sha256(seed, id, 0, size);
  {
    std::lock_guard lock(mutex_);
    if (RemoteFile* f = remote_files_.find(id)) f->sha256 = sha;
  }
  return json{{"file_id", id}, {"size", size}, {"sha256", sha}, {"name", name}};
}

json Simulator::file_object(const SimClient& client, const RemoteFile& file) const {
  const SimFileState* st = nullptr;
  if (auto it = client.files.find(file.id); it != client.files.end()) st = &it->second;
  const std::int64_t downloaded = st == nullptr ? 0 : (file.uploaded ? file.size : total(st->downloaded));
  const std::int64_t offset = st == nullptr ? 0 : st->download_offset;
  const bool local_complete = downloaded == file.size && file.size > 0;
  json local = {{"@type", "localFile"},
                {"path", st == nullptr || downloaded == 0 ? "" : st->path},
                {"can_be_downloaded", !file.uploaded},
                {"can_be_deleted", downloaded > 0},
                {"is_downloading_active", st != nullptr && (st->downloading || st->queued)},
                {"is_downloading_completed", local_complete},
                {"download_offset", offset},
                {"downloaded_prefix_size",
                 st == nullptr ? 0 : (file.uploaded ? file.size - offset : prefix_from(st->downloaded, offset))},
                {"downloaded_size", downloaded}};
  const bool uploading = st != nullptr && st->uploading;
  const bool uploaded = !file.uploaded || (st == nullptr ? true : st->upload_completed);
  json remote = {{"@type", "remoteFile"},
                 {"id", uploaded ? file.remote_id : ""},
                 {"unique_id", uploaded ? file.unique_id : ""},
                 {"is_uploading_active", uploading},
                 {"is_uploading_completed", uploaded},
                 {"uploaded_size", uploaded ? file.size : (st == nullptr ? 0 : st->uploaded_size)}};
  return {{"@type", "file"}, {"id", file.id}, {"size", file.size}, {"expected_size", file.size},
          {"local", std::move(local)}, {"remote", std::move(remote)}};
}

json Simulator::update_file(const SimClient& client, std::int32_t file_id) const {
  const RemoteFile* f = remote_files_.find(file_id);
  return {{"@type", "updateFile"}, {"file", f == nullptr ? json() : file_object(client, *f)}};
}

void Simulator::handle_files(SimClient& client, const TdRequest& request, Outgoing& out, TimePoint at) {
  const auto& t = request.type;
  const auto& o = request.object;
  if (is_file_upload(request)) {
    send_local_file(client, request, out, at);
    return;
  }
  if (t == "downloadFile") {
    download_file(client, request, out, at);
    return;
  }
  if (t == "optimizeStorage") {
    optimize_storage(client, request, out, at);
    return;
  }
  const auto file_id = o.value("file_id", std::int32_t{0});
  const RemoteFile* file = file_id > 0 ? remote_files_.find(file_id) : nullptr;
  if (t == "cancelDownloadFile") {
    // TDLib answers ok for any id; only_if_pending leaves a download that has started alone.
    auto it = client.files.find(file_id);
    if (file != nullptr && it != client.files.end() &&
        (it->second.queued || (it->second.downloading && !o.value("only_if_pending", false)))) {
      stop_download(client, file_id, out, at);
      emit(out, client, update_file(client, file_id), at);
    }
    emit(out, client, TdRequest::ok(), at, request.extra);
    return;
  }
  if (file == nullptr) {
    emit(out, client, TdRequest::error(400, "Invalid file identifier"), at, request.extra);
    return;
  }
  if (t == "getFile") {
    emit(out, client, file_object(client, *file), at, request.extra);
    return;
  }
  // deleteFile: the download stops, the local copy goes (on a worker); ok once it is gone. An uploaded
  // file's local copy is the caller's own file: TDLib forgets it, tdsim leaves it on disk.
  auto it = client.files.find(file_id);
  if (it == client.files.end() || file->uploaded) {
    emit(out, client, TdRequest::ok(), at, request.extra);
    return;
  }
  if (it->second.downloading || it->second.queued) stop_download(client, file_id, out, at);
  const std::string path = it->second.path;
  it->second.downloaded.clear();
  it->second.generation++;
  emit(out, client, update_file(client, file_id), at);
  const int id = client.id;
  const auto extra = request.extra;
  transfers_.post([this, id, path, extra](const TransferPool::Stopping& stopping) {
    std::error_code ec;
    if (!path.empty()) fs::remove(path, ec);
    if (stopping()) return;
    Outgoing done;
    {
      std::lock_guard lock(mutex_);
      SimClient* c = find(id);
      if (c == nullptr) return;
      const auto now = std::chrono::steady_clock::now();
      if (c->state == SimAuthState::closed) {
        emit(done, *c, TdRequest::error(500, "Request aborted"), now, extra);
      } else if (ec) {
        emit(done, *c, TdRequest::error(400, "Failed to delete file: " + ec.message()), now, extra);
      } else {
        emit(done, *c, TdRequest::ok(), now, extra);
      }
    }
    deliver(done);
  });
}

void Simulator::download_file(SimClient& client, const TdRequest& request, Outgoing& out, TimePoint at) {
  const auto& o = request.object;
  auto fail = [&](std::string message) {
    emit(out, client, TdRequest::error(400, std::move(message)), at, request.extra);
  };
  const auto file_id = o.value("file_id", std::int32_t{0});
  const auto priority = o.value("priority", std::int32_t{0});
  const auto offset = o.value("offset", std::int64_t{0});
  const auto limit = o.value("limit", std::int64_t{0});
  const bool synchronous = o.value("synchronous", false);
  // TDLib 1.8.67's checks, in its order.
  if (priority < 1 || priority > 32) return fail("Priority must be between 1 and 32");
  if (offset < 0) return fail("Download offset must be non-negative");
  if (limit < 0) return fail("Download limit must be non-negative");
  const RemoteFile* file = file_id > 0 ? remote_files_.find(file_id) : nullptr;
  if (file == nullptr) return fail("Invalid file identifier");
  SimFileState& st = client.files[file_id];
  const std::int64_t end = limit == 0 ? file->size : std::min(file->size, offset + limit);
  // Nothing to fetch: an uploaded file is local already, or the range is there (or empty).
  if (file->uploaded || offset >= end || prefix_from(st.downloaded, offset) >= end - offset) {
    st.download_offset = std::min(offset, file->size);
    emit(out, client, file_object(client, *file), at, request.extra);
    return;
  }
  const bool same = (st.downloading || st.queued) && st.download_offset == offset && st.download_end == end;
  if (!same) {
    if (st.waiting.size() >= SimFileState::kMaxWaiting) return fail("Too many synchronous downloads of the file");
    if (!st.downloading && !st.queued && client.download_queue.size() >= SimClient::kMaxQueuedDownloads &&
        client.active_downloads >= profile_.files.max_concurrent_downloads) {
      return fail("Too many downloads queued");  // tdsim's own bound
    }
    // Another range: the running download gives way to it (its synchronous callers stay and get the
    // outcome of this one, as TDLib answers them when "a new downloadFile request with different
    // offset/limit parameters was sent" — tdsim answers them at its end).
    if (st.downloading) {
      st.downloading = false;
      st.cancel->store(true);
      client.active_downloads--;
    }
    st.download_offset = offset;
    st.download_end = end;
    st.generation++;
    if (st.path.empty()) {
      const fs::path dir = fs::path(client.files_directory.empty() ? client.database_directory : client.files_directory) /
                           "documents";
      std::string path = (dir / file->name).string();
      for (const auto& [other_id, other] : client.files) {
        if (other_id != file_id && other.path == path) path = (dir / (std::to_string(file_id) + "_" + file->name)).string();
      }
      st.path = path;
    }
    if (!st.queued) {
      st.queued = true;
      client.download_queue.push_back(file_id);
    }
    start_downloads(client);
  }
  if (synchronous) {
    if (st.waiting.size() >= SimFileState::kMaxWaiting) return fail("Too many synchronous downloads of the file");
    emit(out, client, update_file(client, file_id), at);
    st.waiting.push_back(request.extra);
    return;
  }
  emit(out, client, update_file(client, file_id), at);
  emit(out, client, file_object(client, *file), at, request.extra);
}

void Simulator::start_downloads(SimClient& client) {
  while (client.active_downloads < profile_.files.max_concurrent_downloads && !client.download_queue.empty()) {
    const auto file_id = client.download_queue.front();
    client.download_queue.pop_front();
    auto it = client.files.find(file_id);
    if (it == client.files.end() || !it->second.queued) continue;
    start_download(client, file_id);
  }
}

void Simulator::start_download(SimClient& client, std::int32_t file_id) {
  SimFileState& st = client.files[file_id];
  const RemoteFile* file = remote_files_.find(file_id);
  st.queued = false;
  st.downloading = true;
  st.cancel = std::make_shared<std::atomic<bool>>(false);
  client.active_downloads++;
  // What is there already from the offset on is not fetched again.
  const std::int64_t start = st.download_offset + prefix_from(st.downloaded, st.download_offset);
  const std::int64_t end = st.download_end;
  const int id = client.id;
  const std::uint64_t generation = st.generation;
  const std::uint64_t seed = profile_.seed;
  const double throughput = profile_.files.throughput_bytes_per_second;
  const std::string path = st.path;
  const std::int64_t size = file->size;
  auto cancel = st.cancel;
  transfers_.post([=, this](const TransferPool::Stopping& stopping) {
    auto stop = [&] { return cancel->load() || stopping(); };
    std::string error;
    std::int64_t position = start;
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) error = std::string("Can't open file for writing: ") + std::strerror(errno);
    if (fd >= 0 && ::ftruncate(fd, size) != 0 && error.empty()) {  // the remote size, holes not fetched yet
      error = std::string("Can't write file: ") + std::strerror(errno);
    }
    std::vector<char> buffer(static_cast<std::size_t>(std::min<std::int64_t>(kChunk, end - start)));
    const auto began = std::chrono::steady_clock::now();
    const std::int64_t step = std::max<std::int64_t>((end - start) / kProgressSteps, 1);
    std::int64_t next_report = start + step;
    while (error.empty() && position < end && !stop()) {
      const auto n = static_cast<std::size_t>(std::min<std::int64_t>(kChunk, end - position));
      FileContent::fill(seed, file_id, position, buffer.data(), n);
      std::size_t written = 0;
      while (written < n) {
        const ssize_t w = ::pwrite(fd, buffer.data() + written, n - written, position + static_cast<std::int64_t>(written));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
          error = std::string("Can't write file: ") + std::strerror(errno);
          break;
        }
        written += static_cast<std::size_t>(w);
      }
      if (!error.empty()) break;
      position += static_cast<std::int64_t>(n);
      if (position < end && position >= next_report) {
        next_report += step;
        on_download_report(id, file_id, generation, start, position, false, "");
      }
      if (position < end && !pace_until(after_bytes(began, position - start, throughput), stop)) break;
    }
    if (fd >= 0) ::close(fd);
    if (stopping() || cancel->load()) return;  // cancelled: the canceller updated the state
    on_download_report(id, file_id, generation, start, position, true, error);
  });
}

void Simulator::on_download_report(int client_id, std::int32_t file_id, std::uint64_t generation, std::int64_t start,
                                   std::int64_t position, bool done, const std::string& error) {
  Outgoing out;
  {
    std::lock_guard lock(mutex_);
    SimClient* client = find(client_id);
    if (client == nullptr) return;
    auto it = client->files.find(file_id);
    if (it == client->files.end() || it->second.generation != generation || !it->second.downloading) return;
    SimFileState& st = it->second;
    add_range(st.downloaded, start, position);
    const auto now = std::chrono::steady_clock::now();
    if (done) {
      st.downloading = false;
      client->active_downloads--;
    }
    emit(out, *client, update_file(*client, file_id), now);
    if (done) {
      for (auto& extra : st.waiting) {
        if (error.empty()) {
          emit(out, *client, file_object(*client, *remote_files_.find(file_id)), now, extra);
        } else {
          emit(out, *client, TdRequest::error(400, error), now, extra);
        }
      }
      st.waiting.clear();
      start_downloads(*client);
    }
  }
  deliver(out);
}

void Simulator::stop_download(SimClient& client, std::int32_t file_id, Outgoing& out, TimePoint at) {
  SimFileState& st = client.files[file_id];
  if (st.downloading) {
    st.cancel->store(true);
    client.active_downloads--;
  }
  st.downloading = false;
  st.queued = false;
  st.generation++;
  std::erase(client.download_queue, file_id);
  // What the worker wrote so far stays on disk but is not counted: tdsim knows only reported progress.
  for (auto& extra : st.waiting) emit(out, client, file_object(client, *remote_files_.find(file_id)), at, extra);
  st.waiting.clear();
  start_downloads(client);
}

void Simulator::abort_files(SimClient& client, Outgoing& out, TimePoint at) {
  for (auto& [file_id, st] : client.files) {
    if (st.cancel) st.cancel->store(true);
    st.downloading = false;
    st.queued = false;
    st.uploading = false;
    st.generation++;
    for (auto& extra : st.waiting) emit(out, client, TdRequest::error(500, "Request aborted"), at, extra);
    st.waiting.clear();
  }
  client.download_queue.clear();
  client.active_downloads = 0;
  client.active_uploads = 0;
}

void Simulator::send_local_file(SimClient& client, const TdRequest& request, Outgoing& out, TimePoint at) {
  const auto& o = request.object;
  const auto chat_id = o.value("chat_id", std::int64_t{0});
  if (FakeWorld::chat(chat_id, profile_.chats).is_null()) {
    emit(out, client, TdRequest::error(400, "Chat not found"), at, request.extra);
    return;
  }
  const json& content = o["input_message_content"];
  const std::string content_type = content.value("@type", std::string());
  const char* field = content_type == "inputMessageDocument" ? "document"
                      : content_type == "inputMessagePhoto"  ? "photo"
                                                              : "audio";
  const json input = content.value(field, json());
  auto fail = [&](std::string message) {
    emit(out, client, TdRequest::error(400, std::move(message)), at, request.extra);
  };
  if (!input.is_object() || input.value("@type", std::string()) != "inputFileLocal") {
    return fail("tdsim sends only inputFileLocal files");
  }
  const std::string path = input.value("path", std::string());
  // TDLib stats the file while it reads the message content: a missing, empty or too big file fails
  // sendMessage itself with 400 (no message is created).
  struct stat info {};
  if (path.empty() || ::stat(path.c_str(), &info) != 0) {
    return fail("Stat for file \"" + path + "\" failed: [Error : " + std::to_string(errno) + " : " +
                std::strerror(errno) + "]");
  }
  if (!S_ISREG(info.st_mode)) return fail("File \"" + path + "\" is not a regular file");
  if (info.st_size == 0) return fail("File must be non-empty");
  if (info.st_size > kMaxUploadSize) return fail("File is too big");
  if (client.active_uploads >= SimClient::kMaxActiveUploads) return fail("Too many uploads in progress");  // tdsim's own
  auto added = remote_files_.add(profile_.seed, info.st_size, fs::path(path).filename().string(), "", true);
  if (!added.ok()) return fail(added.error().message);
  const RemoteFile& file = *added.value();
  SimFileState& st = client.files[file.id];
  st.path = path;
  st.uploading = true;
  st.generation++;
  client.active_uploads++;

  json file_json = file_object(client, file);
  json message_content;
  if (content_type == "inputMessageDocument") {
    message_content = {{"@type", "messageDocument"},
                       {"document", {{"@type", "document"}, {"file_name", file.name}, {"mime_type", ""},
                                     {"minithumbnail", nullptr}, {"thumbnail", nullptr}, {"document", file_json}}}};
  } else if (content_type == "inputMessagePhoto") {
    message_content = {{"@type", "messagePhoto"},
                       {"photo", {{"@type", "photo"}, {"has_stickers", false}, {"minithumbnail", nullptr},
                                  {"sizes", json::array({{{"@type", "photoSize"}, {"type", "i"}, {"photo", file_json},
                                                          {"width", 0}, {"height", 0},
                                                          {"progressive_sizes", json::array()}}})}}}};
  } else {
    message_content = {{"@type", "messageAudio"},
                       {"audio", {{"@type", "audio"}, {"duration", 0}, {"title", ""}, {"performer", ""},
                                  {"file_name", file.name}, {"mime_type", ""}, {"album_cover_minithumbnail", nullptr},
                                  {"album_cover_thumbnail", nullptr}, {"external_album_covers", json::array()},
                                  {"audio", file_json}}}};
  }
  if (content.contains("caption")) message_content["caption"] = content["caption"];
  json message = FakeWorld::message(chat_id, static_cast<std::int64_t>(next_query_id_++), client.user_id,
                                    message_content, static_cast<std::int64_t>(std::time(nullptr)));
  message["is_outgoing"] = true;
  message["sending_state"] = {{"@type", "messageSendingStatePending"}};
  emit(out, client, message, at, request.extra);
  emit(out, client, {{"@type", "updateNewMessage"}, {"message", message}}, at);

  const int id = client.id;
  const std::int32_t file_id = file.id;
  const std::uint64_t generation = st.generation;
  const double throughput = profile_.files.throughput_bytes_per_second;
  const std::int64_t size = file.size;
  st.cancel = std::make_shared<std::atomic<bool>>(false);
  auto cancel = st.cancel;
  transfers_.post([=, this](const TransferPool::Stopping& stopping) {
    auto stop = [&] { return cancel->load() || stopping(); };
    std::string error;
    Sha256 hash;
    std::int64_t position = 0;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) error = std::string("Can't open file: ") + std::strerror(errno);
    std::vector<char> buffer(static_cast<std::size_t>(std::min<std::int64_t>(kChunk, size)));
    const auto began = std::chrono::steady_clock::now();
    const std::int64_t step = std::max<std::int64_t>(size / kProgressSteps, 1);
    std::int64_t next_report = step;
    while (error.empty() && position < size && !stop()) {
      const ssize_t r = ::read(fd, buffer.data(), static_cast<std::size_t>(std::min<std::int64_t>(kChunk, size - position)));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) error = std::string("Can't read file: ") + std::strerror(errno);
      if (r == 0) error = "The file was truncated during the upload";
      if (r <= 0) break;
      hash.update(buffer.data(), static_cast<std::size_t>(r));
      position += r;
      if (position < size && position >= next_report) {
        next_report += step;
        on_upload_report(id, file_id, generation, position, false, "", "", json());
      }
      if (position < size && !pace_until(after_bytes(began, position, throughput), stop)) break;
    }
    if (fd >= 0) ::close(fd);
    if (stop()) return;
    on_upload_report(id, file_id, generation, position, true, error.empty() ? hash.hex_digest() : "", error, message);
  });
}

void Simulator::on_upload_report(int client_id, std::int32_t file_id, std::uint64_t generation, std::int64_t position,
                                 bool done, const std::string& sha256, const std::string& error, json message) {
  Outgoing out;
  {
    std::lock_guard lock(mutex_);
    SimClient* client = find(client_id);
    RemoteFile* file = remote_files_.find(file_id);
    if (client == nullptr || file == nullptr) return;
    auto it = client->files.find(file_id);
    if (it == client->files.end() || it->second.generation != generation || !it->second.uploading) return;
    SimFileState& st = it->second;
    st.uploaded_size = position;
    const auto now = std::chrono::steady_clock::now();
    if (!done) {
      emit(out, *client, update_file(*client, file_id), now);
    } else {
      st.uploading = false;
      client->active_uploads--;
      const std::int64_t old_id = message["id"].get<std::int64_t>();
      if (error.empty()) {
        st.upload_completed = true;
        file->sha256 = sha256;
        emit(out, *client, update_file(*client, file_id), now);
        // The server's message: a new id, the file now remote; the content's file object refreshed.
        json sent = std::move(message);
        sent["id"] = static_cast<std::int64_t>(next_query_id_++);
        sent.erase("sending_state");
        for (auto& [key, value] : sent["content"].items()) {
          if (!value.is_object()) continue;
          if (key == "document" || key == "audio") value[key] = file_object(*client, *file);
          if (key == "photo") value["sizes"][0]["photo"] = file_object(*client, *file);
        }
        emit(out, *client, {{"@type", "updateMessageSendSucceeded"}, {"message", sent}, {"old_message_id", old_id}}, now);
        client->uploads.push_back({{"name", file->name}, {"size", file->size}, {"sha256", sha256},
                                   {"chat_id", sent["chat_id"]}, {"message_id", sent["id"]}});
        if (client->uploads.size() > SimClient::kMaxUploads) client->uploads.pop_front();
      } else {
        emit(out, *client, update_file(*client, file_id), now);
        message["sending_state"] = {{"@type", "messageSendingStateFailed"},
                                    {"error", TdRequest::error(400, error)},
                                    {"can_retry", false}, {"need_another_sender", false},
                                    {"need_another_reply_quote", false}, {"need_drop_reply", false},
                                    {"retry_after", 0}};
        emit(out, *client, {{"@type", "updateMessageSendFailed"}, {"message", message}, {"old_message_id", old_id},
                            {"error", TdRequest::error(400, error)}}, now);
      }
    }
  }
  deliver(out);
}

void Simulator::optimize_storage(SimClient& client, const TdRequest& request, Outgoing& out, TimePoint at) {
  // TDLib's cache cleanup with tdsim's simplification: every downloaded file of the client goes (those
  // still downloading stay). The answer describes what is left, or with return_deleted_file_statistics
  // what was removed.
  const bool return_deleted = request.object.value("return_deleted_file_statistics", false);
  std::vector<std::string> paths;
  std::int64_t deleted_size = 0, deleted_count = 0, left_size = 0, left_count = 0;
  for (auto& [file_id, st] : client.files) {
    const RemoteFile* file = remote_files_.find(file_id);
    if (file == nullptr || file->uploaded || st.downloaded.empty()) continue;
    const std::int64_t size = total(st.downloaded);
    if (st.downloading || st.queued) {
      left_size += size;
      left_count++;
      continue;
    }
    deleted_size += size;
    deleted_count++;
    paths.push_back(st.path);
    st.downloaded.clear();
    st.generation++;
    emit(out, client, update_file(client, file_id), at);
  }
  json answer = return_deleted ? storage_statistics(deleted_size, deleted_count) : storage_statistics(left_size, left_count);
  const int id = client.id;
  const auto extra = request.extra;
  transfers_.post([this, id, paths, answer, extra](const TransferPool::Stopping& stopping) {
    for (const auto& p : paths) {
      std::error_code ec;
      fs::remove(p, ec);  // a file already gone is what was asked for
    }
    if (stopping()) return;
    Outgoing done;
    {
      std::lock_guard lock(mutex_);
      SimClient* c = find(id);
      if (c == nullptr) return;
      const bool closed = c->state == SimAuthState::closed;
      emit(done, *c, closed ? TdRequest::error(500, "Request aborted") : answer, std::chrono::steady_clock::now(), extra);
    }
    deliver(done);
  });
}

}  // namespace tgpulse::tdsim
