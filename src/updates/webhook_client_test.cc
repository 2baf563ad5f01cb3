// The delivery client against a real HTTP receiver on 127.0.0.1 (a plain socket server in this test,
// one behaviour per receiver), and the docs' Python receiver example against signatures made here.
#include "updates/webhook_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "updates/webhook_signature.h"

namespace tgpulse::updates {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr const char* kSecret = "whsec_client_test_secret_0123";

enum class Behaviour {
  ok, error_500, too_many, hang, huge_body, endless_head, close_early, not_http,
  keep_alive,       // answers 204 and reads the next request on the same connection
  close_after,      // answers 200 (keep-alive allowed by HTTP/1.1) and then closes: a receiver's idle timeout
  big_body_keep,    // answers 200 with a body larger than the client keeps a connection for
};

// A receiver on 127.0.0.1:<ephemeral>: reads each request (head + Content-Length body), records it, and
// answers as `behaviour` says.
class TestReceiver {
 public:
  explicit TestReceiver(Behaviour behaviour) : behaviour_(behaviour) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~TestReceiver() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::uint16_t port() const { return port_; }
  std::vector<std::string> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  int connections() const { return connections_.load(); }

 private:
  void serve() {
    while (true) {
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      connections_++;
      handle(c);
      ::close(c);
    }
  }
  static void send_all(int c, const std::string& data) { (void)::send(c, data.data(), data.size(), MSG_NOSIGNAL); }
  std::string read_request(int c) {
    std::string data;
    char buf[4096];
    std::size_t need = std::string::npos;
    while (need == std::string::npos || data.size() < need) {
      const ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      data.append(buf, static_cast<std::size_t>(n));
      const auto head_end = data.find("\r\n\r\n");
      if (need == std::string::npos && head_end != std::string::npos) {
        const auto cl = data.find("Content-Length: ");
        need = head_end + 4 + (cl == std::string::npos ? 0 : std::stoul(data.substr(cl + 16)));
      }
    }
    return data;
  }
  void handle(int c) {
    const std::string request = read_request(c);
    if (request.empty()) return;  // the client closed a kept connection
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(request);
    }
    switch (behaviour_) {
      case Behaviour::keep_alive:
        send_all(c, "HTTP/1.1 204 No Content\r\n\r\n");
        handle(c);
        break;
      case Behaviour::close_after: send_all(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); break;
      case Behaviour::big_body_keep:
        send_all(c, "HTTP/1.1 200 OK\r\nContent-Length: 20000\r\n\r\n" + std::string(20000, 'b'));
        handle(c);
        break;
      case Behaviour::ok: send_all(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); break;
      case Behaviour::error_500: send_all(c, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"); break;
      case Behaviour::too_many:
        send_all(c, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 17\r\nContent-Length: 0\r\n\r\n");
        break;
      case Behaviour::hang: {
        char b;
        while (::recv(c, &b, 1, 0) > 0) {
        }  // until the client gives up and closes
        break;
      }
      case Behaviour::huge_body: {
        send_all(c, "HTTP/1.1 200 OK\r\nContent-Length: 100000000000\r\n\r\n");
        const std::string chunk(64 * 1024, 'x');
        while (::send(c, chunk.data(), chunk.size(), MSG_NOSIGNAL) > 0) {
        }  // until the client closes
        break;
      }
      case Behaviour::endless_head: {
        send_all(c, "HTTP/1.1 200 OK\r\n");
        const std::string line = "X-Junk: " + std::string(1000, 'j') + "\r\n";
        while (::send(c, line.data(), line.size(), MSG_NOSIGNAL) > 0) {
        }
        break;
      }
      case Behaviour::close_early: break;
      case Behaviour::not_http: send_all(c, "SSH-2.0-OpenSSH_9.2\r\n\r\n"); break;
    }
  }

  Behaviour behaviour_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> requests_;
  std::atomic<int> connections_{0};
};

// A resolver with a fixed answer that counts its calls (and changes its answer after the first: a
// rebinding name).
class FixedResolver final : public WebhookResolver {
 public:
  explicit FixedResolver(std::vector<std::vector<const char*>> answers) : answers_(std::move(answers)) {}
  asio::awaitable<Result<std::vector<asio::ip::address>>> resolve(std::string) override {
    const auto& answer = answers_[std::min(calls_++, answers_.size() - 1)];
    std::vector<asio::ip::address> out;
    for (const char* a : answer) out.push_back(asio::ip::make_address(a));
    co_return out;
  }
  std::size_t calls() const { return calls_; }

 private:
  std::vector<std::vector<const char*>> answers_;
  std::size_t calls_ = 0;
};

class WebhookClientTest : public ::testing::Test {
 protected:
  WebhookOptions options(bool allow_private = true) {
    WebhookOptions o;
    o.allow_private = allow_private;
    o.connect_timeout = 1000ms;
    o.total_timeout = 1500ms;
    o.max_response_head_bytes = 8 * 1024;
    return o;
  }
  WebhookOutcome post(const WebhookOptions& o, WebhookResolver& resolver, const std::string& url,
                      const std::string& body = R"({"updates":[]})", std::int64_t timestamp = 1700000000) {
    auto parsed = WebhookUrl::parse(url);
    EXPECT_TRUE(parsed.ok()) << url;
    WebhookClient client(o, resolver);
    asio::io_context io;
    WebhookOutcome outcome;
    bool done = false;
    asio::co_spawn(io, client.post(parsed.value(), body, kSecret, timestamp), [&](std::exception_ptr e, WebhookOutcome r) {
      EXPECT_FALSE(e) << "post() must not throw";
      outcome = std::move(r);
      done = true;
    });
    const auto start = std::chrono::steady_clock::now();
    io.run();
    elapsed_ = std::chrono::steady_clock::now() - start;
    EXPECT_TRUE(done);
    // Whatever happened, the secret and the URL's query stay out of what is reported.
    EXPECT_EQ(outcome.error.find(kSecret), std::string::npos) << outcome.error;
    EXPECT_EQ(outcome.error.find("qsecret"), std::string::npos) << outcome.error;
    return outcome;
  }
  // `n` POSTs one after the other through one client and one WebhookConnections (what one tenant's
  // delivery does); their outcomes.
  std::vector<WebhookOutcome> post_kept(const WebhookOptions& o, WebhookResolver& resolver, const std::string& url, int n) {
    WebhookClient client(o, resolver);
    asio::io_context io;
    WebhookConnections connections(4);
    std::vector<WebhookOutcome> out;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      for (int i = 0; i < n; ++i) {
        out.push_back(co_await client.post(WebhookUrl::parse(url).value(), R"({"updates":[]})", kSecret, 1700000000, &connections));
      }
      kept_after_ = connections.idle();
    }, asio::detached);
    io.run();
    return out;
  }
  std::string local(const TestReceiver& r, const std::string& path = "/hook?token=qsecret") {
    return "http://127.0.0.1:" + std::to_string(r.port()) + path;
  }
  SystemWebhookResolver system_;
  std::chrono::steady_clock::duration elapsed_{};
  std::size_t kept_after_ = 0;
};

TEST_F(WebhookClientTest, A200IsDeliveredWithASignedRequest) {
  TestReceiver r(Behaviour::ok);
  const std::string body = R"({"updates":[{"update_id":7}]})";
  auto o = post(options(), system_, local(r), body, 1700000123);
  EXPECT_TRUE(o.delivered()) << o.error;
  EXPECT_EQ(o.status, 200);
  EXPECT_EQ(o.address, "127.0.0.1");
  EXPECT_TRUE(o.error.empty());
  const auto requests = r.requests();
  ASSERT_EQ(requests.size(), 1u);
  const std::string& req = requests[0];
  EXPECT_EQ(req.rfind("POST /hook?token=qsecret HTTP/1.1\r\n", 0), 0u) << req;
  EXPECT_NE(req.find("Content-Type: application/json\r\n"), std::string::npos);
  EXPECT_NE(req.find("X-Tgpulse-Timestamp: 1700000123\r\n"), std::string::npos);
  EXPECT_NE(req.find("X-Tgpulse-Signature: " + webhook_signature(kSecret, 1700000123, body) + "\r\n"), std::string::npos);
  EXPECT_EQ(req.substr(req.size() - body.size()), body);
  EXPECT_EQ(req.find(kSecret), std::string::npos) << "the secret itself is never sent";
}

TEST_F(WebhookClientTest, ErrorStatusesAndRetryAfterAreReported) {
  TestReceiver failing(Behaviour::error_500);
  auto o = post(options(), system_, local(failing));
  EXPECT_FALSE(o.delivered());
  EXPECT_EQ(o.status, 500);
  EXPECT_EQ(o.failure, WebhookFailure::none);
  EXPECT_NE(o.error.find("answered 500"), std::string::npos) << o.error;

  TestReceiver busy(Behaviour::too_many);
  auto b = post(options(), system_, local(busy));
  EXPECT_EQ(b.status, 429);
  ASSERT_TRUE(b.retry_after.has_value());
  EXPECT_EQ(*b.retry_after, 17s);
}

TEST_F(WebhookClientTest, KeptConnectionsCarryTheNextPostsWithoutConnectingAgain) {
  TestReceiver r(Behaviour::keep_alive);
  FixedResolver resolver(std::vector<std::vector<const char*>>{{"127.0.0.1"}});
  const auto outcomes = post_kept(options(), resolver, "http://hooks.test:" + std::to_string(r.port()) + "/h", 3);
  ASSERT_EQ(outcomes.size(), 3u);
  for (const auto& o : outcomes) EXPECT_TRUE(o.delivered()) << o.error;
  EXPECT_EQ(r.connections(), 1) << "one connection for three POSTs";
  EXPECT_EQ(resolver.calls(), 1u) << "a kept connection needs no resolution";
  EXPECT_EQ(kept_after_, 1u);
  for (const auto& request : r.requests()) EXPECT_EQ(request.find("Connection: close"), std::string::npos);
  // Without a WebhookConnections the client asks the receiver to close.
  post(options(), resolver, local(r));
  EXPECT_NE(r.requests().back().find("Connection: close"), std::string::npos);
}

TEST_F(WebhookClientTest, AConnectionTheReceiverClosedIsReplacedWithoutFailingThePost) {
  TestReceiver r(Behaviour::close_after);
  FixedResolver resolver(std::vector<std::vector<const char*>>{{"127.0.0.1"}});
  const auto outcomes = post_kept(options(), resolver, local(r), 3);
  ASSERT_EQ(outcomes.size(), 3u);
  for (const auto& o : outcomes) EXPECT_TRUE(o.delivered()) << o.error;
  EXPECT_EQ(r.connections(), 3) << "each POST found its kept connection closed and made a new one";
  EXPECT_EQ(r.requests().size(), 3u) << "no POST reached the receiver twice";
}

TEST_F(WebhookClientTest, ALargeResponseBodyClosesTheConnectionInsteadOfBeingRead) {
  TestReceiver r(Behaviour::big_body_keep);
  FixedResolver resolver(std::vector<std::vector<const char*>>{{"127.0.0.1"}});
  const auto outcomes = post_kept(options(), resolver, local(r), 2);
  ASSERT_EQ(outcomes.size(), 2u);
  for (const auto& o : outcomes) EXPECT_TRUE(o.delivered()) << o.error;
  EXPECT_EQ(r.connections(), 2);
  EXPECT_EQ(kept_after_, 0u);
}

TEST_F(WebhookClientTest, AHangingReceiverCostsAtMostTheTotalTimeout) {
  TestReceiver r(Behaviour::hang);
  auto o = post(options(), system_, local(r));
  EXPECT_EQ(o.failure, WebhookFailure::timeout) << o.error;
  EXPECT_EQ(o.status, 0);
  EXPECT_LT(elapsed_, 3s);
}

TEST_F(WebhookClientTest, AHugeOrEndlessResponseIsNotRead) {
  TestReceiver huge(Behaviour::huge_body);
  auto o = post(options(), system_, local(huge));
  EXPECT_TRUE(o.delivered()) << "the status is what counts; the body is never read: " << o.error;
  EXPECT_LT(elapsed_, 1s);

  TestReceiver endless(Behaviour::endless_head);
  auto e = post(options(), system_, local(endless));
  EXPECT_EQ(e.failure, WebhookFailure::bad_response) << e.error;
  EXPECT_LT(elapsed_, 1s);
}

TEST_F(WebhookClientTest, AReceiverThatClosesOrIsNotHttpIsABadResponse) {
  TestReceiver closes(Behaviour::close_early);
  auto o = post(options(), system_, local(closes));
  EXPECT_EQ(o.failure, WebhookFailure::bad_response) << o.error;
  EXPECT_EQ(o.status, 0);

  TestReceiver ssh(Behaviour::not_http);
  EXPECT_EQ(post(options(), system_, local(ssh)).failure, WebhookFailure::bad_response);
}

TEST_F(WebhookClientTest, NobodyListeningIsAConnectError) {
  std::uint16_t port = 0;
  {
    TestReceiver gone(Behaviour::ok);
    port = gone.port();
  }
  auto o = post(options(), system_, "http://127.0.0.1:" + std::to_string(port) + "/");
  EXPECT_EQ(o.failure, WebhookFailure::connect_error) << o.error;
}

TEST_F(WebhookClientTest, PrivateAddressesAreRefusedBeforeAnyConnection) {
  TestReceiver r(Behaviour::ok);
  auto o = post(options(/*allow_private=*/false), system_, local(r));
  EXPECT_EQ(o.failure, WebhookFailure::refused_address) << o.error;
  EXPECT_NE(o.error.find("loopback"), std::string::npos) << o.error;
  EXPECT_NE(o.error.find("updates.webhook_allow_private"), std::string::npos) << o.error;
  EXPECT_EQ(r.connections(), 0);

  // A name is checked on what it resolves to: any refused address refuses the name.
  FixedResolver mixed(std::vector<std::vector<const char*>>{{"93.184.216.34", "127.0.0.1"}});
  auto m = post(options(false), mixed, "http://hooks.example/");
  EXPECT_EQ(m.failure, WebhookFailure::refused_address) << m.error;
  EXPECT_NE(m.error.find("hooks.example resolves to a refused address"), std::string::npos) << m.error;

}

TEST_F(WebhookClientTest, TheCheckedAddressIsTheOneDialled) {
  TestReceiver r(Behaviour::ok);
  // A rebinding name: the first answer is checked and dialled; a second lookup would say otherwise.
  FixedResolver rebinding(std::vector<std::vector<const char*>>{{"127.0.0.1"}, {"169.254.169.254"}});
  auto o = post(options(), rebinding, "http://hooks.example:" + std::to_string(r.port()) + "/h");
  EXPECT_TRUE(o.delivered()) << o.error;
  EXPECT_EQ(rebinding.calls(), 1u) << "resolved once per delivery";
  EXPECT_EQ(o.address, "127.0.0.1");
  ASSERT_EQ(r.requests().size(), 1u);
  EXPECT_NE(r.requests()[0].find("Host: hooks.example:" + std::to_string(r.port()) + "\r\n"), std::string::npos);
}

// https against a real TLS receiver (Python's ssl module, a certificate made for hooks.test by the
// openssl command): delivered when the certificate is trusted and names the host, refused otherwise.
class WebhookTlsTest : public WebhookClientTest {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("tgpulse-webhook-tls-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    const std::string make_cert = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=hooks.test "
                                  "-addext subjectAltName=DNS:hooks.test -keyout " + (dir_ / "key.pem").string() +
                                  " -out " + (dir_ / "cert.pem").string() + " 2>/dev/null";
    ASSERT_EQ(std::system(make_cert.c_str()), 0);
    std::ofstream(dir_ / "server.py") << R"(import http.server, ssl, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
Handler.protocol_version = sys.argv[4]
server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[1], sys.argv[2])
server.socket = context.wrap_socket(server.socket, server_side=True)
print("listening on 127.0.0.1:%d" % server.server_address[1], flush=True)
for _ in range(int(sys.argv[3])):
    server.handle_request()
)";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  // Starts the receiver for `connections` connections (HTTP/1.1: each kept while the client keeps it);
  // returns its port.
  int start(int connections, const char* protocol = "HTTP/1.0") {
    const std::string command = std::string(TGPULSE_PYTHON) + " " + (dir_ / "server.py").string() + " " +
                                (dir_ / "cert.pem").string() + " " + (dir_ / "key.pem").string() + " " +
                                std::to_string(connections) + " " + protocol;
    server_ = ::popen(command.c_str(), "r");
    char line[128] = {};
    int port = 0;
    if (server_ == nullptr || std::fgets(line, sizeof line, server_) == nullptr ||
        std::sscanf(line, "listening on 127.0.0.1:%d", &port) != 1) {
      ADD_FAILURE() << "the TLS receiver did not start: " << line;
    }
    return port;
  }
  int stop() { return ::pclose(server_); }
  std::filesystem::path dir_;
  FILE* server_ = nullptr;
};

TEST_F(WebhookTlsTest, HttpsIsDeliveredOnlyToATrustedCertificateNamingTheHost) {
  const int port = start(3);
  FixedResolver resolver(std::vector<std::vector<const char*>>{{"127.0.0.1"}});
  WebhookOptions trusting = options();
  trusting.extra_ca_file = (dir_ / "cert.pem").string();
  auto ok = post(trusting, resolver, "https://hooks.test:" + std::to_string(port) + "/h?token=qsecret");
  EXPECT_TRUE(ok.delivered()) << ok.error;
  EXPECT_EQ(ok.status, 200);

  auto untrusted = post(options(), resolver, "https://hooks.test:" + std::to_string(port) + "/h");
  EXPECT_EQ(untrusted.failure, WebhookFailure::tls_error) << untrusted.error;
  EXPECT_EQ(untrusted.status, 0);

  auto other_name = post(trusting, resolver, "https://other.test:" + std::to_string(port) + "/h");
  EXPECT_EQ(other_name.failure, WebhookFailure::tls_error) << other_name.error;
  EXPECT_EQ(stop(), 0);

  WebhookOptions missing_ca = options();
  missing_ca.extra_ca_file = (dir_ / "nowhere.pem").string();
  auto no_ca = post(missing_ca, resolver, "https://hooks.test:1/h");
  EXPECT_EQ(no_ca.failure, WebhookFailure::tls_error);
  EXPECT_NE(no_ca.error.find("nowhere.pem"), std::string::npos) << no_ca.error;
}

// A kept TLS connection carries the next POSTs: the receiver serves one connection only, so a second
// connection would never be answered.
TEST_F(WebhookTlsTest, AKeptTlsConnectionCarriesTheNextPosts) {
  const int port = start(1, "HTTP/1.1");
  FixedResolver resolver(std::vector<std::vector<const char*>>{{"127.0.0.1"}});
  WebhookOptions trusting = options();
  trusting.extra_ca_file = (dir_ / "cert.pem").string();
  const auto outcomes = post_kept(trusting, resolver, "https://hooks.test:" + std::to_string(port) + "/h", 3);
  ASSERT_EQ(outcomes.size(), 3u);
  for (const auto& o : outcomes) EXPECT_TRUE(o.delivered()) << o.error;
  EXPECT_EQ(stop(), 0) << "the receiver's one connection ended when the client dropped it";
}

TEST(WebhookRetryAfterTest, SecondsAndHttpDatesAreRead) {
  EXPECT_EQ(parse_webhook_retry_after("120", 0), 120s);
  EXPECT_EQ(parse_webhook_retry_after(" 5 ", 0), 5s);
  EXPECT_EQ(parse_webhook_retry_after("99999999999999", 0), 999999999s);
  // Sun, 06 Nov 1994 08:49:37 GMT = 784111777
  EXPECT_EQ(parse_webhook_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 - 30), 30s);
  EXPECT_EQ(parse_webhook_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 30), 0s);
  EXPECT_FALSE(parse_webhook_retry_after("soon", 0).has_value());
  EXPECT_FALSE(parse_webhook_retry_after("-5", 0).has_value());
  EXPECT_FALSE(parse_webhook_retry_after("", 0).has_value());
}

// docs/examples/webhook_receiver.py, exactly as documented, verifies what this client sends — and
// refuses a delivery signed with another secret.
TEST_F(WebhookClientTest, TheDocumentedPythonReceiverVerifiesOurSignatures) {
  const std::string command = std::string(TGPULSE_PYTHON) + " " + TGPULSE_SOURCE_DIR +
                              "/docs/examples/webhook_receiver.py --port 0 --max-requests 2 --secret " + kSecret;
  FILE* receiver = ::popen(command.c_str(), "r");
  ASSERT_NE(receiver, nullptr);
  char line[256] = {};
  ASSERT_NE(std::fgets(line, sizeof line, receiver), nullptr) << "the example prints its port first";
  int port = 0;
  ASSERT_EQ(std::sscanf(line, "listening on 127.0.0.1:%d", &port), 1) << line;
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/tgpulse";
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  auto good = post(options(), system_, url, R"({"updates":[{"update_id":1}]})", now);
  EXPECT_EQ(good.status, 204) << good.error;
  // Signed with another secret: refused.
  WebhookClient forger(options(), system_);
  asio::io_context io;
  int forged_status = 0;
  asio::co_spawn(io, forger.post(WebhookUrl::parse(url).value(), "{}", "not-the-receivers-secret", now),
                 [&](std::exception_ptr, WebhookOutcome r) { forged_status = r.status; });
  io.run();
  EXPECT_EQ(forged_status, 401);
  char rest[512];
  std::string output;
  while (std::fgets(rest, sizeof rest, receiver) != nullptr) output += rest;
  EXPECT_EQ(::pclose(receiver), 0) << output;
  EXPECT_EQ(output.find(kSecret), std::string::npos) << "the example never prints the secret";
}

}  // namespace
}  // namespace tgpulse::updates
