#include "stream/speech.hpp"

#include <algorithm>
#include <cstring>

namespace stream {

namespace {

std::uint32_t le32(std::string_view b, std::size_t at) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(b[at])) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 1])) << 8 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 2])) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 3])) << 24;
}

std::uint16_t le16(std::string_view b, std::size_t at) {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(b[at]) | static_cast<unsigned char>(b[at + 1]) << 8);
}

}  // namespace

std::optional<pcm> decode_wav(std::string_view b) {
  if (b.size() < 12 || b.substr(0, 4) != "RIFF" || b.substr(8, 4) != "WAVE") return std::nullopt;
  int channels = 0;
  int rate = 0;
  int bits = 0;
  bool format_ok = false;
  for (std::size_t at = 12; at + 8 <= b.size();) {
    const auto id = b.substr(at, 4);
    const std::size_t size = le32(b, at + 4);
    const std::size_t body = at + 8;
    if (size > b.size() - body) {
      // espeak-ng and streaming writers leave the data size at its maximum: take what is there.
      if (id != "data") return std::nullopt;
    }
    if (id == "fmt ") {
      if (size < 16) return std::nullopt;
      format_ok = le16(b, body) == 1;  // integer PCM
      channels = le16(b, body + 2);
      rate = static_cast<int>(le32(b, body + 4));
      bits = le16(b, body + 14);
    } else if (id == "data") {
      if (!format_ok || bits != 16 || (channels != 1 && channels != 2) || rate <= 0) return std::nullopt;
      const std::size_t bytes = std::min(size, b.size() - body);
      const std::size_t frames = bytes / (2 * static_cast<std::size_t>(channels));
      pcm out;
      out.rate = rate;
      out.samples.resize(frames);
      for (std::size_t i = 0; i < frames; ++i) {
        if (channels == 1) {
          out.samples[i] = static_cast<std::int16_t>(le16(b, body + 2 * i));
        } else {
          const int l = static_cast<std::int16_t>(le16(b, body + 4 * i));
          const int r = static_cast<std::int16_t>(le16(b, body + 4 * i + 2));
          out.samples[i] = static_cast<std::int16_t>((l + r) / 2);
        }
      }
      return out;
    }
    at = body + size + (size & 1);  // chunks are padded to even sizes
  }
  return std::nullopt;
}

std::vector<std::int16_t> resample(std::span<const std::int16_t> in, int from_rate, int to_rate) {
  if (in.empty() || from_rate <= 0 || to_rate <= 0) return {};
  if (from_rate == to_rate) return {in.begin(), in.end()};
  const auto n = static_cast<std::size_t>(static_cast<double>(in.size()) * to_rate / from_rate);
  std::vector<std::int16_t> out(n);
  const double step = static_cast<double>(from_rate) / to_rate;
  for (std::size_t i = 0; i < n; ++i) {
    const double pos = static_cast<double>(i) * step;
    const auto k = static_cast<std::size_t>(pos);
    const double frac = pos - static_cast<double>(k);
    const double a = in[std::min(k, in.size() - 1)];
    const double c = in[std::min(k + 1, in.size() - 1)];
    out[i] = static_cast<std::int16_t>(a + (c - a) * frac);
  }
  return out;
}

}  // namespace stream
