// run_load: the `tgpulse load` command — parses its flags (argv[0] is the command name), runs a
// LoadGenerator on its own io_context, prints the text report on stdout (and the JSON report to
// --json FILE) and returns the process exit code: 0 done, 1 the run failed (set-up, service away),
// 2 bad flags. `tgpulse-load` is the same command as a program of its own.
//
//   tgpulse load --url http://127.0.0.1:8080 --control http://127.0.0.1:9100 --admin-token T
//                --tenants 2 --sessions 5 --mix getMe=5,getChats=3,sendMessage=1 --rate 50
//                --duration 30 --json report.json
//
// The admin token may also come from TGPULSE_ADMIN_TOKEN, the control URL from TDSIM_CONTROL_ADDR
// (host:port). Flags: see --help.
//
// Thread-safety: call from one thread; it blocks until the run is over.
#pragma once

namespace tgpulse::loadgen {

int run_load(int argc, char** argv);

}  // namespace tgpulse::loadgen
