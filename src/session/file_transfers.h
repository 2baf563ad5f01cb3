// FileTransfers: files over HTTP (docs/api.md, "Files").
//
//   GET    /v1/sessions/{id}/files/{file_id}       the file's bytes, downloaded through the session's
//                                                  TDLib client (downloadFile) and streamed from its disk
//                                                  in 256 KiB pieces; one "Range: bytes=" range → 206
//   POST   /v1/sessions/{id}/files?name=N          a raw body (any length up to files.max_upload_bytes)
//                                                  written to <session dir>/uploads/<upload_id>/<N>;
//                                                  201 with the inputFileLocal to pass to invoke
//   DELETE /v1/sessions/{id}/uploads/{upload_id}   removes an upload
//
// Tenant token, request quota and ownership as every session route (another tenant's session: 404).
// TDLib's file calls (getFile, downloadFile, optimizeStorage) go through the invoke pipeline: the
// tenant's throttle and the FloodWait policy apply to them as to any invoke. A file id the session's
// client does not know answers 404.
//
// Disk: a tenant's sessions together hold at most files.max_bytes_per_tenant in their uploads and
// TDLib's downloaded files (<session dir>/uploads and <session dir>/files, measured on disk, plus what
// the tenant's transfers in flight have reserved). A download that would pass it first has TDLib drop
// the session's downloaded files (optimizeStorage), then answers 507 insufficient_storage if it still
// does not fit; an upload past it answers 507 before its body is read (a declared length) or as soon as
// it passes (chunked), and the partial file is removed. An upload is written as <upload_id>.part and
// renamed into place once whole; a .part left by a killed process is removed by the next quota walk of
// its session once nobody has written to it for 10 minutes. An upload larger than files.max_upload_bytes
// answers 413. A failed or abandoned upload leaves nothing behind; uploads go with the session's
// directory when the session is cleaned up.
//
// Paths: a download is served only from a regular file inside the session's own files directory
// (resolved, no symlink followed); the invoke route accepts an inputFileLocal only when its path is
// lexically one of the session's own uploads (is_own_upload) — never another session's, never "..".
//
// Telemetry: tgpulse_file_transfers_total{direction,result} and tgpulse_file_bytes_total{direction}
// (telemetry/file_metrics.h); spans tgpulse_file_download and tgpulse_file_upload, whose TDLib calls are
// telethon_invoke children.
//
// Disk work (measuring, reading, writing, removing) runs on this object's own "files" pool, so a slow
// disk never holds an io thread or the store's pool.
//
// Thread-safety: handlers and is_own_upload() are thread-safe; add_to() at start-up; stop() once,
// after the HTTP server drained.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/blocking_pool.h"
#include "http/router.h"
#include "session/session_manager.h"
#include "session/session_routes.h"
#include "telemetry/file_metrics.h"
#include "throttle/invoke_pipeline.h"

namespace tgpulse::session {

struct FileTransfersOptions {
  std::uint64_t max_upload_bytes = std::uint64_t{2000} * 1024 * 1024;       // files.max_upload_bytes
  std::uint64_t max_bytes_per_tenant = std::uint64_t{10} * 1024 * 1024 * 1024;  // files.max_bytes_per_tenant
  std::chrono::milliseconds download_timeout{std::chrono::minutes(5)};     // files.download_timeout
  // Bytes read or written per disk call (and per socket write).
  std::size_t piece_bytes = 256 * 1024;
  // How long a measurement of another session's directories is reused by the quota check (the
  // session of the request is always measured afresh).
  std::chrono::milliseconds measure_reuse{std::chrono::seconds(10)};
};

class FileTransfers {
 public:
  // Everything referenced must outlive this object; `invoke` may be null (calls go straight to the
  // session's client).
  // `metrics` may be null (not counted).
  FileTransfers(FileTransfersOptions options, SessionManager& manager, SessionRoutes& routes,
                throttle::InvokePipeline* invoke, const telemetry::FileMetrics* metrics = nullptr);
  ~FileTransfers();
  FileTransfers(const FileTransfers&) = delete;
  FileTransfers& operator=(const FileTransfers&) = delete;

  void add_to(http::Router& router);
  // True when `path` is exactly an upload path of session `session_id` as POST .../files answers it.
  bool is_own_upload(std::string_view session_id, std::string_view path) const;
  // Finishes the admitted disk jobs and joins the pool.
  void stop();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace tgpulse::session
