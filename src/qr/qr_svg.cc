#include "qr/qr_svg.h"

#include <qrencode.h>

#include <cerrno>
#include <memory>

namespace tgpulse::qr {
namespace {

struct QrcodeFree {
  void operator()(QRcode* code) const noexcept { QRcode_free(code); }
};

bool is_hex_color(std::string_view c) {
  if (c.size() != 4 && c.size() != 7) return false;
  if (c.front() != '#') return false;
  for (char ch : c.substr(1)) {
    const bool hex = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
    if (!hex) return false;
  }
  return true;
}

}  // namespace

Result<std::string> render_qr_svg(std::string_view text, const QrSvgOptions& options) {
  if (text.empty()) return Error(Errc::invalid_argument, "QR text is empty");
  if (text.find('\0') != std::string_view::npos) return Error(Errc::invalid_argument, "QR text contains a NUL byte");
  if (options.quiet_zone < 0 || options.quiet_zone > 64) {
    return Error(Errc::invalid_argument, "quiet_zone must be 0..64 modules");
  }
  if (options.module_size_px < 0 || options.module_size_px > 1000) {
    return Error(Errc::invalid_argument, "module_size_px must be 0..1000");
  }
  if (!is_hex_color(options.dark_color) || !is_hex_color(options.light_color)) {
    return Error(Errc::invalid_argument, "colours must be #rgb or #rrggbb");
  }

  const std::string c_text(text);  // NUL-terminated for the C API
  errno = 0;
  std::unique_ptr<QRcode, QrcodeFree> code(QRcode_encodeString(c_text.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1));
  if (!code) {
    if (errno == ERANGE) return Error(Errc::invalid_argument, "QR text is too long for a QR code");
    return Error(Errc::internal, "QR encoder failed");
  }

  const int width = code->width;
  const int size = width + 2 * options.quiet_zone;
  const std::string size_str = std::to_string(size);
  std::string svg;
  svg.reserve(static_cast<std::size_t>(width) * static_cast<std::size_t>(width) + 400);
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + size_str + ' ' + size_str + '"';
  if (options.module_size_px > 0) {
    const std::string px = std::to_string(size * options.module_size_px);
    svg += " width=\"" + px + "\" height=\"" + px + '"';
  }
  svg += " shape-rendering=\"crispEdges\" role=\"img\" aria-label=\"QR code\">";
  svg += "<rect width=\"" + size_str + "\" height=\"" + size_str + "\" fill=\"" + options.light_color + "\"/>";
  svg += "<path fill=\"" + options.dark_color + "\" d=\"";
  // One closed rectangle per horizontal run of dark modules: M x y h len v1 h -len z.
  const unsigned char* data = code->data;
  for (int y = 0; y < width; ++y) {
    int x = 0;
    while (x < width) {
      if ((data[y * width + x] & 1) == 0) {
        ++x;
        continue;
      }
      const int start = x;
      while (x < width && (data[y * width + x] & 1) != 0) ++x;
      const int run = x - start;
      svg += 'M';
      svg += std::to_string(start + options.quiet_zone);
      svg += ' ';
      svg += std::to_string(y + options.quiet_zone);
      svg += 'h';
      svg += std::to_string(run);
      svg += "v1h-";
      svg += std::to_string(run);
      svg += 'z';
    }
  }
  svg += "\"/></svg>";
  return svg;
}

}  // namespace tgpulse::qr
