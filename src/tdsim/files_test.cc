// tdsim's files: remote files with deterministic bytes (POST /file), getFile, downloadFile (progress,
// offset/limit, bounds, errors), cancelDownloadFile, deleteFile, uploads by sendMessage and
// optimizeStorage.
#include <fstream>
#include <vector>

#include "tdsim/fake_world.h"
#include "tdsim/file_content.h"
#include "tdsim/simulator_test_fixture.h"

namespace tgpulse::tdsim::test {
namespace {

class FilesTest : public SimulatorTest {
 protected:
  json create(std::int64_t size, const std::string& name) {
    auto r = sim_->create_file(size, name);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? r.value() : json();
  }
  json download(int c, int file_id, const std::string& extra, bool synchronous = true, std::int64_t offset = 0,
                std::int64_t limit = 0) {
    send(c, {{"@type", "downloadFile"}, {"file_id", file_id}, {"priority", 1}, {"offset", offset}, {"limit", limit},
             {"synchronous", synchronous}, {"@extra", extra}});
    return answer(extra, 10);
  }
  static std::string sha256_of_file(const std::string& path, std::int64_t offset = 0, std::int64_t size = -1) {
    std::ifstream in(path, std::ios::binary);
    in.seekg(offset);
    Sha256 hash;
    std::vector<char> buffer(1 << 20);
    std::int64_t left = size;
    while (in && left != 0) {
      const auto want = left < 0 ? buffer.size() : std::min<std::size_t>(buffer.size(), static_cast<std::size_t>(left));
      in.read(buffer.data(), static_cast<std::streamsize>(want));
      hash.update(buffer.data(), static_cast<std::size_t>(in.gcount()));
      if (left > 0) left -= in.gcount();
    }
    return hash.hex_digest();
  }
};

TEST_F(FilesTest, ContentIsAPureFunctionOfSeedIdAndOffset) {
  std::vector<char> whole(100), part(37);
  FileContent::fill(7, 3, 0, whole.data(), whole.size());
  FileContent::fill(7, 3, 13, part.data(), part.size());
  EXPECT_TRUE(std::equal(part.begin(), part.end(), whole.begin() + 13));
  std::vector<char> other(100);
  FileContent::fill(8, 3, 0, other.data(), other.size());
  EXPECT_NE(whole, other);
  FileContent::fill(7, 4, 0, other.data(), other.size());
  EXPECT_NE(whole, other);
}

TEST_F(FilesTest, ControlRouteChecksItsInput) {
  make();
  EXPECT_FALSE(sim_->create_file(0, "a").ok());
  EXPECT_FALSE(sim_->create_file((std::int64_t{1} << 30) + 1, "a").ok());
  EXPECT_FALSE(sim_->create_file(10, "").ok());
  EXPECT_FALSE(sim_->create_file(10, "../x").ok());
  EXPECT_FALSE(sim_->create_file(10, "..").ok());
  auto f = create(10, "ok.bin");
  EXPECT_GT(f["file_id"].get<int>(), 0);
  EXPECT_EQ(f["sha256"], FileContent::sha256(fast_profile().seed, f["file_id"].get<int>(), 0, 10));
}

TEST_F(FilesTest, FiftyMegabytesAreDownloadedWithProgressAndTheControlRoutesHash) {
  make();
  const int c = ready_client();
  const std::int64_t size = 50'000'000;
  auto f = create(size, "report.pdf");
  const int id = f["file_id"];
  auto file = download(c, id, "dl");  // the speed is the profile's; a test asserts bytes, not time
  ASSERT_EQ(file["@type"], "file") << file.dump();
  EXPECT_EQ(file["id"], id);
  EXPECT_EQ(file["size"], size);
  EXPECT_EQ(file["expected_size"], size);
  const auto& local = file["local"];
  EXPECT_EQ(local["@type"], "localFile");
  EXPECT_EQ(local["path"], (dir_ / "documents" / "report.pdf").string());  // files_directory empty: the database's
  EXPECT_TRUE(local["is_downloading_completed"].get<bool>());
  EXPECT_FALSE(local["is_downloading_active"].get<bool>());
  EXPECT_TRUE(local["can_be_deleted"].get<bool>());
  EXPECT_EQ(local["downloaded_size"], size);
  EXPECT_EQ(local["downloaded_prefix_size"], size);
  EXPECT_EQ(file["remote"]["@type"], "remoteFile");
  EXPECT_TRUE(file["remote"]["is_uploading_completed"].get<bool>());
  EXPECT_FALSE(file["remote"]["id"].get<std::string>().empty());
  EXPECT_EQ(fs::file_size(local["path"].get<std::string>()), static_cast<std::uintmax_t>(size));
  EXPECT_EQ(sha256_of_file(local["path"]), f["sha256"]);
  // Progress: a start, a few steps between, the end — not one per chunk.
  int between = 0, updates = 0;
  for (const auto& d : received_) {
    if (d.value("@type", "") != "updateFile") continue;
    ++updates;
    const auto n = d["file"]["local"]["downloaded_size"].get<std::int64_t>();
    if (n > 0 && n < size) ++between;
  }
  EXPECT_GE(between, 1);
  EXPECT_LE(updates, 8);
  // getFile tells the same.
  send(c, {{"@type", "getFile"}, {"file_id", id}, {"@extra", "get"}});
  json expected = file;
  expected["@extra"] = "get";
  EXPECT_EQ(answer("get"), expected);
}

TEST_F(FilesTest, OffsetAndLimitDownloadARangeIntoFilesDirectory) {
  make();
  const int c = sim_->create_client_id();
  auto p = params();
  p["files_directory"] = (dir_ / "files").string();
  send(c, p);
  state("authorizationStateWaitPhoneNumber");
  send(c, {{"@type", "requestQrCodeAuthentication"}, {"@extra", "qr"}});
  auto s = state("authorizationStateWaitOtherDeviceConfirmation");
  ASSERT_TRUE(sim_->scan(s["link"], "accept", "").ok());
  state("authorizationStateReady");
  auto f = create(3'000'000, "range.bin");
  const int id = f["file_id"];
  auto file = download(c, id, "dl", true, 1'000'000, 500'000);
  const auto& local = file["local"];
  EXPECT_EQ(local["path"], (dir_ / "files" / "documents" / "range.bin").string());
  EXPECT_EQ(local["download_offset"], 1'000'000);
  EXPECT_EQ(local["downloaded_prefix_size"], 500'000);
  EXPECT_EQ(local["downloaded_size"], 500'000);
  EXPECT_FALSE(local["is_downloading_completed"].get<bool>());
  EXPECT_EQ(sha256_of_file(local["path"], 1'000'000, 500'000),
            FileContent::sha256(fast_profile().seed, id, 1'000'000, 500'000));
  // The rest completes the file; its whole hash is the route's.
  file = download(c, id, "rest");
  EXPECT_TRUE(file["local"]["is_downloading_completed"].get<bool>());
  EXPECT_EQ(sha256_of_file(file["local"]["path"]), f["sha256"]);
}

TEST_F(FilesTest, ErrorsAndUnauthorized) {
  make();
  auto f = create(1000, "x.bin");
  const int id = f["file_id"];
  // Before Ready: 401, as every ordinary function.
  const int early = sim_->create_client_id();
  json early_params = params();
  early_params["database_directory"] = (dir_ / "early").string();  // ready_client() below locks dir_
  send(early, early_params);
  state("authorizationStateWaitPhoneNumber");
  send(early, {{"@type", "downloadFile"}, {"file_id", id}, {"priority", 1}, {"@extra", "early"}});
  EXPECT_EQ(answer("early")["code"], 401);
  send(early, {{"@type", "downloadFile"}, {"file_id", "x"}, {"@extra", "typed"}});
  EXPECT_EQ(answer("typed")["message"], "Failed to parse JSON object as TDLib request: Can't parse as an integer string \"x\"");

  const int c = ready_client();
  for (int priority : {0, 33}) {
    send(c, {{"@type", "downloadFile"}, {"file_id", id}, {"priority", priority}, {"@extra", "prio"}});
    EXPECT_EQ(answer("prio"), (json{{"@type", "error"}, {"code", 400}, {"message", "Priority must be between 1 and 32"},
                                    {"@extra", "prio"}, {"@client_id", c}}));
  }
  send(c, {{"@type", "downloadFile"}, {"file_id", id}, {"priority", 1}, {"offset", -1}, {"@extra", "off"}});
  EXPECT_EQ(answer("off")["message"], "Download offset must be non-negative");
  send(c, {{"@type", "downloadFile"}, {"file_id", id}, {"priority", 1}, {"limit", -1}, {"@extra", "lim"}});
  EXPECT_EQ(answer("lim")["message"], "Download limit must be non-negative");
  for (const char* fn : {"downloadFile", "getFile", "deleteFile"}) {
    send(c, {{"@type", fn}, {"file_id", 999999}, {"priority", 1}, {"@extra", fn}});
    EXPECT_EQ(answer(fn), (json{{"@type", "error"}, {"code", 400}, {"message", "Invalid file identifier"},
                                {"@extra", fn}, {"@client_id", c}}));
  }
  send(c, {{"@type", "cancelDownloadFile"}, {"file_id", 999999}, {"@extra", "cancel"}});
  EXPECT_EQ(answer("cancel")["@type"], "ok");  // TDLib answers ok for any id
}

TEST_F(FilesTest, ConcurrentDownloadsAreBoundedPerClientAndCancellable) {
  auto p = Profile::apply(fast_profile(), json{{"files", {{"throughput_bytes_per_second", 1'000'000},
                                                          {"max_concurrent_downloads", 2}}}});
  make(p.value());
  const int c = ready_client();
  std::vector<int> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(create(20'000'000, "f" + std::to_string(i))["file_id"]);
  for (int i = 0; i < 3; ++i) {
    auto file = download(c, ids[i], "d" + std::to_string(i), false);
    EXPECT_TRUE(file["local"]["is_downloading_active"].get<bool>());
  }
  auto client_state = [&] { return sim_->state()["clients"][0]["downloads"]; };
  EXPECT_EQ(client_state(), (json{{"active", 2}, {"queued", 1}}));
  // Cancelling a running one lets the queued one start.
  send(c, {{"@type", "cancelDownloadFile"}, {"file_id", ids[0]}, {"@extra", "cancel"}});
  EXPECT_EQ(answer("cancel")["@type"], "ok");
  EXPECT_EQ(client_state(), (json{{"active", 2}, {"queued", 0}}));
  send(c, {{"@type", "getFile"}, {"file_id", ids[0]}, {"@extra", "get"}});
  EXPECT_FALSE(answer("get")["local"]["is_downloading_active"].get<bool>());
  for (int i = 1; i < 3; ++i) send(c, {{"@type", "cancelDownloadFile"}, {"file_id", ids[i]}});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (client_state()["active"] != 0 && std::chrono::steady_clock::now() < deadline) sim_->receive(0.05);
  EXPECT_EQ(client_state(), (json{{"active", 0}, {"queued", 0}}));
}

TEST_F(FilesTest, DeleteFileRemovesTheLocalCopy) {
  make();
  const int c = ready_client();
  const int id = create(100'000, "gone.bin")["file_id"];
  const std::string path = download(c, id, "dl")["local"]["path"];
  ASSERT_TRUE(fs::exists(path));
  send(c, {{"@type", "deleteFile"}, {"file_id", id}, {"@extra", "del"}});
  EXPECT_EQ(answer("del")["@type"], "ok");
  EXPECT_FALSE(fs::exists(path));
  send(c, {{"@type", "getFile"}, {"file_id", id}, {"@extra", "get"}});
  auto file = answer("get");
  EXPECT_EQ(file["local"]["downloaded_size"], 0);
  EXPECT_EQ(file["local"]["path"], "");
  EXPECT_FALSE(file["local"]["can_be_deleted"].get<bool>());
}

TEST_F(FilesTest, AnUploadIsHashedAndRecordedInState) {
  make();
  const int c = ready_client();
  fs::create_directories(dir_);
  const auto path = (dir_ / "upload.txt").string();
  std::string body(3'000'000, 'u');
  for (std::size_t i = 0; i < body.size(); i += 7) body[i] = static_cast<char>('a' + i % 26);
  std::ofstream(path, std::ios::binary) << body;
  send(c, {{"@type", "sendMessage"}, {"chat_id", FakeWorld::chat_id(0)},
           {"input_message_content", {{"@type", "inputMessageDocument"},
                                      {"document", {{"@type", "inputFileLocal"}, {"path", path}}}}},
           {"@extra", "send"}});
  auto message = answer("send");
  ASSERT_EQ(message["@type"], "message") << message.dump();
  EXPECT_EQ(message["sending_state"]["@type"], "messageSendingStatePending");
  EXPECT_EQ(message["content"]["@type"], "messageDocument");
  EXPECT_EQ(message["content"]["document"]["document"]["size"], 3'000'000);
  auto sent = until([](const json& d) { return d.value("@type", "") == "updateMessageSendSucceeded"; });
  EXPECT_EQ(sent["old_message_id"], message["id"]);
  EXPECT_TRUE(sent["message"]["content"]["document"]["document"]["remote"]["is_uploading_completed"].get<bool>());
  Sha256 h;
  h.update(body.data(), body.size());
  const std::string sha = h.hex_digest();
  auto uploads = sim_->state()["clients"][0]["uploads"];
  ASSERT_EQ(uploads.size(), 1u);
  EXPECT_EQ(uploads[0], (json{{"name", "upload.txt"}, {"size", 3'000'000}, {"sha256", sha}, {"chat_id", FakeWorld::chat_id(0)},
                              {"message_id", sent["message"]["id"]}}));
  bool progress = false;
  for (const auto& d : received_) {
    if (d.value("@type", "") == "updateFile" && d["file"]["remote"]["is_uploading_active"].get<bool>()) progress = true;
  }
  EXPECT_TRUE(progress);
}

TEST_F(FilesTest, AMissingUploadFailsSendMessage) {
  make();
  const int c = ready_client();
  const auto path = (dir_ / "missing.pdf").string();
  send(c, {{"@type", "sendMessage"}, {"chat_id", FakeWorld::chat_id(0)},
           {"input_message_content", {{"@type", "inputMessageDocument"},
                                      {"document", {{"@type", "inputFileLocal"}, {"path", path}}}}},
           {"@extra", "send"}});
  auto e = answer("send");
  EXPECT_EQ(e["@type"], "error");
  EXPECT_EQ(e["code"], 400);
  EXPECT_EQ(e["message"], "Stat for file \"" + path + "\" failed: [Error : 2 : No such file or directory]");
  EXPECT_TRUE(sim_->state()["clients"][0]["uploads"].empty());
}

TEST_F(FilesTest, OptimizeStorageRemovesDownloadedFiles) {
  make();
  const int c = ready_client();
  const int a = create(100'000, "a.bin")["file_id"];
  const int b = create(50'000, "b.bin")["file_id"];
  const std::string pa = download(c, a, "a")["local"]["path"];
  const std::string pb = download(c, b, "b")["local"]["path"];
  send(c, {{"@type", "optimizeStorage"}, {"return_deleted_file_statistics", true}, {"@extra", "opt"}});
  auto stats = answer("opt");
  EXPECT_EQ(stats["@type"], "storageStatistics");
  EXPECT_EQ(stats["size"], 150'000);
  EXPECT_EQ(stats["count"], 2);
  ASSERT_EQ(stats["by_chat"].size(), 1u);
  EXPECT_EQ(stats["by_chat"][0]["chat_id"], 0);
  EXPECT_FALSE(fs::exists(pa));
  EXPECT_FALSE(fs::exists(pb));
  send(c, {{"@type", "optimizeStorage"}, {"@extra", "again"}});
  EXPECT_EQ(answer("again"), (json{{"@type", "storageStatistics"}, {"size", 0}, {"count", 0},
                                   {"by_chat", json::array()}, {"@extra", "again"}, {"@client_id", c}}));
}

TEST_F(FilesTest, ProfileKeys) {
  EXPECT_FALSE(Profile::apply(Profile::defaults(), json{{"files", {{"max_concurrent_downloads", 0}}}}).ok());
  EXPECT_FALSE(Profile::apply(Profile::defaults(), json{{"files", {{"throughput_bytes_per_second", 0}}}}).ok());
  EXPECT_FALSE(Profile::apply(Profile::defaults(), json{{"files", {{"nope", 1}}}}).ok());
  EXPECT_EQ(Profile::defaults().to_json()["files"],
            (json{{"throughput_bytes_per_second", 100e6}, {"max_concurrent_downloads", 4}}));
}

}  // namespace
}  // namespace tgpulse::tdsim::test
