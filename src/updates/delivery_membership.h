// DeliveryMembership: which tenants' webhooks this node delivers (docs/updates.md#in-a-cluster). In a
// cluster every node sees every tenant's webhook, but exactly one live node delivers it: the one that
// rendezvous_owner() picks among the live nodes (highest random weight), so a change of membership moves
// only the tenants of the node that came or went. The service implements it on its cluster node; the
// updates code knows only this interface. Without one (a single node) this node delivers every webhook.
//
// Thread-safety: owns() is called from any thread, often (WebhookDelivery asks it for every webhook once
// per shared_log_recheck); it must be cheap and must not block.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tgpulse::updates {

class DeliveryMembership {
 public:
  virtual ~DeliveryMembership() = default;
  // True when this node delivers the tenant's webhook now. False for every tenant while the node does not
  // know the live nodes (before its first renewal, fenced, leaving).
  virtual bool owns(const std::string& tenant_id) const = 0;
};

// The node among `nodes` with the highest weight for `key` (FNV-1a of key and node, mixed): the same
// answer on every node that sees the same list, in any order, whatever the build. "" when `nodes` is
// empty.
std::string rendezvous_owner(std::string_view key, const std::vector<std::string>& nodes);

}  // namespace tgpulse::updates
