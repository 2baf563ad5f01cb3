// FileMetrics: the file routes' counters (docs/telemetry.md).
//   tgpulse_file_transfers_total{direction="download"|"upload", result="ok"|"refused"|"over_quota"|"failed"}
//     one per request to GET /v1/sessions/{id}/files/{file_id} or POST /v1/sessions/{id}/files:
//     ok (2xx), over_quota (413/507: the upload limit or the tenant's disk quota), failed (5xx: TDLib,
//     the disk, a timeout), refused (any other 4xx: no such session or file, bad input, not authorized).
//   tgpulse_file_bytes_total{direction}
//     bytes written to clients (download) and bytes stored (upload).
// No tenant, session or file label: the series stay bounded.
//
// Thread-safety: the handles are thread-safe.
#pragma once

#include "telemetry/metrics.h"

namespace tgpulse::telemetry {

struct FileMetrics {
  enum class Direction { download, upload };
  explicit FileMetrics(Registry& registry);

  // The counter for a finished transfer's HTTP status.
  Counter& transfer(Direction direction, unsigned status) const;
  Counter& bytes(Direction direction) const { return direction == Direction::download ? *bytes_download : *bytes_upload; }

  Counter* bytes_download;
  Counter* bytes_upload;

 private:
  Counter* transfers_[2][4];
};

}  // namespace tgpulse::telemetry
