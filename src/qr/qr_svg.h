// render_qr_svg: a QR code as a compact, self-contained SVG image — for the login link
// (tg://login?token=...) served at .../qr.svg and shown by the login page.
//
// The text is encoded by libqrencode in 8-bit mode with error correction level M, at the smallest
// version that fits. The SVG has a viewBox in module units (so it scales to any size without blur),
// a light background covering the quiet zone, and all dark modules in one <path> (one rectangle per
// horizontal run), with shape-rendering="crispEdges". The text (a credential) is never put into the
// SVG as text nor into error messages.
//
// Thread-safety: a pure function; thread-safe (libqrencode's encoder is reentrant).
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace tgpulse::qr {

struct QrSvgOptions {
  // Modules of light margin around the code. Default 4, the minimum the QR standard asks for;
  // scanners read less reliably with less.
  int quiet_zone = 4;
  // The width/height attributes are (modules + 2 * quiet_zone) * module_size_px. Default 8 px, a
  // comfortable size on a phone; 0 leaves width/height out so the SVG fills its container.
  int module_size_px = 8;
  // Colours as "#rgb" or "#rrggbb". Defaults black on white: the highest contrast, what every
  // scanner reads.
  std::string dark_color = "#000000";
  std::string light_color = "#ffffff";
};

// Errc::invalid_argument: empty text, a NUL byte in it, text too long for a QR code (over ~2,300
// bytes at level M), or bad options. Errc::internal if the encoder fails otherwise.
Result<std::string> render_qr_svg(std::string_view text, const QrSvgOptions& options = {});

}  // namespace tgpulse::qr
