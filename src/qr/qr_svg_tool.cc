// tgpulse-qr-svg: writes the QR code of its argument as SVG to stdout (render_qr_svg with default
// options). Used by tests that need the service's exact QR rendering without the service.
#include <cstdio>
#include <string_view>

#include "qr/qr_svg.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fputs("usage: tgpulse-qr-svg TEXT\n", stderr);
    return 2;
  }
  auto svg = tgpulse::qr::render_qr_svg(std::string_view(argv[1]));
  if (!svg.ok()) {
    std::fprintf(stderr, "tgpulse-qr-svg: %s\n", svg.error().to_string().c_str());
    return 1;
  }
  std::fwrite(svg->data(), 1, svg->size(), stdout);
  return 0;
}
