// FuzzTempFile: a file under the temporary directory that fuzz targets rewrite with each input, for
// loaders whose only entry point is a path (config, tdsim profiles). One per process, removed at exit.
//
// Thread-safety: for the single fuzzing thread.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

namespace tgpulse::fuzz {

class FuzzTempFile {
 public:
  explicit FuzzTempFile(std::string_view suffix) {
    std::string dir_template = (std::filesystem::temp_directory_path() / "tgpulse-fuzz-XXXXXX").string();
    if (::mkdtemp(dir_template.data()) == nullptr) std::abort();
    dir_ = dir_template;
    path_ = dir_ + "/input" + std::string(suffix);
  }
  ~FuzzTempFile() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  FuzzTempFile(const FuzzTempFile&) = delete;
  FuzzTempFile& operator=(const FuzzTempFile&) = delete;

  // Replaces the file's contents with `text`; returns its path.
  const std::string& write(std::string_view text) {
    std::FILE* f = std::fopen(path_.c_str(), "wb");
    if (f == nullptr) std::abort();
    if (!text.empty() && std::fwrite(text.data(), 1, text.size(), f) != text.size()) std::abort();
    std::fclose(f);
    return path_;
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::string path_;
};

}  // namespace tgpulse::fuzz
