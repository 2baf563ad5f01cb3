#include "td/fake_td_library.h"

#include <chrono>

namespace tgpulse::td {

using nlohmann::json;

int FakeTdLibrary::create_client_id() {
  std::lock_guard lock(mutex_);
  return next_client_id_++;
}

void FakeTdLibrary::send(int client_id, const char* request) {
  json doc = json::parse(request, nullptr, false);
  Responder responder;
  {
    std::lock_guard lock(mutex_);
    sent_.emplace_back(client_id, doc);
    responder = responder_;
  }
  if (responder) responder(client_id, doc);
}

const char* FakeTdLibrary::receive(double timeout_seconds) {
  std::unique_lock lock(mutex_);
  ready_.wait_for(lock, std::chrono::duration<double>(timeout_seconds), [this] { return !lines_.empty(); });
  if (lines_.empty()) return nullptr;
  current_ = std::move(lines_.front());
  lines_.pop_front();
  return current_.c_str();
}

const char* FakeTdLibrary::execute(const char* request) {
  thread_local std::string answer;
  std::lock_guard lock(mutex_);
  executed_.emplace_back(request);
  answer = execute_answer_;
  return answer.c_str();
}

void FakeTdLibrary::set_log_message_callback(int max_verbosity_level, LogMessageCallback callback) {
  std::lock_guard lock(mutex_);
  log_max_verbosity_ = max_verbosity_level;
  log_callback_ = callback;
}

void FakeTdLibrary::set_responder(Responder responder) {
  std::lock_guard lock(mutex_);
  responder_ = std::move(responder);
}

void FakeTdLibrary::push(std::string line) {
  {
    std::lock_guard lock(mutex_);
    lines_.push_back(std::move(line));
  }
  ready_.notify_one();
}

void FakeTdLibrary::push_object(int client_id, json object, const json& extra) {
  object["@client_id"] = client_id;
  if (!extra.is_null()) object["@extra"] = extra;
  push(object.dump());
}

void FakeTdLibrary::set_execute_answer(std::string answer) {
  std::lock_guard lock(mutex_);
  execute_answer_ = std::move(answer);
}

bool FakeTdLibrary::play_log(int verbosity, const std::string& message) {
  LogMessageCallback callback;
  {
    std::lock_guard lock(mutex_);
    callback = log_callback_;
    if (verbosity > log_max_verbosity_) return false;
  }
  if (callback == nullptr) return false;
  callback(verbosity, message.c_str());
  return true;
}

std::vector<std::pair<int, json>> FakeTdLibrary::sent() const {
  std::lock_guard lock(mutex_);
  return sent_;
}

std::vector<std::string> FakeTdLibrary::executed() const {
  std::lock_guard lock(mutex_);
  return executed_;
}

int FakeTdLibrary::log_max_verbosity() const {
  std::lock_guard lock(mutex_);
  return log_max_verbosity_;
}

bool FakeTdLibrary::has_log_callback() const {
  std::lock_guard lock(mutex_);
  return log_callback_ != nullptr;
}

}  // namespace tgpulse::td
