// SessionOwnership: the session layer's view of a cluster (docs/scaling.md). In a cluster a node may
// open a session's TDLib directory only while it holds the session's lease; the session manager asks
// for the lease of every session it creates before its client exists, and says when a session left
// this node. Without a cluster the SessionServices carry none and every session is this node's.
//
// Thread-safety: implementations are thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace tgpulse::session {

class SessionOwnership {
 public:
  virtual ~SessionOwnership() = default;
  // Takes the lease of a session this node just recorded. Blocks (a store round trip): call it on the
  // blocking pool. An error means the session must not be opened here.
  virtual Status acquire_new(const std::string& session_id) = 0;
  // Whether this node holds the session's lease now.
  virtual bool holds(std::string_view session_id) const = 0;
  // The session left this node: cleaned up for good (`removed`), or closed because the node stops, its
  // lease was lost or it was handed over. Never blocks.
  virtual void left(const std::string& session_id, bool removed) = 0;
  // A session this node took over answers again (its restore reached authorizationStateReady). Never
  // blocks.
  virtual void resumed(const std::string& session_id) = 0;
};

}  // namespace tgpulse::session
