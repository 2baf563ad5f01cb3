// SimulatorTdLibrary: a td::TdLibrary served by a Simulator object in the same process — for tests and
// benchmarks that want their own simulator (own profile, direct control) instead of the process-wide
// one behind libtdsim.so.
//
// Thread-safety: as the Simulator's (receive from one thread at a time).
#pragma once

#include <string>

#include "td/td_library.h"
#include "tdsim/simulator.h"

namespace tgpulse::tdsim {

class SimulatorTdLibrary final : public td::TdLibrary {
 public:
  explicit SimulatorTdLibrary(Simulator& simulator) : simulator_(simulator) {}
  int create_client_id() override { return simulator_.create_client_id(); }
  void send(int client_id, const char* request) override { simulator_.send(client_id, request); }
  const char* receive(double timeout_seconds) override { return simulator_.receive(timeout_seconds); }
  const char* execute(const char* request) override { return simulator_.execute(request); }
  void set_log_message_callback(int max_verbosity_level, LogMessageCallback callback) override {
    simulator_.set_log_message_callback(max_verbosity_level, callback);
  }
  const std::string& path() const override { return path_; }

 private:
  Simulator& simulator_;
  std::string path_ = "tdsim (in process)";
};

}  // namespace tgpulse::tdsim
