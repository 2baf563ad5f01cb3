#include "telemetry/span_id_generator.h"

#include <algorithm>
#include <array>
#include <random>

namespace tgpulse::telemetry {
namespace {

std::mt19937_64& thread_engine() {
  thread_local std::mt19937_64 engine = [] {
    std::random_device device;
    std::array<std::uint32_t, 8> seed{};
    std::generate(seed.begin(), seed.end(), std::ref(device));
    std::seed_seq seq(seed.begin(), seed.end());
    return std::mt19937_64(seq);
  }();
  return engine;
}

template <std::size_t N>
void fill_nonzero(std::array<std::uint8_t, N>* bytes) {
  auto& engine = thread_engine();
  do {
    for (std::size_t i = 0; i < N; i += 8) {
      std::uint64_t r = engine();
      for (std::size_t k = 0; k < 8 && i + k < N; ++k) (*bytes)[i + k] = static_cast<std::uint8_t>(r >> (8 * k));
    }
  } while (std::all_of(bytes->begin(), bytes->end(), [](std::uint8_t b) { return b == 0; }));
}

}  // namespace

TraceId SpanIdGenerator::new_trace_id() {
  TraceId id;
  fill_nonzero(&id);
  return id;
}

SpanId SpanIdGenerator::new_span_id() {
  SpanId id;
  fill_nonzero(&id);
  return id;
}

}  // namespace tgpulse::telemetry
