#include "updates/delivery_membership.h"

#include <cstdint>

namespace tgpulse::updates {
namespace {

// FNV-1a over key, a separator and node, then SplitMix64's finaliser (FNV's low bits alone cluster for
// keys that differ in their last characters). Fixed here, so nodes of different builds agree.
std::uint64_t weight(std::string_view key, std::string_view node) {
  std::uint64_t h = 14695981039346656037ULL;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
  };
  mix(key);
  mix(std::string_view("\0", 1));
  mix(node);
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

}  // namespace

std::string rendezvous_owner(std::string_view key, const std::vector<std::string>& nodes) {
  const std::string* best = nullptr;
  std::uint64_t best_weight = 0;
  for (const auto& node : nodes) {
    const std::uint64_t w = weight(key, node);
    // A tie (never seen in practice) goes to the greater id, so the answer does not depend on the order.
    if (best == nullptr || w > best_weight || (w == best_weight && node > *best)) {
      best = &node;
      best_weight = w;
    }
  }
  return best == nullptr ? std::string() : *best;
}

}  // namespace tgpulse::updates
