// log_bench: tgpulse's logger ("Ours") beside spdlog's asynchronous logger ("Spdlog") in one binary.
// Both write the same ECS JSON line (checked byte for byte, timestamp aside, before any benchmark
// runs) to the same kind of sink — a file on disk, or /dev/null — from 1 and 2 producer threads.
//
// One iteration: build the logger, start the producers, log kLinesPerIteration lines in all, join, shut
// the logger down (every queued line written, the file closed), and only then stop the clock. Reported
// per benchmark (medians over repetitions with `make bench`):
//   lines_per_s      lines produced / wall time of the whole iteration (manual time)
//   cpu_ns_per_line  process CPU time (every thread: producers, writer, spdlog's worker) per line
//   lost             lines produced − lines found in the file after shutdown (file sink; /dev/null
//                    cannot be counted, there it is produced − what the logger reports written)
//   dropped          what the logger itself reports: ours counts lines refused by a full queue;
//                    spdlog runs with async_overflow_policy::block, so producers wait instead and its
//                    overrun counter stays 0
// Both queues hold kQueueLines lines (ours: LoggerOptions::queue_capacity, the default; spdlog: its
// thread pool's queue, one worker thread). `make bench` runs it; docs/PERFORMANCE.md has the figures.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "telemetry/log_line_formatter.h"
#include "telemetry/logger.h"

namespace {

namespace tt = tgpulse::telemetry;

constexpr std::int64_t kLinesPerIteration = 200'000;
constexpr std::size_t kQueueLines = 65'536;
constexpr const char* kMessage = "Session cleanup completed";

enum class SinkKind { file, dev_null };

std::string sink_path(SinkKind kind) {
  if (kind == SinkKind::dev_null) return "/dev/null";
  static const std::string path =
      (std::filesystem::temp_directory_path() / ("tgpulse_log_bench_" + std::to_string(::getpid()) + ".log"))
          .string();
  return path;
}

// Lines ('\n') in the file at `path`.
std::uint64_t count_lines(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  std::vector<char> buffer(1 << 20);
  std::uint64_t lines = 0;
  for (;;) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n <= 0) break;
    lines += static_cast<std::uint64_t>(std::count(buffer.data(), buffer.data() + n, '\n'));
  }
  ::close(fd);
  return lines;
}

double process_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// What every producer logs: the seed's cleanup line with a trace context and the usual event fields.
struct LineValues {
  tt::SpanContext ctx;
  std::string trace_hex;
  std::string span_hex;
  std::string tenant_id;
  std::string session_id;

  explicit LineValues(int thread) {
    ctx = *tt::SpanContext::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    trace_hex = ctx.trace_id_hex();
    span_hex = ctx.span_id_hex();
    tenant_id = "acme-" + std::to_string(thread);
    session_id = "sess-7f3a9c21-" + std::to_string(thread);
  }
};

// A JSON string value for the spdlog side's payload: quoted and escaped like ours (the benchmark's
// values are plain ASCII, so the UTF-8 repair ours also does never triggers).
struct JsonString {
  std::string_view text;
};

}  // namespace

template <>
struct fmt::formatter<JsonString> {
  constexpr auto parse(format_parse_context& ctx) { return ctx.begin(); }
  template <typename Ctx>
  auto format(const JsonString& s, Ctx& ctx) const {
    auto out = ctx.out();
    *out++ = '"';
    for (char c : s.text) {
      if (c == '"' || c == '\\') {
        *out++ = '\\';
        *out++ = c;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        out = fmt::format_to(out, "\\u{:04x}", static_cast<unsigned>(c));
      } else {
        *out++ = c;
      }
    }
    *out++ = '"';
    return out;
  }
};

namespace {

struct RunResult {
  std::uint64_t produced = 0;
  std::uint64_t delivered = 0;  // lines in the file, or the logger's own count for /dev/null
  std::uint64_t dropped = 0;
  double wall_seconds = 0;
  double cpu_seconds = 0;
};

// Runs `produce(thread, lines)` on `threads` threads, then `finish()`; times all of it.
template <typename Produce, typename Finish>
void timed_run(int threads, RunResult* r, Produce produce, Finish finish) {
  const std::int64_t per_thread = kLinesPerIteration / threads;
  const double cpu0 = process_cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> producers;
  for (int t = 0; t < threads; ++t) producers.emplace_back([&produce, t, per_thread] { produce(t, per_thread); });
  for (auto& p : producers) p.join();
  finish();
  r->wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r->cpu_seconds = process_cpu_seconds() - cpu0;
  r->produced = static_cast<std::uint64_t>(per_thread * threads);
}

void log_ours(tt::Logger& logger, const LineValues& v, std::int64_t n) {
  logger.info(kMessage,
              {{"tenant_id", v.tenant_id}, {"session_id", v.session_id}, {"duration", 0.25}, {"status", "success"},
               {"n", n}},
              &v.ctx);
}

// The line log_ours() produces, appended to *out by the formatter alone.
void format_ours(const tt::LogLineFormatter& formatter, std::string* out, const LineValues& v, std::int64_t n) {
  formatter.format(out, std::chrono::system_clock::now(), tt::LogLevel::info, kMessage,
                   {{"tenant_id", v.tenant_id}, {"session_id", v.session_id}, {"duration", 0.25}, {"status", "success"},
                    {"n", n}},
                   &v.ctx);
}

RunResult run_ours(SinkKind kind, int threads, std::chrono::microseconds full_queue_wait) {
  const std::string path = sink_path(kind);
  if (kind == SinkKind::file) std::remove(path.c_str());
  tt::LoggerOptions options;
  options.path = path;
  options.queue_capacity = kQueueLines;
  options.full_queue_wait = full_queue_wait;
  auto logger = std::make_unique<tt::Logger>(options);
  RunResult r;
  timed_run(
      threads, &r,
      [&logger](int t, std::int64_t lines) {
        const LineValues values(t);
        for (std::int64_t i = 0; i < lines; ++i) log_ours(*logger, values, i);
      },
      [&logger] { logger->shutdown(); });
  r.dropped = logger->dropped();
  r.delivered = kind == SinkKind::file ? count_lines(path) : logger->written();
  return r;
}

// The service's default: a full queue drops the line at once (and counts it).
RunResult run_ours_drop(SinkKind kind, int threads) { return run_ours(kind, threads, {}); }
// Like spdlog's block policy, but bounded: a producer waits up to 1 s for room before dropping.
RunResult run_ours_wait(SinkKind kind, int threads) { return run_ours(kind, threads, std::chrono::seconds(1)); }

// The disk's own ceiling: the same bytes (pre-formatted lines) written to the same file in 256 KiB
// write(2) calls by one thread, then closed — no logger at all.
RunResult run_raw_write(SinkKind kind, int /*threads*/) {
  const std::string path = sink_path(kind);
  if (kind == SinkKind::file) std::remove(path.c_str());
  static const std::string chunk = [] {
    std::string text;
    const LineValues values(0);
    const tt::LogLineFormatter formatter(tt::LogFormat::json, "tgpulse");
    while (text.size() < 256 * 1024) format_ours(formatter, &text, values, 123456);
    return text;
  }();
  const auto lines_per_chunk = static_cast<std::uint64_t>(std::count(chunk.begin(), chunk.end(), '\n'));
  RunResult r;
  int fd = -1;
  timed_run(
      1, &r,
      [&](int, std::int64_t lines) {
        fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        for (std::int64_t done = 0; done < lines; done += static_cast<std::int64_t>(lines_per_chunk)) {
          if (::write(fd, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) std::abort();
        }
      },
      [&] { ::close(fd); });
  r.produced = count_lines(path);  // whole chunks: a little over kLinesPerIteration
  r.delivered = r.produced;
  return r;
}

// spdlog: the timestamp and level come from its pattern (formatted on its worker thread), the rest of
// the line is the payload, formatted by fmt on the producer thread.
constexpr const char* kSpdlogPattern = R"({"@timestamp":"%Y-%m-%dT%H:%M:%S.%eZ","log.level":"%l","message":%v})";

void log_spdlog(spdlog::logger& logger, const LineValues& v, std::int64_t n) {
  logger.info(
      R"({},"ecs.version":"8.11.0","service.name":"tgpulse","trace.id":"{}","span.id":"{}","tenant_id":{},)"
      R"("session_id":{},"duration":{},"status":{},"n":{})",
      JsonString{kMessage}, v.trace_hex, v.span_hex, JsonString{v.tenant_id}, JsonString{v.session_id}, 0.25,
      JsonString{"success"}, n);
}

std::shared_ptr<spdlog::async_logger> make_spdlog(const std::string& path,
                                                  std::shared_ptr<spdlog::details::thread_pool> pool) {
  // _st: only the pool's single worker thread calls the sink.
  auto sink = std::make_shared<spdlog::sinks::basic_file_sink_st>(path, /*truncate=*/false);
  auto logger = std::make_shared<spdlog::async_logger>("bench", std::move(sink), std::move(pool),
                                                       spdlog::async_overflow_policy::block);
  logger->set_formatter(std::make_unique<spdlog::pattern_formatter>(kSpdlogPattern, spdlog::pattern_time_type::utc));
  logger->set_level(spdlog::level::info);
  return logger;
}

RunResult run_spdlog(SinkKind kind, int threads) {
  const std::string path = sink_path(kind);
  if (kind == SinkKind::file) std::remove(path.c_str());
  auto pool = std::make_shared<spdlog::details::thread_pool>(kQueueLines, 1);
  auto logger = make_spdlog(path, pool);
  RunResult r;
  std::uint64_t overrun = 0;
  timed_run(
      threads, &r,
      [&logger](int t, std::int64_t lines) {
        const LineValues values(t);
        for (std::int64_t i = 0; i < lines; ++i) log_spdlog(*logger, values, i);
      },
      [&] {
        // The pool's destructor lets its worker write everything queued, then joins it; the logger
        // owns the sink, whose destructor closes the file.
        overrun = pool->overrun_counter();
        logger.reset();
        pool.reset();
      });
  r.dropped = overrun;
  r.delivered = kind == SinkKind::file ? count_lines(path) : r.produced - overrun;
  return r;
}

void report(benchmark::State& state, const RunResult& total) {
  state.counters["lines_per_s"] = benchmark::Counter(static_cast<double>(total.produced), benchmark::Counter::kIsRate);
  state.counters["cpu_ns_per_line"] = total.cpu_seconds * 1e9 / static_cast<double>(total.produced);
  state.counters["lost"] = static_cast<double>(total.produced - std::min(total.produced, total.delivered));
  state.counters["dropped"] = static_cast<double>(total.dropped);
  // Lost without being counted as dropped: lines the logger accepted and then did not write. Must be 0.
  state.counters["lost_uncounted"] =
      static_cast<double>(total.produced - std::min(total.produced, total.delivered + total.dropped));
}

template <RunResult (*Run)(SinkKind, int)>
void bench_logger(benchmark::State& state, SinkKind kind) {
  const int threads = static_cast<int>(state.range(0));
  RunResult total;
  for (auto _ : state) {
    RunResult r = Run(kind, threads);
    state.SetIterationTime(r.wall_seconds);
    total.produced += r.produced;
    total.delivered += r.delivered;
    total.dropped += r.dropped;
    total.cpu_seconds += r.cpu_seconds;
  }
  report(state, total);
  if (kind == SinkKind::file) std::remove(sink_path(kind).c_str());
}

void BM_LogFile_Ours(benchmark::State& state) { bench_logger<run_ours_drop>(state, SinkKind::file); }
void BM_LogFile_OursWait(benchmark::State& state) { bench_logger<run_ours_wait>(state, SinkKind::file); }
void BM_LogFile_Spdlog(benchmark::State& state) { bench_logger<run_spdlog>(state, SinkKind::file); }
void BM_LogFile_RawWrite(benchmark::State& state) { bench_logger<run_raw_write>(state, SinkKind::file); }
void BM_LogDevNull_Ours(benchmark::State& state) { bench_logger<run_ours_drop>(state, SinkKind::dev_null); }
void BM_LogDevNull_OursWait(benchmark::State& state) { bench_logger<run_ours_wait>(state, SinkKind::dev_null); }
void BM_LogDevNull_Spdlog(benchmark::State& state) { bench_logger<run_spdlog>(state, SinkKind::dev_null); }

#define LOG_BENCH(fn) BENCHMARK(fn)->ArgName("threads")->Arg(1)->Arg(2)->UseManualTime()->Unit(benchmark::kMillisecond)
LOG_BENCH(BM_LogFile_Ours);
LOG_BENCH(BM_LogFile_OursWait);
LOG_BENCH(BM_LogFile_Spdlog);
BENCHMARK(BM_LogFile_RawWrite)->ArgName("threads")->Arg(1)->UseManualTime()->Unit(benchmark::kMillisecond);
LOG_BENCH(BM_LogDevNull_Ours);
LOG_BENCH(BM_LogDevNull_OursWait);
LOG_BENCH(BM_LogDevNull_Spdlog);

// Formatting alone, on the producer thread, without a queue or a sink: what each line costs the caller
// before it is handed over (ours: the whole line, redaction included; spdlog: the payload, which is
// what its producer formats — the timestamp and level are added by its worker).
void BM_FormatLine_Ours(benchmark::State& state) {
  const tt::LogLineFormatter formatter(tt::LogFormat::json, "tgpulse");
  const LineValues v(0);
  std::string line;
  std::int64_t n = 0;
  for (auto _ : state) {
    line.clear();
    format_ours(formatter, &line, v, n++);
    benchmark::DoNotOptimize(line.data());
  }
}
BENCHMARK(BM_FormatLine_Ours);

void BM_FormatPayload_Spdlog(benchmark::State& state) {
  const LineValues v(0);
  fmt::memory_buffer payload;
  std::int64_t n = 0;
  for (auto _ : state) {
    payload.clear();
    fmt::format_to(std::back_inserter(payload),
                   R"({},"ecs.version":"8.11.0","service.name":"tgpulse","trace.id":"{}","span.id":"{}",)"
                   R"("tenant_id":{},"session_id":{},"duration":{},"status":{},"n":{})",
                   JsonString{kMessage}, v.trace_hex, v.span_hex, JsonString{v.tenant_id}, JsonString{v.session_id},
                   0.25, JsonString{"success"}, n++);
    benchmark::DoNotOptimize(payload.data());
  }
}
BENCHMARK(BM_FormatPayload_Spdlog);

// The first line of `path` with the timestamp's value blanked out.
std::string first_line_without_time(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return {};
  std::array<char, 1024> buf{};
  std::string line = std::fgets(buf.data(), buf.size(), f) != nullptr ? buf.data() : "";
  std::fclose(f);
  constexpr std::string_view kKey = R"("@timestamp":")";
  std::size_t begin = line.find(kKey);
  if (begin != std::string::npos) {
    begin += kKey.size();
    line.erase(begin, line.find('"', begin) - begin);
  }
  return line;
}

// Both loggers must write the same line, or the comparison means nothing: check before measuring.
bool same_line_shape() {
  const std::string path = sink_path(SinkKind::file);
  const LineValues values(0);
  std::remove(path.c_str());
  {
    tt::LoggerOptions options;
    options.path = path;
    tt::Logger logger(options);
    log_ours(logger, values, 42);
  }
  const std::string ours = first_line_without_time(path);
  std::remove(path.c_str());
  {
    auto pool = std::make_shared<spdlog::details::thread_pool>(16, 1);
    auto logger = make_spdlog(path, pool);
    log_spdlog(*logger, values, 42);
    logger.reset();
    pool.reset();
  }
  const std::string theirs = first_line_without_time(path);
  std::remove(path.c_str());
  if (ours != theirs || ours.empty()) {
    std::fprintf(stderr, "log_bench: the two loggers write different lines:\n  ours:   %s  spdlog: %s", ours.c_str(),
                 theirs.c_str());
    return false;
  }
  std::printf("line (%zu bytes, timestamp blanked): %s", ours.size(), ours.c_str());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (!same_line_shape()) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
