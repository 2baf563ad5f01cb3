#include "throttle/redis_client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "throttle/redis_test_server.h"
#include "throttle/redis_test_support.h"

namespace tgpulse::throttle {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Type = RedisReply::Type;

RedisOptions options_for(const RedisTestServer& server) {
  RedisOptions o;
  o.port = static_cast<std::uint16_t>(server.port());
  o.timeout = 200ms;  // generous on a loaded test machine, except where a test says otherwise
  return o;
}

std::unique_ptr<RedisTestServer> start_server(std::string password = {}) {
  auto server = RedisTestServer::start(std::move(password));
  if (!server) {
    ADD_FAILURE() << server.error().message;
    return nullptr;
  }
  return std::move(*server);
}

Result<RedisReply> command(IoThreads& io, RedisClient& client, std::vector<std::string> args) {
  return io.run(client.command(std::move(args)));
}

Result<RedisReply> eval(IoThreads& io, RedisClient& client, std::shared_ptr<const RedisScript> script,
                        std::vector<std::string> keys, std::vector<std::string> args) {
  return io.run(client.eval(std::move(script), std::move(keys), std::move(args)));
}

// Retries `args` until it succeeds or `within` passes (a reconnect in progress fails calls meanwhile).
Result<RedisReply> command_eventually(IoThreads& io, RedisClient& client, std::vector<std::string> args,
                                      std::chrono::milliseconds within) {
  const auto until = std::chrono::steady_clock::now() + within;
  for (;;) {
    Result<RedisReply> r = command(io, client, args);
    if (r || std::chrono::steady_clock::now() > until) return r;
    std::this_thread::sleep_for(20ms);
  }
}

TEST(RedisEndpoint, ParsesAndRefusesPasswords) {
  auto e = RedisEndpoint::parse("redis://redis.internal:6380/3");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->host, "redis.internal");
  EXPECT_EQ(e->port, 6380);
  EXPECT_EQ(e->db, 3);
  auto d = RedisEndpoint::parse("redis://127.0.0.1");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->port, 6379);
  EXPECT_EQ(d->db, 0);
  auto v6 = RedisEndpoint::parse("redis://[::1]:7000/1");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 7000);
  for (const char* bad : {"redis://:s3cret@host:6379/0", "redis://user:s3cret@host/0", "http://host:6379",
                          "redis://host:0/0", "redis://host:6379/x", "redis://:6379/0", "redis://host/0?password=x"}) {
    auto r = RedisEndpoint::parse(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().message.find("s3cret"), std::string::npos) << "the error never echoes the URL";
  }
}

TEST(RedisReplyParser, ParsesEveryTypeAndWaitsForMore) {
  RedisOptions b;
  auto r = parse_redis_reply("*4\r\n:1\r\n$3\r\nabc\r\n$-1\r\n*1\r\n+OK\r\nextra", b);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->complete);
  EXPECT_EQ(r->consumed, std::string_view("*4\r\n:1\r\n$3\r\nabc\r\n$-1\r\n*1\r\n+OK\r\n").size());
  ASSERT_EQ(r->reply.type, Type::array);
  ASSERT_EQ(r->reply.elements.size(), 4u);
  EXPECT_EQ(r->reply.elements[0].integer, 1);
  EXPECT_EQ(r->reply.elements[1].text, "abc");
  EXPECT_EQ(r->reply.elements[2].type, Type::nil);
  EXPECT_EQ(r->reply.elements[3].elements[0].text, "OK");
  for (std::string_view part : {"", "*2\r\n:1\r\n", "$5\r\nab", "-ERR x"}) {
    auto p = parse_redis_reply(part, b);
    ASSERT_TRUE(p.ok()) << part;
    EXPECT_FALSE(p->complete) << part;
  }
}

TEST(RedisReplyParser, BoundsSizeCountAndDepth) {
  RedisOptions b;
  b.max_reply_bytes = 16;
  b.max_reply_elements = 3;
  b.max_reply_depth = 2;
  EXPECT_FALSE(parse_redis_reply("$17\r\n", b).ok()) << "a bulk string over the bound is refused before it is read";
  EXPECT_FALSE(parse_redis_reply("*4\r\n", b).ok());
  EXPECT_FALSE(parse_redis_reply("*1\r\n*1\r\n*1\r\n:1\r\n", b).ok());
  EXPECT_TRUE(parse_redis_reply("*1\r\n*1\r\n:1\r\n", b).ok());
  EXPECT_FALSE(parse_redis_reply("?what\r\n", b).ok());
  EXPECT_FALSE(parse_redis_reply(":12x\r\n", b).ok());
  EXPECT_FALSE(parse_redis_reply("$3\r\nabcd\r\n", b).ok());
  EXPECT_FALSE(parse_redis_reply(std::string(70 * 1024, 'a'), b).ok()) << "a line without its end is bounded too";
}

TEST(RedisClient, CommandsAndEvalShaReloadAfterNoscript) {
  auto server = start_server();
  ASSERT_NE(server, nullptr);
  IoThreads io;
  auto client = RedisClient::make(io.executor(), options_for(*server));
  Result<RedisReply> set = command(io, *client, {"SET", "k", "v"});
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->text, "OK");
  Result<RedisReply> get = command(io, *client, {"GET", "k"});
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->text, "v");
  Result<RedisReply> err = command(io, *client, {"NOSUCHCOMMAND"});
  ASSERT_TRUE(err.ok()) << "an error reply is a value";
  EXPECT_EQ(err->type, Type::error);

  auto script = std::make_shared<const RedisScript>("return {KEYS[1], ARGV[1]}");
  EXPECT_EQ(script->sha1.size(), 40u);
  Result<RedisReply> first = eval(io, *client, script, {"key"}, {"arg"});  // unknown to the server: loaded
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_EQ(first->type, Type::array);
  EXPECT_EQ(first->elements[1].text, "arg");
  Result<RedisReply> exists = command(io, *client, {"SCRIPT", "EXISTS", script->sha1});
  ASSERT_TRUE(exists.ok());
  EXPECT_EQ(exists->elements.at(0).integer, 1) << "the sha1 computed here is the server's";
  ASSERT_TRUE(command(io, *client, {"SCRIPT", "FLUSH"}).ok());
  Result<RedisReply> again = eval(io, *client, script, {"key"}, {"two"});
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->elements[1].text, "two");
  client->stop();
}

TEST(RedisClient, PipelinesConcurrentCallsInOrder) {
  auto server = start_server();
  ASSERT_NE(server, nullptr);
  IoThreads io(2);
  auto client = RedisClient::make(io.executor(), options_for(*server));
  std::vector<std::future<std::optional<Result<RedisReply>>>> calls;
  for (int i = 0; i < 200; ++i) calls.push_back(io.spawn(client->command({"ECHO", std::to_string(i)})));
  for (int i = 0; i < 200; ++i) {
    Result<RedisReply> r = std::move(*calls[static_cast<std::size_t>(i)].get());
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->text, std::to_string(i));
  }
  client->stop();
}

TEST(RedisClient, AuthAndSelect) {
  auto server = start_server("a-test-password");
  ASSERT_NE(server, nullptr);
  IoThreads io;
  RedisOptions o = options_for(*server);
  o.password = "a-test-password";
  o.db = 2;
  auto client = RedisClient::make(io.executor(), o);
  ASSERT_TRUE(command(io, *client, {"SET", "in-db-2", "x"}).ok());
  Result<RedisReply> size = command(io, *client, {"DBSIZE"});
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(size->integer, 1);
  client->stop();

  o.password = "wrong-password";
  auto wrong = RedisClient::make(io.executor(), o);
  Result<RedisReply> refused = command(io, *wrong, {"PING"});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message.find("wrong-password"), std::string::npos);
  wrong->stop();
}

TEST(RedisClient, TimesOutOnASilentServer) {
  auto server = start_server();
  ASSERT_NE(server, nullptr);
  IoThreads io;
  RedisOptions o = options_for(*server);
  o.timeout = 50ms;
  auto client = RedisClient::make(io.executor(), o);
  ASSERT_TRUE(command_eventually(io, *client, {"PING"}, 2000ms).ok());
  server->pause();
  const auto started = std::chrono::steady_clock::now();
  Result<RedisReply> r = command(io, *client, {"PING"});
  const auto took = std::chrono::steady_clock::now() - started;
  server->resume();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::timeout);
  EXPECT_GE(took, 45ms);
  EXPECT_LT(took, 500ms);
  // The late reply is read and dropped: the next call gets its own answer.
  Result<RedisReply> next = command_eventually(io, *client, {"ECHO", "mine"}, 2000ms);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->text, "mine");
  client->stop();
}

TEST(RedisClient, ReconnectsAfterAServerRestart) {
  auto server = start_server();
  ASSERT_NE(server, nullptr);
  IoThreads io;
  auto client = RedisClient::make(io.executor(), options_for(*server));
  ASSERT_TRUE(command(io, *client, {"PING"}).ok());
  EXPECT_TRUE(client->connected());
  server->kill();
  Result<RedisReply> down = command(io, *client, {"PING"});
  EXPECT_FALSE(down.ok());
  // During the back-off calls fail at once instead of waiting.
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) (void)command(io, *client, {"PING"});
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  ASSERT_TRUE(server->restart().ok());
  Result<RedisReply> up = command_eventually(io, *client, {"PING"}, 3000ms);
  ASSERT_TRUE(up.ok()) << up.error().message;
  EXPECT_EQ(up->text, "PONG");
  client->stop();
}

TEST(RedisClient, ReplyOverTheBoundClosesTheConnection) {
  auto server = start_server();
  ASSERT_NE(server, nullptr);
  IoThreads io;
  RedisOptions o = options_for(*server);
  o.max_reply_bytes = 1024;
  auto client = RedisClient::make(io.executor(), o);
  ASSERT_TRUE(command(io, *client, {"SET", "big", std::string(4096, 'x')}).ok());
  Result<RedisReply> big = command(io, *client, {"GET", "big"});
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().message.find("reply bound"), std::string::npos) << big.error().message;
  Result<RedisReply> after = command_eventually(io, *client, {"STRLEN", "big"}, 3000ms);
  ASSERT_TRUE(after.ok()) << "a new connection serves the next calls";
  EXPECT_EQ(after->integer, 4096);
  client->stop();
}

TEST(RedisClient, StoppedClientRefusesCalls) {
  auto server = start_server();
  ASSERT_NE(server, nullptr);
  IoThreads io;
  auto client = RedisClient::make(io.executor(), options_for(*server));
  ASSERT_TRUE(command(io, *client, {"PING"}).ok());
  client->stop();
  Result<RedisReply> r = command(io, *client, {"PING"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::cancelled);
}

}  // namespace
}  // namespace tgpulse::throttle
