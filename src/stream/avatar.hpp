#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace stream {

/// An sRGB colour as a designer would name it; frames store it as B,G,R,X.
struct rgb {
  std::uint8_t r = 0;
  std::uint8_t g = 0;
  std::uint8_t b = 0;
  friend bool operator==(const rgb&, const rgb&) = default;
};

/// The hair silhouette: the cue that tells the personas apart even in a thumbnail.
enum class hair_style : std::uint8_t { bob, long_hair };

/// The shirt's neckline: a second cue that survives a low bitrate.
enum class neckline : std::uint8_t { crew, v_neck };

/// How a persona looks: colours and a couple of style switches, so Anne and Maya are told apart at a glance.
struct look {
  rgb skin{214, 172, 140};
  rgb hair{92, 82, 74};
  rgb iris{96, 92, 88};
  rgb lips{176, 116, 110};
  rgb shirt{128, 136, 146};
  rgb background_top{222, 224, 226};
  rgb background_bottom{178, 182, 188};
  hair_style hair_cut = hair_style::bob;
  neckline collar = neckline::crew;
  double worry = 0;  ///< 0 at ease .. 1 worried: raises the inner brow ends and flattens the smile
  friend bool operator==(const look&, const look&) = default;
};

/// The look of a persona id ("anne-palmer", "maya-pena"); any other id gets a neutral default.
look look_for(std::string_view persona_id);

/// The animated state for one frame.
struct pose {
  double t = 0;           ///< seconds since the stream started: drives blink, breathing, slight head sway
  double mouth_open = 0;  ///< 0 closed .. 1 wide open (from the voice envelope)
};

/// How closed the eyelids are at time t (0 open .. 1 shut). Blinks follow a hashed schedule: one blink starts in
/// [4k + 1.5, 4k + 2.5) s for every k >= 0 (so 3-5 s apart) and lasts 160 ms, shut for 40 ms in the middle so
/// that a 30 fps stream always shows one fully closed frame.
double eyelid_closure(double t) noexcept;

/// Draws a stylised head-and-shoulders character. The background, hanging hair, neck and shirt are rendered once
/// into a cache; the head is pre-rendered at 16 quarter-pixel offsets (so the sway moves smoothly without
/// resampling); a frame is then row copies (the shoulders interpolated between rows for sub-pixel breathing), one
/// run-length blit of the head, and the eyes and mouth drawn live (~0.4 ms at 1280x720 with -O2). Construction does
/// the pre-rendering (~0.2 s at 720p, ~0.4 s at 1080p with -O2; several times that in -O0 builds). The face sits in
/// the upper 60% of the frame; the bottom 18% holds only shirt, so a caption bar can cover it.
class avatar_renderer {
 public:
  /// Any even size from 160x120 to 1920x1080; anything else is a programmer error (std::invalid_argument).
  avatar_renderer(int width, int height, look l);

  /// Draws one frame into `bgrx` (width*height*4 bytes, row stride width*4, byte order B,G,R,X as GStreamer's
  /// video/x-raw,format=BGRx; X is written as 255): a pleasant stylised head-and-shoulders character, centred,
  /// with idle motion. Same inputs, same bytes. Throws std::invalid_argument when the span has the wrong size.
  void render(const pose& p, std::span<std::uint8_t> bgrx) const;

  int width() const noexcept { return width_; }
  int height() const noexcept { return height_; }

 private:
  /// The head at one quarter-pixel offset: premultiplied B,G,R,A plus the runs that are worth touching per row.
  struct head_sprite {
    struct run {
      int begin = 0;
      int end = 0;
      bool opaque = false;  ///< copied as is; otherwise blended
    };
    std::vector<std::uint8_t> pixels;
    std::vector<run> runs;
    std::vector<std::size_t> row_first_run;  ///< row r's runs are [row_first_run[r], row_first_run[r + 1])
  };

  void build_backdrop();
  head_sprite build_head(int phase_x, int phase_y) const;
  void copy_backdrop(int lift_256, std::span<std::uint8_t> frame) const;
  void blit_head(const head_sprite& head, int dx, int dy, std::span<std::uint8_t> frame) const;
  void draw_face_features(double head_x, double head_y, double closure, double gaze_x, double gaze_y, double mouth,
                          std::span<std::uint8_t> frame) const;

  int width_;
  int height_;
  look look_;
  double scale_;     ///< pixels per design unit (the design is 720 units tall, 960 wide)
  double origin_x_;  ///< pixel x of design x = 0 (the character's centre line)
  double origin_y_;  ///< pixel y of design y = 0 (the top of the 720-unit design)
  int backdrop_rows_;
  int band_top_;  ///< first row that moves with breathing (shoulders and below)
  int band_x0_;   ///< the columns that move with it (the body; the background beside it needs no shift)
  int band_x1_;
  std::vector<std::uint8_t> backdrop_;
  int head_x0_ = 0;
  int head_y0_ = 0;
  int head_w_ = 0;
  int head_h_ = 0;
  std::vector<head_sprite> heads_;  ///< index phase_y * 4 + phase_x
};

/// Frame counter stamp, for measuring render-to-display latency in the page. Layout, with
/// c = counter_cell_size(width, height) (10 px at 1280x720, 15 at 1920x1080, 4 at 320x180 and 160x120):
///  - the stamp covers x in [0, 37c), y in [0, 3c), all black except the cells below;
///  - one row of 35 square cells at y in [c, 2c); cell k (0..34) spans x in [(k + 1)c, (k + 2)c);
///  - cells 0, 1, 2 are the start marker: white, black, white;
///  - cell 3 + i (i = 0..31) is bit 31 - i of the value (most significant first): white = 1, black = 0.
/// To read it back (draw the video at its intrinsic size into a canvas first), sample the pixel at
/// x = (k + 1) * c + floor(c / 2), y = c + floor(c / 2) for each cell and call it white when (R + G + B) / 3 >= 128;
/// the stamp is present when the marker reads white, black, white, and the border reads black at the pixel
/// (floor(c / 2), same y) and straight above and below each marker cell (y = floor(c / 2) and 2c + floor(c / 2)). In
/// JS: `const c = Math.min(Math.max(4, Math.floor(h / 72)), Math.floor(w / 37));`.
int counter_cell_size(int width, int height) noexcept;

/// Draws `value` as the stamp described above over the top-left corner of a B,G,R,X frame.
void stamp_counter(std::span<std::uint8_t> bgrx, int width, int height, std::uint32_t value);

/// The value of a stamp, or nothing when the frame carries none (or the span does not match the size).
std::optional<std::uint32_t> read_counter(std::span<const std::uint8_t> bgrx, int width, int height);

/// Mouth opening from the voice: feed the PCM (signed 16-bit mono) as it is played, read the opening once per frame.
/// The level is the RMS of 10 ms blocks, followed with a 12 ms attack and a 45 ms release (slow enough to look
/// smooth, fast enough to close between syllables), mapped from -45..-15 dBFS onto 0..1.
class mouth_follower {
 public:
  explicit mouth_follower(int sample_rate);

  /// Adds samples in playback order; may be any length, blocks continue across calls.
  void feed(std::span<const std::int16_t> samples);

  /// 0..1: 0 for silence, about 1 for loud speech.
  double opening() const noexcept;

  /// Lets the mouth close when no audio is queued: releases as if `elapsed_s` of silence had been played
  /// (by default one frame at 30 fps) and drops any partial block.
  void decay_to_silence(double elapsed_s = 1.0 / 30);

 private:
  std::size_t block_;  ///< samples per 10 ms block
  double attack_;      ///< per-block smoothing factors
  double release_;
  double sum_squares_ = 0;
  std::size_t count_ = 0;
  double level_ = 0;  ///< smoothed RMS, 0..1 of full scale
};

}  // namespace stream
