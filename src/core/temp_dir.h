// TempDir (tests only): a fresh directory under the system temp dir, named "tgpulse-<label>-XXXXXX",
// removed with everything in it when the object goes. A failed mkdtemp fails the running test.
//
// Thread-safety: one owner.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace tgpulse {

class TempDir {
 public:
  explicit TempDir(const std::string& label = "test") {
    std::string templ = (std::filesystem::temp_directory_path() / ("tgpulse-" + label + "-XXXXXX")).string();
    EXPECT_NE(::mkdtemp(templ.data()), nullptr);
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace tgpulse
