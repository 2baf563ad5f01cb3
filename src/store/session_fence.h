// SessionFence: the lease a node holds on each session, for a store that refuses the writes of a node
// that no longer owns a session (docs/scaling.md, "Leases and fencing").
//
// In a cluster every live session has one owner node and a fencing epoch that rises on every takeover.
// A store given a fence (PostgresSessionStore::set_fence) makes each write of a session record —
// update_state, touch_last_used, delete_session — conditional, in the same statement, on the lease
// still naming this node with the epoch it took: a node that lost a session (it was cut off from the
// database and another node took the session over) can no longer move the session's record, whatever
// it still believes. Such a write answers Errc::conflict "lease lost: ...".
//
// Thread-safety: implementations are thread-safe (token_of is called from store pool threads).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tgpulse::store {

struct FenceToken {
  std::string node_id;
  std::int64_t epoch = 0;
};

class SessionFence {
 public:
  virtual ~SessionFence() = default;
  // This node's id.
  virtual const std::string& node_id() const = 0;
  // The epoch of this node's lease on `session_id`, or nullopt when it holds none (every write of that
  // session is then refused).
  virtual std::optional<std::int64_t> epoch_of(std::string_view session_id) const = 0;
};

}  // namespace tgpulse::store
