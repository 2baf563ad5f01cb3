#include "telemetry/file_metrics.h"

namespace tgpulse::telemetry {

namespace {
constexpr const char* kDirections[2] = {"download", "upload"};
constexpr const char* kResults[4] = {"ok", "refused", "over_quota", "failed"};
}  // namespace

FileMetrics::FileMetrics(Registry& registry)
    : bytes_download(nullptr), bytes_upload(nullptr), transfers_{} {
  auto& bytes = registry.counter("tgpulse_file_bytes_total",
                                 "Bytes of files written to clients (download) and stored from them (upload)", {"direction"});
  bytes_download = &bytes.labels({"download"});
  bytes_upload = &bytes.labels({"upload"});
  auto& transfers = registry.counter("tgpulse_file_transfers_total",
                                     "File downloads and uploads over HTTP, by how they ended", {"direction", "result"});
  for (int d = 0; d < 2; ++d) {
    for (int r = 0; r < 4; ++r) transfers_[d][r] = &transfers.labels({kDirections[d], kResults[r]});
  }
}

Counter& FileMetrics::transfer(Direction direction, unsigned status) const {
  int result = 1;  // refused
  if (status >= 200 && status < 300) {
    result = 0;
  } else if (status == 413 || status == 507) {
    result = 2;
  } else if (status >= 500) {
    result = 3;
  }
  return *transfers_[direction == Direction::download ? 0 : 1][result];
}

}  // namespace tgpulse::telemetry
