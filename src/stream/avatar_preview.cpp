// avatar_preview: writes PNG stills of every persona (rest, talking, blinking), for eyeballing the renderer.
// Usage: avatar_preview [out_dir=/tmp] [width=1280] [height=720]
#include "stream/avatar.hpp"

#include <array>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

std::uint32_t crc32(const std::uint8_t* p, std::size_t n, std::uint32_t crc = 0xffffffffU) {
  for (std::size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1U) ^ (0xedb88320U & (0U - (crc & 1U)));
  }
  return crc;
}

void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> static_cast<unsigned>(s)));
}

void chunk(std::vector<std::uint8_t>& png, const char* type, const std::vector<std::uint8_t>& data) {
  put32(png, static_cast<std::uint32_t>(data.size()));
  const std::size_t start = png.size();
  png.insert(png.end(), type, type + 4);
  png.insert(png.end(), data.begin(), data.end());
  put32(png, ~crc32(png.data() + start, png.size() - start));
}

/// An RGB PNG whose zlib stream uses stored (uncompressed) blocks: no compressor needed, any viewer reads it.
bool write_png(const std::string& path, const std::vector<std::uint8_t>& bgrx, int width, int height) {
  std::vector<std::uint8_t> raw;
  raw.reserve(static_cast<std::size_t>(height) * (static_cast<std::size_t>(width) * 3 + 1));
  for (int y = 0; y < height; ++y) {
    raw.push_back(0);  // filter: none
    for (int x = 0; x < width; ++x) {
      const std::uint8_t* px =
          bgrx.data() +
          (static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x)) * 4;
      raw.push_back(px[2]);
      raw.push_back(px[1]);
      raw.push_back(px[0]);
    }
  }
  std::vector<std::uint8_t> z{0x78, 0x01};
  std::uint32_t a = 1;
  std::uint32_t b = 0;
  for (const std::uint8_t v : raw) {
    a = (a + v) % 65521U;
    b = (b + a) % 65521U;
  }
  for (std::size_t i = 0; i < raw.size() || i == 0; i += 65535) {
    const std::size_t n = std::min<std::size_t>(65535, raw.size() - i);
    z.push_back(i + n >= raw.size() ? 1 : 0);
    z.push_back(static_cast<std::uint8_t>(n & 0xffU));
    z.push_back(static_cast<std::uint8_t>(n >> 8U));
    z.push_back(static_cast<std::uint8_t>(~n & 0xffU));
    z.push_back(static_cast<std::uint8_t>((~n >> 8U) & 0xffU));
    z.insert(z.end(), raw.begin() + static_cast<std::ptrdiff_t>(i), raw.begin() + static_cast<std::ptrdiff_t>(i + n));
  }
  put32(z, (b << 16U) | a);
  std::vector<std::uint8_t> png{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<std::uint8_t> ihdr;
  put32(ihdr, static_cast<std::uint32_t>(width));
  put32(ihdr, static_cast<std::uint32_t>(height));
  ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});
  chunk(png, "IHDR", ihdr);
  chunk(png, "IDAT", z);
  chunk(png, "IEND", {});
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(png.data()), static_cast<std::streamsize>(png.size()));
  return static_cast<bool>(f);
}

/// The first time after `from` at which the eyes are fully shut.
double first_blink(double from) {
  for (double t = from;; t += 0.001) {
    if (stream::eyelid_closure(t) >= 1) return t;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "/tmp";
  const int width = argc > 2 ? std::stoi(argv[2]) : 1280;
  const int height = argc > 3 ? std::stoi(argv[3]) : 720;
  int failures = 0;
  for (const char* id : {"anne-palmer", "maya-pena", "default"}) {
    const stream::avatar_renderer r(width, height, stream::look_for(id));
    std::vector<std::uint8_t> frame(static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 4);
    const std::array<std::pair<const char*, stream::pose>, 3> stills{{
        {"", {0.5, 0.0}},
        {"-talk", {0.5, 0.75}},
        {"-blink", {first_blink(0), 0.2}},
    }};
    for (const auto& [suffix, p] : stills) {
      r.render(p, frame);
      const std::string path = dir + "/avatar-" + id + suffix + ".png";
      if (write_png(path, frame, width, height)) {
        std::cout << path << '\n';
      } else {
        std::cerr << "cannot write " << path << '\n';
        ++failures;
      }
    }
  }
  return failures == 0 ? 0 : 1;
}
