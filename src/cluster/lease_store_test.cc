// The cluster's leases on a real PostgreSQL 15 (PostgresTestServer): fencing — a write of a node whose
// lease is gone is refused in the write's own statement —, renewals, the fair-share claim, hand-over by
// release, locating a session, and a node id held by a live node.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "cluster/lease_store.h"
#include "store/postgres_connection_pool.h"
#include "store/postgres_session_store.h"
#include "store/postgres_test_server.h"
#include "store/tenant_tokens.h"

namespace tgpulse::cluster {
namespace {

using namespace std::chrono_literals;

// A node's view of its leases, as the ClusterNode keeps it.
class FakeFence final : public store::SessionFence {
 public:
  explicit FakeFence(std::string node) : node_(std::move(node)) {}
  const std::string& node_id() const override { return node_; }
  std::optional<std::int64_t> epoch_of(std::string_view id) const override {
    auto it = epochs_.find(std::string(id));
    if (it == epochs_.end()) return std::nullopt;
    return it->second;
  }
  std::map<std::string, std::int64_t> epochs_;

 private:
  std::string node_;
};

class LeaseStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = store::PostgresTestServer::shared();
    ASSERT_NE(server_, nullptr) << "no PostgreSQL server: " << store::PostgresTestServer::shared_failure();
    auto options = server_->create_database();
    ASSERT_TRUE(options.ok()) << options.error().to_string();
    options_ = *options;
    // The session store migrates (the cluster's tables come with its schema).
    for (auto* fence : {&fence_a_, &fence_b_}) {
      auto s = store::PostgresSessionStore::open(options_, nullptr, clock_);
      ASSERT_TRUE(s.ok()) << s.error().to_string();
      (*s)->set_fence(std::shared_ptr<const store::SessionFence>(fence, [](const store::SessionFence*) {}));
      stores_.push_back(std::move(*s));
    }
    for (int i = 0; i < 2; ++i) {
      auto l = LeaseStore::open(options_, 10s);
      ASSERT_TRUE(l.ok()) << l.error().to_string();
      leases_.push_back(std::move(*l));
    }
    ASSERT_TRUE(stores_[0]->create_tenant(store::TenantRecord{"acme", store::TenantTokens::hash_token("t"), 1}).ok());
    ASSERT_TRUE(leases_[0]->register_node("a", 1, "http://127.0.0.1:1").ok());
    ASSERT_TRUE(leases_[1]->register_node("b", 2, "http://127.0.0.1:2").ok());
  }
  void sql(const std::string& text) {
    pqxx::connection c(store::postgres_conninfo(options_).value());
    pqxx::nontransaction tx(c);
    tx.exec(text);
  }
  void create_session(const std::string& id) {
    store::SessionRecord r;
    r.session_id = id;
    r.tenant_id = "acme";
    r.state = store::SessionState::authorized;
    r.engine_dir = "/data/sessions/" + id;
    r.db_key = "a2V5";
    r.page_key_hash = store::TenantTokens::hash_token("page");
    ASSERT_TRUE(stores_[0]->create_session(r).ok());
  }
  // Ends every lease now, as the TTL would (without waiting for it).
  void expire_all() { sql("UPDATE session_leases SET lease_until = clock_timestamp() - interval '1 second'"); }
  static store::SessionStateChange to_cleanup() {
    store::SessionStateChange c;
    c.to = store::SessionState::cleanup_pending;
    c.cleanup_trigger = "delete";
    return c;
  }

  store::PostgresTestServer* server_ = nullptr;
  store::PostgresOptions options_;
  FakeClock clock_;
  FakeFence fence_a_{"a"};
  FakeFence fence_b_{"b"};
  std::vector<std::unique_ptr<store::PostgresSessionStore>> stores_;  // [0] node a's, [1] node b's
  std::vector<std::unique_ptr<LeaseStore>> leases_;                  // [0] node a's, [1] node b's
};

TEST_F(LeaseStoreTest, AStaleOwnersWritesAreRefusedByTheEpochCheck) {
  const std::string id = "s_fenced000000000000000a";
  create_session(id);
  Result<std::int64_t> epoch = leases_[0]->acquire_new(id, "a");
  ASSERT_TRUE(epoch.ok()) << epoch.error().to_string();
  EXPECT_EQ(*epoch, 1);
  fence_a_.epochs_[id] = *epoch;
  EXPECT_TRUE(stores_[0]->touch_last_used(id, 5).ok());
  // b holds no lease: every write of b is refused, naming the lost lease.
  Status b_touch = stores_[1]->touch_last_used(id, 6);
  ASSERT_FALSE(b_touch.ok());
  EXPECT_EQ(b_touch.error().code, Errc::conflict);
  EXPECT_NE(b_touch.error().message.find("lease lost"), std::string::npos) << b_touch.error().message;

  // a is cut off; its lease runs out and b takes the session over (epoch 2).
  expire_all();
  Result<std::vector<ClaimedLease>> claimed = leases_[1]->claim("b");
  ASSERT_TRUE(claimed.ok()) << claimed.error().to_string();
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ((*claimed)[0].epoch, 2);
  EXPECT_FALSE((*claimed)[0].handed_over);
  fence_b_.epochs_[id] = 2;

  // a still believes it owns the session at epoch 1: each of its writes is refused and changes nothing.
  Result<store::SessionRecord> a_state = stores_[0]->update_state(id, to_cleanup());
  ASSERT_FALSE(a_state.ok());
  EXPECT_EQ(a_state.error().code, Errc::conflict);
  EXPECT_NE(a_state.error().message.find("lease lost"), std::string::npos);
  EXPECT_EQ(stores_[0]->touch_last_used(id, 99).error().code, Errc::conflict);
  EXPECT_EQ(stores_[0]->delete_session(id).error().code, Errc::conflict);
  Result<store::SessionRecord> now = stores_[1]->find_session(id);
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->state, store::SessionState::authorized);
  EXPECT_EQ(now->last_used_at_ms, 5);
  // The owner at epoch 2 writes.
  EXPECT_TRUE(stores_[1]->update_state(id, to_cleanup()).ok());
  EXPECT_TRUE(stores_[1]->delete_session(id).ok());
  // Its lease went with its record.
  EXPECT_FALSE(leases_[0]->locate(id)->has_value());
}

TEST_F(LeaseStoreTest, RenewalExtendsOnlyTheNodesValidLeasesAndListsTheLiveNodes) {
  create_session("s_renew00000000000000001");
  create_session("s_renew00000000000000002");
  ASSERT_TRUE(leases_[0]->acquire_new("s_renew00000000000000001", "a").ok());
  ASSERT_TRUE(leases_[1]->acquire_new("s_renew00000000000000002", "b").ok());
  Result<RenewOutcome> a = leases_[0]->renew("a", 1, 1);
  ASSERT_TRUE(a.ok()) << a.error().to_string();
  EXPECT_TRUE(a->registered);
  ASSERT_EQ(a->renewed.size(), 1u);
  EXPECT_EQ(a->renewed[0].session_id, "s_renew00000000000000001");
  EXPECT_EQ(a->live_nodes.size(), 2u);
  // Expired leases are not renewed (the node fenced itself before this): they are anyone's to claim.
  expire_all();
  a = leases_[0]->renew("a", 1, 1);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->renewed.empty());
  // Another incarnation of the id: this one is not registered any more.
  Result<RenewOutcome> stale = leases_[0]->renew("a", 7, 0);
  ASSERT_TRUE(stale.ok());
  EXPECT_FALSE(stale->registered);
  EXPECT_TRUE(stale->renewed.empty());
}

TEST_F(LeaseStoreTest, ALiveNodesIdIsRefusedToAnotherIncarnation) {
  Status again = leases_[1]->register_node("a", 42, "http://127.0.0.1:3");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::conflict);
  EXPECT_NE(again.error().message.find("held by a live node"), std::string::npos) << again.error().message;
  // Once its heartbeat is older than the TTL, the id is free (a crashed node restarted).
  sql("UPDATE cluster_nodes SET heartbeat_at = clock_timestamp() - interval '1 minute' WHERE node_id = 'a'");
  EXPECT_TRUE(leases_[1]->register_node("a", 42, "http://127.0.0.1:3").ok());
}

TEST_F(LeaseStoreTest, OrphansAreSharedFairlyAndAHandOverIsTakenAtOnce) {
  for (int i = 0; i < 10; ++i) {
    const std::string id = "s_share0000000000000000" + std::to_string(i);
    create_session(id);
    ASSERT_TRUE(leases_[0]->acquire_new(id, "a").ok());
  }
  // a leaves: it releases its leases (marked as handed over) and is no longer a live node.
  ASSERT_TRUE(leases_[0]->set_leaving("a", 1, false).ok());
  ASSERT_TRUE(leases_[0]->release("a").ok());
  Result<std::vector<ClaimedLease>> b = leases_[1]->claim("b");
  ASSERT_TRUE(b.ok()) << b.error().to_string();
  EXPECT_EQ(b->size(), 10u);  // the only live node: its fair share is all of them
  for (const ClaimedLease& l : *b) {
    EXPECT_TRUE(l.handed_over);
    EXPECT_EQ(l.epoch, 2);
    EXPECT_LT(l.orphaned_seconds, 5.0);
  }
  // With two live nodes, each takes half of what is free.
  ASSERT_TRUE(leases_[0]->register_node("a", 1, "http://127.0.0.1:1").ok());
  expire_all();
  Result<std::vector<ClaimedLease>> first = leases_[0]->claim("a");
  Result<std::vector<ClaimedLease>> second = leases_[1]->claim("b");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->size(), 5u);
  EXPECT_EQ(second->size(), 5u);
}

TEST_F(LeaseStoreTest, LocateTellsOwnerMovingAndUnknown) {
  const std::string id = "s_locate0000000000000001";
  create_session(id);
  EXPECT_FALSE(leases_[0]->locate(id)->has_value());  // no lease yet
  ASSERT_TRUE(leases_[1]->acquire_new(id, "b").ok());
  Result<std::optional<LeaseStore::Location>> at = leases_[0]->locate(id);
  ASSERT_TRUE(at.ok() && at->has_value());
  EXPECT_TRUE((*at)->valid);
  EXPECT_EQ((*at)->owner, "b");
  EXPECT_EQ((*at)->url, "http://127.0.0.1:2");
  expire_all();
  at = leases_[0]->locate(id);
  ASSERT_TRUE(at.ok() && at->has_value());
  EXPECT_FALSE((*at)->valid);  // moving: nobody holds it now
  EXPECT_EQ(leases_[0]->acquire_new(id, "a").error().code, Errc::conflict);
}

}  // namespace
}  // namespace tgpulse::cluster
