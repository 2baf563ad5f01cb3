// FakeTdLibrary: a scriptable TdLibrary for tests of the engine and of code built on it. Requests passed
// to send() are recorded and handed to an optional responder; tests push the lines td_receive returns,
// choose what td_execute answers, and play TDLib log lines into the registered log callback.
//
// Thread-safety: thread-safe; receive() from one thread at a time (like TDLib).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "td/td_library.h"

namespace tgpulse::td {

class FakeTdLibrary final : public TdLibrary {
 public:
  // Called for every send() (outside the fake's lock); may push() answers.
  using Responder = std::function<void(int client_id, const nlohmann::json& request)>;

  int create_client_id() override;
  void send(int client_id, const char* request) override;
  const char* receive(double timeout_seconds) override;
  const char* execute(const char* request) override;
  void set_log_message_callback(int max_verbosity_level, LogMessageCallback callback) override;
  const std::string& path() const override { return path_; }

  void set_responder(Responder responder);
  // Queues a raw line for receive() (need not be JSON).
  void push(std::string line);
  // Queues `object` with "@client_id" and, when given, "@extra".
  void push_object(int client_id, nlohmann::json object, const nlohmann::json& extra = nullptr);
  void set_execute_answer(std::string answer);
  // Calls the registered log callback as TDLib would; false when none is registered.
  bool play_log(int verbosity, const std::string& message);

  std::vector<std::pair<int, nlohmann::json>> sent() const;
  std::vector<std::string> executed() const;
  int log_max_verbosity() const;
  bool has_log_callback() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  int next_client_id_ = 1;
  std::deque<std::string> lines_;
  std::string current_;
  std::string execute_answer_ = R"({"@type":"ok"})";
  std::vector<std::pair<int, nlohmann::json>> sent_;
  std::vector<std::string> executed_;
  Responder responder_;
  LogMessageCallback log_callback_ = nullptr;
  int log_max_verbosity_ = 0;
  std::string path_;
};

}  // namespace tgpulse::td
