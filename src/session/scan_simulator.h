// ScanSimulator: the "phone" of the simulator backend — it scans a QR link and accepts, asks for the
// account's 2FA password, or declines. The login page's simulate buttons use it; with real TDLib there
// is none (the route answers 404). TdsimControlClient is the real implementation (tdsim's control
// interface over HTTP); tests may use any double.
//
// Thread-safety: implementations are thread-safe.
#pragma once

#include <string>
#include <utility>  // boost/asio/awaitable.hpp uses std::exchange without including it

#include <boost/asio/awaitable.hpp>

#include "core/result.h"

namespace tgpulse::session {

class ScanSimulator {
 public:
  virtual ~ScanSimulator() = default;
  // `outcome`: "accept", "password" or "decline". invalid_argument for another outcome;
  // not_found when the simulator does not know the link; unavailable when it cannot be reached.
  virtual boost::asio::awaitable<Status> scan(std::string link, std::string outcome) = 0;
};

// tdsim's control interface: POST http://<address>/scan {"link","outcome"} (TDSIM_CONTROL_ADDR).
class TdsimControlClient final : public ScanSimulator {
 public:
  // `address`: "127.0.0.1:PORT". Each scan has `timeout` for connect + request + answer.
  explicit TdsimControlClient(std::string address,
                              std::chrono::milliseconds timeout = std::chrono::seconds(5))
      : address_(std::move(address)), timeout_(timeout) {}
  boost::asio::awaitable<Status> scan(std::string link, std::string outcome) override;

 private:
  std::string address_;
  std::chrono::milliseconds timeout_;
};

}  // namespace tgpulse::session
