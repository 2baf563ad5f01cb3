// A test fixture: a shared library exporting four of TDLib's five JSON functions (no
// td_set_log_message_callback), so the loader's missing-symbol error can be tested.
extern "C" {
__attribute__((visibility("default"))) int td_create_client_id() { return 1; }
__attribute__((visibility("default"))) void td_send(int, const char*) {}
__attribute__((visibility("default"))) const char* td_receive(double) { return nullptr; }
__attribute__((visibility("default"))) const char* td_execute(const char*) { return "{}"; }
}
