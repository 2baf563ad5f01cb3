// The C exports of libtdsim.so: the five functions of TDLib's td_json_client.h, served by one
// process-wide Simulator created on first use. The profile comes from TDSIM_PROFILE (a YAML/JSON file;
// the built-in defaults without it), the control interface starts when TDSIM_CONTROL_ADDR is set, and
// TDSIM_WORLD_DIR names the directory where processes sharing it compare their auth keys.
// Configuration problems are reported once on stderr and tdsim continues with the defaults.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "tdsim/control_server.h"
#include "tdsim/simulator.h"

namespace {

using tgpulse::tdsim::ControlServer;
using tgpulse::tdsim::Profile;
using tgpulse::tdsim::Simulator;

struct Instance {
  std::unique_ptr<Simulator> simulator;
  std::unique_ptr<ControlServer> control;
};

Simulator& simulator() {
  // Intentionally leaked: TDLib's functions may be called from other threads during process exit.
  static Instance* instance = [] {
    auto* inst = new Instance();
    Profile profile = Profile::defaults();
    if (const char* path = std::getenv("TDSIM_PROFILE"); path != nullptr && *path != '\0') {
      auto loaded = Profile::load_file(path);
      if (loaded.ok()) {
        profile = loaded.value();
      } else {
        std::fprintf(stderr, "tdsim: %s; using the default profile\n", loaded.error().message.c_str());
      }
    }
    const char* world = std::getenv("TDSIM_WORLD_DIR");
    inst->simulator = std::make_unique<Simulator>(profile, world == nullptr ? std::string() : std::string(world));
    if (const char* addr = std::getenv("TDSIM_CONTROL_ADDR"); addr != nullptr && *addr != '\0') {
      inst->control = std::make_unique<ControlServer>(*inst->simulator);
      auto started = inst->control->start(addr);
      if (!started.ok()) std::fprintf(stderr, "tdsim: control interface disabled: %s\n", started.error().message.c_str());
    }
    return inst;
  }();
  return *instance->simulator;
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int td_create_client_id() { return simulator().create_client_id(); }

__attribute__((visibility("default"))) void td_send(int client_id, const char* request) {
  simulator().send(client_id, request == nullptr ? "" : request);
}

__attribute__((visibility("default"))) const char* td_receive(double timeout) {
  return simulator().receive(timeout);
}

__attribute__((visibility("default"))) const char* td_execute(const char* request) {
  return simulator().execute(request == nullptr ? "" : request);
}

__attribute__((visibility("default"))) void td_set_log_message_callback(int max_verbosity_level,
                                                                        void (*callback)(int, const char*)) {
  simulator().set_log_message_callback(max_verbosity_level, callback);
}

}  // extern "C"
