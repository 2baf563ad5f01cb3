// render_qr_svg: the SVG is well-formed in the ways a browser needs, and the code in it scans back to
// exactly the text — read by the test's own interpreter of the path, rasterised to a PGM and decoded
// by zbarimg (Debian zbar-tools), and rasterised by headless Chromium when it is installed.
#include "qr/qr_svg.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/temp_dir.h"

namespace tgpulse::qr {
namespace {

namespace fs = std::filesystem;

const std::string kLoginLink = "tg://login?token=AQKtbV9nZ2VyX3Rva2VuX2Zvcl90ZXN0c19vbmx5X25vdF9yZWFsX3g5";

std::string run(const std::string& command, int* exit_code) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    *exit_code = -1;
    return out;
  }
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  *exit_code = ::pclose(pipe);
  return out;
}

bool have_program(const std::string& name) {
  int rc = 0;
  run("command -v " + name + " >/dev/null 2>&1", &rc);
  return rc == 0;
}

// The square image an SVG of this shape draws: its viewBox size and which unit cells its path fills.
// Interprets M (absolute), h, v (relative) and z; every subpath is taken as the axis-aligned rectangle
// spanned by the points it visits, which is what a QR renderer of runs draws.
struct Raster {
  int size = 0;
  std::vector<bool> dark;  // size * size, row-major
};

Raster interpret(const std::string& svg) {
  Raster r;
  // Plain searching, not std::regex: it recurses per character, too deep for a long path.
  const std::size_t view_box = svg.find("viewBox=\"0 0 ");
  EXPECT_NE(view_box, std::string::npos);
  if (view_box == std::string::npos) return r;
  std::istringstream dims(svg.substr(view_box + 13, 20));
  int height = 0;
  dims >> r.size >> height;
  EXPECT_GT(r.size, 0);
  EXPECT_EQ(r.size, height);
  if (r.size <= 0) return r;
  r.dark.assign(static_cast<std::size_t>(r.size * r.size), false);
  const std::size_t tag = svg.find("<path");
  const std::size_t attr = tag == std::string::npos ? tag : svg.find(" d=\"", tag);
  EXPECT_NE(attr, std::string::npos);
  if (attr == std::string::npos) return r;
  const std::size_t begin = attr + 4;
  const std::string path = svg.substr(begin, svg.find('"', begin) - begin);
  std::size_t i = 0;
  int x = 0, y = 0, min_x = 0, max_x = 0, min_y = 0, max_y = 0;
  auto number = [&]() {
    std::size_t used = 0;
    const int v = std::stoi(path.substr(i), &used);
    i += used;
    return v;
  };
  auto visit = [&]() {
    min_x = std::min(min_x, x);
    max_x = std::max(max_x, x);
    min_y = std::min(min_y, y);
    max_y = std::max(max_y, y);
  };
  while (i < path.size()) {
    const char cmd = path[i++];
    if (cmd == ' ') continue;
    if (cmd == 'M') {
      x = number();
      while (path[i] == ' ' || path[i] == ',') ++i;
      y = number();
      min_x = max_x = x;
      min_y = max_y = y;
    } else if (cmd == 'h') {
      x += number();
      visit();
    } else if (cmd == 'v') {
      y += number();
      visit();
    } else if (cmd == 'z' || cmd == 'Z') {
      for (int yy = min_y; yy < max_y; ++yy) {
        for (int xx = min_x; xx < max_x; ++xx) {
          if (xx >= 0 && yy >= 0 && xx < r.size && yy < r.size) r.dark[static_cast<std::size_t>(yy * r.size + xx)] = true;
        }
      }
    } else {
      ADD_FAILURE() << "unexpected path command '" << cmd << "'";
      return r;
    }
  }
  return r;
}

// Writes the raster as a binary PGM, `scale` pixels per module.
void write_pgm(const Raster& r, const fs::path& file, int scale) {
  std::ofstream out(file, std::ios::binary);
  const int px = r.size * scale;
  out << "P5\n" << px << ' ' << px << "\n255\n";
  for (int y = 0; y < px; ++y) {
    for (int x = 0; x < px; ++x) {
      out.put(r.dark[static_cast<std::size_t>((y / scale) * r.size + x / scale)] ? '\0' : '\xff');
    }
  }
}

std::string zbar_decode(const fs::path& image) {
  int rc = 0;
  std::string out = run("zbarimg --quiet --raw '" + image.string() + "' 2>/dev/null", &rc);
  EXPECT_EQ(rc, 0) << "zbarimg found no code in " << image;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

TEST(QrSvgTest, ScansBackToExactlyTheText) {
  if (!have_program("zbarimg")) GTEST_SKIP() << "zbarimg (zbar-tools) is not installed";
  TempDir dir{"qr"};
  const std::vector<std::string> texts = {
      kLoginLink,
      "x",
      std::string(1200, 'Q') + "-end",  // a large version, many runs
  };
  for (const auto& text : texts) {
    auto svg = render_qr_svg(text);
    ASSERT_TRUE(svg.ok()) << svg.error().to_string();
    const Raster raster = interpret(*svg);
    ASSERT_GT(raster.size, 0);
    const fs::path pgm = dir.path() / "code.pgm";
    write_pgm(raster, pgm, 4);
    EXPECT_EQ(zbar_decode(pgm), text);
  }
}

TEST(QrSvgTest, HasAQuietZoneOfFourModulesAndAnExactViewBox) {
  auto svg = render_qr_svg(kLoginLink);
  ASSERT_TRUE(svg.ok());
  const Raster r = interpret(*svg);
  // A QR code of version v is 17 + 4v modules wide; plus 4 light modules on each side.
  ASSERT_EQ((r.size - 8 - 17) % 4, 0) << r.size;
  int min_dark = r.size, max_dark = -1;
  for (int y = 0; y < r.size; ++y) {
    for (int x = 0; x < r.size; ++x) {
      if (r.dark[static_cast<std::size_t>(y * r.size + x)]) {
        min_dark = std::min({min_dark, x, y});
        max_dark = std::max({max_dark, x, y});
      }
    }
  }
  EXPECT_EQ(min_dark, 4);             // the finder patterns touch the quiet zone's edge
  EXPECT_EQ(max_dark, r.size - 1 - 4);
  EXPECT_NE(svg->find("shape-rendering=\"crispEdges\""), std::string::npos);
  EXPECT_NE(svg->find("width=\"" + std::to_string(r.size * 8) + "\""), std::string::npos);
  EXPECT_NE(svg->find("<rect width=\"" + std::to_string(r.size) + "\" height=\"" + std::to_string(r.size) +
                      "\" fill=\"#ffffff\"/>"),
            std::string::npos);
}

TEST(QrSvgTest, OnePathNoTextAndOptionalSize) {
  QrSvgOptions options;
  options.module_size_px = 0;
  options.quiet_zone = 2;
  options.dark_color = "#123";
  auto svg = render_qr_svg(kLoginLink, options);
  ASSERT_TRUE(svg.ok());
  const std::string svg_tag = svg->substr(0, svg->find('>'));
  EXPECT_EQ(svg_tag.find(" width="), std::string::npos) << svg_tag;
  EXPECT_EQ(svg_tag.find(" height="), std::string::npos) << svg_tag;
  EXPECT_EQ(svg->find("token="), std::string::npos);  // the link itself is not in the image as text
  std::size_t paths = 0;
  for (std::size_t at = svg->find("<path"); at != std::string::npos; at = svg->find("<path", at + 1)) ++paths;
  EXPECT_EQ(paths, 1u);
  EXPECT_NE(svg->find("fill=\"#123\""), std::string::npos);
  const Raster r = interpret(*svg);
  EXPECT_EQ((r.size - 4 - 17) % 4, 0) << r.size;
  EXPECT_LT(svg->size(), 12'000u);  // compact: a login link's code is a few kilobytes
}

TEST(QrSvgTest, RejectsWhatCannotBeEncoded) {
  EXPECT_EQ(render_qr_svg("").error().code, Errc::invalid_argument);
  EXPECT_EQ(render_qr_svg(std::string_view("a\0b", 3)).error().code, Errc::invalid_argument);
  auto too_long = render_qr_svg(std::string(3000, 'z'));
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.error().code, Errc::invalid_argument);
  EXPECT_EQ(too_long.error().message.find("zzz"), std::string::npos);
  QrSvgOptions bad_color;
  bad_color.dark_color = "red\"/><script>";
  EXPECT_EQ(render_qr_svg("x", bad_color).error().code, Errc::invalid_argument);
  QrSvgOptions bad_zone;
  bad_zone.quiet_zone = -1;
  EXPECT_EQ(render_qr_svg("x", bad_zone).error().code, Errc::invalid_argument);
}

// The SVG as a browser draws it: headless Chromium screenshots the image, zbarimg reads the PNG.
TEST(QrSvgTest, ChromiumRendersAScannableCode) {
  if (!have_program("zbarimg") || !have_program("chromium")) {
    GTEST_SKIP() << "chromium or zbarimg is not installed";
  }
  TempDir dir{"qr"};
  auto svg = render_qr_svg(kLoginLink);
  ASSERT_TRUE(svg.ok());
  const fs::path page = dir.path() / "qr.html";
  std::ofstream(page) << "<!doctype html><html><body style=\"margin:0;background:#fff\">" << *svg << "</body></html>";
  const fs::path png = dir.path() / "shot.png";
  int rc = 0;
  const std::string output = run("chromium --headless --no-sandbox --disable-gpu --hide-scrollbars "
                                 "--user-data-dir='" + (dir.path() / "profile").string() +
                                 "' --window-size=600,600 --screenshot='" + png.string() + "' 'file://" +
                                 page.string() + "' 2>&1",
                                 &rc);
  ASSERT_TRUE(fs::exists(png)) << "chromium made no screenshot (exit " << rc << "): " << output;
  EXPECT_EQ(zbar_decode(png), kLoginLink);
}

}  // namespace
}  // namespace tgpulse::qr
