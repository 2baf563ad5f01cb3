// main() for the test binaries that load the real libtdjson.
//
// TDLib's process-exit handlers may abort while its internal threads are still winding down after the
// last client reported authorizationStateClosed (DESIGN.md: never dlclose it, its exit handlers crash).
// The tests close every client they open; this main then leaves with _Exit so a test that passed is
// not turned into a crash by TDLib's static destructors. The result code is gtest's.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const int rc = RUN_ALL_TESTS();
  std::fflush(nullptr);
  std::_Exit(rc);
}
