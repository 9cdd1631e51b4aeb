#include "mas/speech/speech.hpp"

namespace mas::speech {

namespace {

void put16(std::string& out, std::uint16_t v) {
  out.push_back(static_cast<char>(v & 0xFF));
  out.push_back(static_cast<char>(v >> 8));
}

void put32(std::string& out, std::uint32_t v) {
  for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<char>((v >> shift) & 0xFF));
}

}  // namespace

std::string to_wav(const audio& a) {
  constexpr std::uint16_t channels = 1;
  constexpr std::uint16_t bits = 16;
  const auto rate = static_cast<std::uint32_t>(a.sample_rate);
  const auto data_bytes = static_cast<std::uint32_t>(a.samples.size() * sizeof(std::int16_t));
  std::string out;
  out.reserve(44 + data_bytes);
  out += "RIFF";
  put32(out, 36 + data_bytes);
  out += "WAVEfmt ";
  put32(out, 16);  // PCM fmt chunk size
  put16(out, 1);   // format: PCM
  put16(out, channels);
  put32(out, rate);
  put32(out, rate * channels * bits / 8);  // byte rate
  put16(out, channels * bits / 8);         // block align
  put16(out, bits);
  out += "data";
  put32(out, data_bytes);
  for (const auto s : a.samples) put16(out, static_cast<std::uint16_t>(s));  // little-endian, as RIFF requires
  return out;
}

}  // namespace mas::speech
