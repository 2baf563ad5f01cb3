#include "store/last_used_batcher.h"

#include <gtest/gtest.h>

#include <atomic>

#include "store/memory_session_store.h"
#include "store/slow_session_store.h"
#include "store/tenant_tokens.h"

namespace tgpulse::store {
namespace {

using namespace std::chrono_literals;

class LastUsedBatcherTest : public ::testing::Test {
 protected:
  LastUsedBatcherTest() {
    EXPECT_TRUE(store_.create_tenant({"acme", TenantTokens::hash_token("tgp_acme"), 0}).ok());
    for (const char* id : {"s_0000000000000000000001", "s_0000000000000000000002"}) {
      SessionRecord r;
      r.session_id = id;
      r.tenant_id = "acme";
      r.state = SessionState::authorized;
      r.engine_dir = "/tmp/tgpulse-test/" + std::string(id);
      r.db_key = "key";
      r.page_key_hash = TenantTokens::hash_token("page");
      r.created_at_ms = r.last_used_at_ms = 1'767'225'600'000;  // the FakeClock's start
      EXPECT_TRUE(store_.create_session(r).ok());
    }
  }
  std::int64_t last_used(const char* id) { return store_.find_session(id)->last_used_at_ms; }
  std::int64_t now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.wall().time_since_epoch()).count();
  }

  FakeClock clock_;
  MemorySessionStore store_{clock_};
};

TEST_F(LastUsedBatcherTest, MarksAreWrittenOnlyAtAFlushOncePerSession) {
  SlowSessionStore counted(store_, 0ms);
  StoreAccessOptions options;
  options.last_used_flush = 1h;  // the thread never flushes during the test
  LastUsedBatcher batcher(counted, options, nullptr);
  batcher.start();
  const std::int64_t before = last_used("s_0000000000000000000001");
  clock_.advance(2s);
  for (int i = 0; i < 100; ++i) batcher.mark("s_0000000000000000000001", now_ms());
  batcher.mark("s_0000000000000000000002", now_ms());
  EXPECT_EQ(counted.calls(), 0u);  // nothing written on the caller's path
  EXPECT_EQ(last_used("s_0000000000000000000001"), before);
  EXPECT_EQ(batcher.flush(), 2u);
  EXPECT_EQ(counted.calls(), 2u);  // one write per session, not per mark
  EXPECT_EQ(last_used("s_0000000000000000000001"), before + 2000);
}

TEST_F(LastUsedBatcherTest, AGracefulStopWritesWhatIsPending) {
  StoreAccessOptions options;
  options.last_used_flush = 1h;
  LastUsedBatcher batcher(store_, options, nullptr);
  batcher.start();
  const std::int64_t before = last_used("s_0000000000000000000002");
  clock_.advance(3s);
  batcher.mark("s_0000000000000000000002", now_ms());
  batcher.stop();
  EXPECT_EQ(last_used("s_0000000000000000000002"), before + 3000);
  EXPECT_EQ(batcher.pending(), 0u);
}

TEST_F(LastUsedBatcherTest, TheThreadFlushesEveryInterval) {
  StoreAccessOptions options;
  options.last_used_flush = 10ms;
  LastUsedBatcher batcher(store_, options, nullptr);
  batcher.start();
  const std::int64_t before = last_used("s_0000000000000000000001");
  clock_.advance(1s);
  batcher.mark("s_0000000000000000000001", now_ms());
  for (int i = 0; i < 500 && last_used("s_0000000000000000000001") == before; ++i) {
    std::this_thread::sleep_for(10ms);  // polling the outcome of a timer-driven thread, bounded at 5 s
  }
  EXPECT_EQ(last_used("s_0000000000000000000001"), before + 1000);
}

TEST_F(LastUsedBatcherTest, ASessionDeletedMeanwhileIsSkippedWithoutAReport) {
  StoreAccessOptions options;
  std::atomic<std::size_t> reported{0};
  LastUsedBatcher batcher(store_, options, [&](const Error&, std::size_t failed) { reported = failed; });
  ASSERT_TRUE(store_.delete_session("s_0000000000000000000002").ok());
  batcher.mark("s_0000000000000000000002", now_ms());
  EXPECT_EQ(batcher.flush(), 0u);
  EXPECT_EQ(reported.load(), 0u);  // gone meanwhile: nothing to report
  EXPECT_EQ(batcher.pending(), 0u);
}

// The stored time is the last invoke's, not the flush's: marks at t+1 s and t+4 s (out of order), a
// flush at t+60 s writes t+4 s.
TEST_F(LastUsedBatcherTest, TheStoredTimeIsTheLatestUseNotTheFlushTime) {
  StoreAccessOptions options;
  options.last_used_flush = 1h;
  LastUsedBatcher batcher(store_, options, nullptr);
  const std::int64_t start = now_ms();
  batcher.mark("s_0000000000000000000001", start + 4000);
  batcher.mark("s_0000000000000000000001", start + 1000);  // an earlier use reported late
  clock_.advance(60s);
  EXPECT_EQ(batcher.flush(), 1u);
  EXPECT_EQ(last_used("s_0000000000000000000001"), start + 4000);
  EXPECT_EQ(store_.find_session("s_0000000000000000000001")->updated_at_ms, now_ms());  // the write's own time
}

// A failed write is retried with the latest time: the failed batch's time merges with newer marks.
TEST_F(LastUsedBatcherTest, AFailedWriteIsRetriedWithTheLatestUse) {
  struct FailingOnce final : SlowSessionStore {
    using SlowSessionStore::SlowSessionStore;
    Status touch_last_used(std::string_view id, std::int64_t at) override {
      if (fail_next.exchange(false)) return Status(Errc::store_error, "disk full");
      return SlowSessionStore::touch_last_used(id, at);
    }
    std::atomic<bool> fail_next{true};
  };
  FailingOnce flaky(store_, 0ms);
  StoreAccessOptions options;
  options.last_used_flush = 1h;
  std::atomic<std::size_t> reported{0};
  LastUsedBatcher batcher(flaky, options, [&](const Error&, std::size_t failed) { reported = failed; });
  const std::int64_t start = now_ms();
  batcher.mark("s_0000000000000000000002", start + 5000);
  EXPECT_EQ(batcher.flush(), 0u);
  EXPECT_EQ(reported.load(), 1u);
  EXPECT_EQ(batcher.pending(), 1u);
  batcher.mark("s_0000000000000000000002", start + 2000);  // older than the one that failed
  EXPECT_EQ(batcher.flush(), 1u);
  EXPECT_EQ(last_used("s_0000000000000000000002"), start + 5000);
}

}  // namespace
}  // namespace tgpulse::store
