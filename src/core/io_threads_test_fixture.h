// IoThreadsTest: a gtest fixture that runs an io_context (io_) on two threads for the length of a test.
// Tear-down stops the loop rather than waiting for its work: a test may leave a task parked on purpose.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <thread>
#include <vector>

namespace tgpulse {

class IoThreadsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  void TearDown() override {
    work_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
  }
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(io_);
  std::vector<std::thread> threads_;
};

}  // namespace tgpulse
