#include "telemetry/trace_context.h"

#include <gtest/gtest.h>

namespace tgpulse::telemetry {
namespace {

// Example from the W3C Trace Context recommendation, §3.2.2.
constexpr char kExample[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(SpanContextTest, ParsesAndFormatsTheW3CExample) {
  auto ctx = SpanContext::parse_traceparent(kExample);
  ASSERT_TRUE(ctx.has_value());
  EXPECT_EQ(ctx->trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(ctx->span_id_hex(), "00f067aa0ba902b7");
  EXPECT_TRUE(ctx->sampled());
  EXPECT_TRUE(ctx->remote);
  EXPECT_EQ(ctx->traceparent(), kExample);
}

TEST(SpanContextTest, RejectsMalformedHeaders) {
  for (const char* bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",         // no flags
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",      // forbidden version
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",      // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",      // zero span id
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",      // uppercase
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xx",   // v00 with extra field
           "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",      // wrong separators
       }) {
    EXPECT_FALSE(SpanContext::parse_traceparent(bad).has_value()) << bad;
  }
}

TEST(SpanContextTest, AcceptsFutureVersionWithExtraFields) {
  auto ctx = SpanContext::parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra");
  ASSERT_TRUE(ctx.has_value());
  EXPECT_FALSE(ctx->sampled());
}

}  // namespace
}  // namespace tgpulse::telemetry
