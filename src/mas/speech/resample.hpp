#pragma once
#include "mas/speech/speech.hpp"

namespace mas::speech {

/// The highest rate resample() takes in or gives out: anything above is a corrupt header, not audio.
inline constexpr int max_sample_rate = 192'000;

/// `in` converted to `rate` Hz by windowed-sinc interpolation, low-passed below the lower rate's Nyquist frequency
/// so that downsampling does not fold high frequencies back into speech. The result spans the same time:
/// ceil(n * rate / in.sample_rate) samples. errc::invalid_argument for a rate outside 1..max_sample_rate.
core::result<audio> resample(const audio& in, int rate);

}  // namespace mas::speech
