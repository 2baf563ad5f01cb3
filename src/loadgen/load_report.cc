#include "loadgen/load_report.h"

#include <fmt/format.h>

namespace tgpulse::loadgen {
namespace {

nlohmann::json quantiles_json(const Quantiles& q, bool with_max_mean) {
  nlohmann::json j{{"p50", q.p50}, {"p90", q.p90}, {"p99", q.p99}};
  if (with_max_mean) {
    j["max"] = q.max;
    j["mean"] = q.mean;
  }
  return j;
}

std::string ms(double seconds) { return fmt::format("{:.1f} ms", seconds * 1000); }

}  // namespace

nlohmann::json LoadReport::to_json() const {
  nlohmann::json j{{"duration_s", duration_s},
                   {"target_rate", target_rate},
                   {"sent", sent},
                   {"answered", answered},
                   {"ok", ok},
                   {"flood_wait", flood_wait},
                   {"throttled", throttled},
                   {"errors", errors},
                   {"transport_errors", transport_errors},
                   {"goodput_rps", goodput_rps()},
                   {"latency_s", quantiles_json(latency_s, true)},
                   {"service", nullptr}};
  if (service) {
    j["service"] = {{"requests_total", service->requests_total},
                    {"floodwait_total", service->floodwait_total},
                    {"floodwait_ratio", service->floodwait_ratio()},
                    {"rate_limit_hits_total", service->rate_limit_hits_total},
                    {"throttle_delay_s", quantiles_json(service->throttle_delay_s, false)}};
  }
  return j;
}

std::string LoadReport::to_text() const {
  std::string out;
  out += fmt::format("duration      {:.1f} s at a target of {:.1f} req/s\n", duration_s, target_rate);
  out += fmt::format("requests      {} sent, {} answered: {} ok, {} flood_wait (429), {} throttled (429), "
                     "{} other errors, {} without answer\n",
                     sent, answered, ok, flood_wait, throttled, errors, transport_errors);
  out += fmt::format("goodput       {:.1f} req/s\n", goodput_rps());
  out += fmt::format("latency       p50 {}  p90 {}  p99 {}  max {}\n", ms(latency_s.p50), ms(latency_s.p90),
                     ms(latency_s.p99), ms(latency_s.max));
  if (service) {
    out += fmt::format("service       {} sent to Telegram, {} FloodWaits: ratio {:.2f}%, {} rate-limit hits\n",
                       service->requests_total, service->floodwait_total, service->floodwait_ratio() * 100,
                       service->rate_limit_hits_total);
    out += fmt::format("throttle      delay p50 {}  p90 {}  p99 {}\n", ms(service->throttle_delay_s.p50),
                       ms(service->throttle_delay_s.p90), ms(service->throttle_delay_s.p99));
  } else {
    out += "service       /metrics could not be read: no FloodWait ratio or throttle delays\n";
  }
  return out;
}

}  // namespace tgpulse::loadgen
