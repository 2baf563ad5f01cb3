// tgpulse-load: the load generator as a program of its own (the same as `tgpulse load`).
#include "loadgen/run_load.h"

int main(int argc, char** argv) { return tgpulse::loadgen::run_load(argc, argv); }
