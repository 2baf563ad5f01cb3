#include "throttle/redis_test_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

namespace tgpulse::throttle {

namespace {

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

bool accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

Result<std::unique_ptr<RedisTestServer>> RedisTestServer::start(std::string password) {
  if (::access(kBinary, X_OK) != 0) {
    return Error(Errc::unavailable, std::string(kBinary) + " is missing: run scripts/install-deps.sh");
  }
  std::unique_ptr<RedisTestServer> server(new RedisTestServer());
  server->password_ = std::move(password);
  server->port_ = free_port();
  if (server->port_ == 0) return Error(Errc::unavailable, "no free port on 127.0.0.1");
  if (Status st = server->spawn(); !st) return st.error();
  return server;
}

Status RedisTestServer::spawn() {
  std::vector<std::string> args{kBinary, "--port", std::to_string(port_), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--loglevel", "warning", "--logfile", ""};
  if (!password_.empty()) {
    args.push_back("--requirepass");
    args.push_back(password_);
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) return Error(Errc::unavailable, "fork failed");
  if (pid_ == 0) {
    const int null = ::open("/dev/null", O_WRONLY);  // its start-up banner and warnings are no test output
    if (null >= 0) {
      ::dup2(null, STDOUT_FILENO);
      ::dup2(null, STDERR_FILENO);
    }
    ::execv(kBinary, argv.data());
    ::_exit(127);
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < until) {
    if (accepts(port_)) return {};
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Error(Errc::unavailable, "redis-server exited at start (port " + std::to_string(port_) + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill();
  return Error(Errc::timeout, "redis-server did not accept connections within 5 s");
}

void RedisTestServer::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGCONT);
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

Status RedisTestServer::restart() {
  kill();
  return spawn();
}

void RedisTestServer::pause() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void RedisTestServer::resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

RedisTestServer::~RedisTestServer() { kill(); }

}  // namespace tgpulse::throttle
