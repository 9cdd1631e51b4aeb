#include "stream/avatar.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

// Shapes are signed distances in design units (the character is drawn on a 960x720 design that is scaled to the
// frame); coverage is a 1 px ramp across the edge. Pixels come from IEEE double +, -, *, /, sqrt and floor only
// (sine and arc_tangent below stand in for libm), so -O0 and -O2 builds, and any x86-64 CPU, give the same bytes.

namespace stream {
namespace {

constexpr double two_pi = 6.283185307179586;
constexpr double design_height = 720;
constexpr double design_width = 960;
constexpr int min_width = 160;
constexpr int min_height = 120;
constexpr int max_width = 1920;
constexpr int max_height = 1080;
constexpr int sub_pixel_steps = 4;  ///< the head is pre-rendered at quarter-pixel offsets

// Where things are on the 720-unit design (x from the centre line, y from the top).
constexpr double face_y = 272;
constexpr double face_rx = 114;
constexpr double face_ry = 148;
constexpr double eye_x = 46;
constexpr double eye_y = 270;
constexpr double eye_half_width = 25;
constexpr double eye_upper = 14;  ///< lid height above the eye line when open
constexpr double eye_lower = 10;
constexpr double iris_radius = 11.5;
constexpr double pupil_radius = 5;
constexpr double mouth_y = 354;
constexpr double mouth_half_width = 25;  ///< at rest; a wide-open mouth is 5 units wider each side
constexpr double mouth_widen = 5;
constexpr double lip_overhang = 2.5;  ///< lips reach past the corners of the opening
constexpr double mouth_up = 5;        ///< how far the upper lip lifts, wide open
constexpr double mouth_down = 19;     ///< how far the jaw drops, wide open
constexpr double lip_up = 5;
constexpr double lip_down = 7.5;
constexpr double max_smile = 3.2;      ///< how far the corners lift (less with worry)
constexpr double shoulder_line = 442;  ///< rows from here down rise with breathing
constexpr double head_left = -172;     ///< the head sprite's extent: hair, face and bob
constexpr double head_right = 172;
constexpr double head_top = 96;
constexpr double head_bottom = 446;
constexpr double breath_lift = 1.6;      ///< design units the shoulders rise per breath
constexpr double body_half_width = 320;  ///< shirt and hanging hair stay within this of the centre line

double clamp01(double v) noexcept {
  return v < 0 ? 0 : (v > 1 ? 1 : v);
}
double lerp(double a, double b, double t) noexcept {
  return a + (b - a) * t;
}
double smoothstep(double e0, double e1, double v) noexcept {
  const double t = clamp01((v - e0) / (e1 - e0));
  return t * t * (3 - 2 * t);
}
double length(double x, double y) noexcept {
  return std::sqrt(x * x + y * y);
}

// libm picks FMA or SSE2 code for sin and atan2 depending on the CPU, and the two may differ in the last bit; these
// use only +, *, / and floor (exact IEEE everywhere), so a frame is the same bytes on every x86-64 machine.
constexpr double pi = 3.141592653589793;
constexpr double half_pi = 1.5707963267948966;

/// sin(x), |error| < 1e-9.
double sine(double x) noexcept {
  x -= two_pi * std::floor(x * (1 / two_pi) + 0.5);
  if (x > half_pi) {
    x = pi - x;
  } else if (x < -half_pi) {
    x = -pi - x;
  }
  // The Taylor series to x^13, by Horner's rule.
  constexpr double terms[] = {1.0 / 6227020800, -1.0 / 39916800, 1.0 / 362880, -1.0 / 5040, 1.0 / 120, -1.0 / 6, 1};
  const double x2 = x * x;
  double p = 0;
  for (const double c : terms) p = p * x2 + c;
  return x * p;
}

/// atan2(y, x), |error| < 1e-8.
double arc_tangent(double y, double x) noexcept {
  const double ax = std::abs(x);
  const double ay = std::abs(y);
  const double big = std::max(ax, ay);
  if (big == 0) return 0;
  double a = std::min(ax, ay) / big;
  double r = 0;
  constexpr double sqrt3 = 1.7320508075688772;
  if (a > 0.2679491924311227) {  // tan(pi / 12): shift by pi / 6 to keep the series short
    a = (a * sqrt3 - 1) / (a + sqrt3);
    r = pi / 6;
  }
  const double a2 = a * a;
  r += a * (1 + a2 * (-1.0 / 3 + a2 * (1.0 / 5 + a2 * (-1.0 / 7 + a2 * (1.0 / 9 + a2 * (-1.0 / 11 + a2 / 13))))));
  if (ay > ax) r = half_pi - r;
  if (x < 0) r = pi - r;
  return y < 0 ? -r : r;
}

struct colour {
  double r = 0;
  double g = 0;
  double b = 0;
};
colour to_colour(rgb c) noexcept {
  return {static_cast<double>(c.r), static_cast<double>(c.g), static_cast<double>(c.b)};
}
colour operator*(colour c, double k) noexcept {
  return {c.r * k, c.g * k, c.b * k};
}
colour mix(colour a, colour b, double t) noexcept {
  return {lerp(a.r, b.r, t), lerp(a.g, b.g, t), lerp(a.b, b.b, t)};
}
std::uint8_t to_byte(double v) noexcept {
  const double c = v < 0 ? 0 : (v > 255 ? 255 : v);
  return static_cast<std::uint8_t>(std::lround(c));
}

/// Premultiplied colour that layers are laid over, back to front.
struct paint {
  double r = 0;
  double g = 0;
  double b = 0;
  double a = 0;
  void over(colour c, double coverage) noexcept {
    if (coverage <= 0) return;
    const double keep = 1 - coverage;
    r = r * keep + c.r * coverage;
    g = g * keep + c.g * coverage;
    b = b * keep + c.b * coverage;
    a = a * keep + coverage;
  }
};

/// Signed distance to an axis-aligned ellipse; first-order accurate near the edge, which is all a 1 px ramp needs.
double ellipse_sd(double x, double y, double rx, double ry) noexcept {
  const double nx = x / rx;
  const double ny = y / ry;
  const double k0 = length(nx, ny);
  const double k1 = length(nx / rx, ny / ry);
  if (k1 < 1e-12) return -std::min(rx, ry);
  return k0 * (k0 - 1) / k1;
}

/// Signed distance to a box centred on the origin whose top corners are rounded by `top_r`, bottom ones by `bottom_r`.
double round_box_sd(double x, double y, double half_w, double half_h, double top_r, double bottom_r) noexcept {
  const double r = y < 0 ? top_r : bottom_r;
  const double qx = std::abs(x) - half_w + r;
  const double qy = std::abs(y) - half_h + r;
  return std::min(std::max(qx, qy), 0.0) + length(std::max(qx, 0.0), std::max(qy, 0.0)) - r;
}

/// Union that melts two shapes together over `k` units (no crease where shoulders meet the trapezius).
double smooth_union(double a, double b, double k) noexcept {
  const double h = clamp01(0.5 + 0.5 * (b - a) / k);
  return lerp(b, a, h) - k * h * (1 - h);
}

/// y = a x^2 + b x + c: brows, creases and lid lines are gentle curves through three points.
struct parabola {
  double a = 0;
  double b = 0;
  double c = 0;
  static parabola through(double x0, double y0, double x1, double y1, double x2, double y2) noexcept {
    parabola p;
    p.a = ((y2 - y0) / (x2 - x0) - (y1 - y0) / (x1 - x0)) / (x2 - x1);
    p.b = (y1 - y0) / (x1 - x0) - p.a * (x0 + x1);
    p.c = y0 - p.a * x0 * x0 - p.b * x0;
    return p;
  }
  double at(double x) const noexcept { return (a * x + b) * x + c; }
  double slope(double x) const noexcept { return 2 * a * x + b; }
};

/// A curved line whose width changes linearly from one end to the other, with round ends.
struct stroke {
  parabola curve;
  double x0 = 0;  ///< x0 < x1
  double x1 = 1;
  double w0 = 1;
  double w1 = 1;
  double sd(double x, double y) const noexcept {
    const double u = clamp01((x - x0) / (x1 - x0));
    const double half = lerp(w0, w1, u) / 2;
    if (x < x0 || x > x1) {
      const double xe = x < x0 ? x0 : x1;
      return length(x - xe, y - curve.at(xe)) - half;
    }
    const double s = curve.slope(x);
    return std::abs(y - curve.at(x)) / std::sqrt(1 + s * s) - half;
  }
};

/// Signed distance to the lens between an upper curve `top` and a lower curve `bottom` (given with slopes).
double lens_sd(double y, double top, double top_slope, double bottom, double bottom_slope) noexcept {
  const double d_top = (top - y) / std::sqrt(1 + top_slope * top_slope);
  const double d_bottom = (y - bottom) / std::sqrt(1 + bottom_slope * bottom_slope);
  return std::max(d_top, d_bottom);
}

/// SplitMix64's output function: cheap, and every input bit reaches every output bit.
std::uint64_t mix64(std::uint64_t z) noexcept {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30U)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27U)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31U);
}

/// A uniform number in [0, 1) fixed by (k, salt): the idle schedules are hashed, not random, so frames repeat.
double unit_hash(std::uint64_t k, std::uint64_t salt) noexcept {
  return static_cast<double>(mix64(k * 8 + salt) >> 11U) * (1.0 / 9007199254740992.0);
}

/// Times outside [0, max_t) read as 0: thirty years of idle motion is plenty, and it keeps the casts defined.
constexpr double max_t = 1e9;
double usable_time(double t) noexcept {
  return (t >= 0 && t < max_t) ? t : 0;
}

struct offset {
  double x = 0;
  double y = 0;
};

/// Where the eyes look: at the viewer half of the time, otherwise a glance a few units aside, changing every 2.7 s.
offset gaze_at(double t) noexcept {
  constexpr double slot_s = 2.7;
  constexpr double move_s = 0.09;
  auto target = [](std::uint64_t i) {
    if (unit_hash(i, 1) < 0.5) return offset{};
    return offset{(unit_hash(i, 2) * 2 - 1) * 3.2, (unit_hash(i, 3) * 2 - 1) * 1.4};
  };
  const double slot = std::floor(t / slot_s);
  const auto k = static_cast<std::uint64_t>(slot);
  const offset to = target(k);
  const offset from = k > 0 ? target(k - 1) : offset{};
  const double m = smoothstep(0, move_s, t - slot * slot_s);
  return {lerp(from.x, to.x, m), lerp(from.y, to.y, m)};
}

/// The character, resolved from a look into design-unit geometry and colours; all drawing goes through it.
class figure {
 public:
  figure(const look& l, double scale) : look_(l), scale_(scale) {
    skin_ = to_colour(l.skin);
    hair_ = to_colour(l.hair);
    hair_sheen_ = mix(hair_, colour{255, 238, 214}, 0.28);
    iris_ = to_colour(l.iris);
    lips_ = to_colour(l.lips);
    shirt_ = to_colour(l.shirt);
    brow_ = hair_ * 0.82;
    lash_ = mix(hair_ * 0.35, colour{28, 20, 18}, 0.6);
    const double w = clamp01(l.worry);
    smile_ = lerp(max_smile, 0.6, w);
    for (int side = 0; side < 2; ++side) {
      const double sx = side == 0 ? -1 : 1;
      // Inner end near the nose, outer end at the temple; worry lifts the inner end and lowers the outer one.
      const double inner_y = 236 - 7 * w;
      const double peak_y = 226 - 1.5 * w;
      const double outer_y = 235 + 3 * w;
      stroke brow;
      const double xi = 19 * sx;
      const double xp = 45 * sx;
      const double xo = 73 * sx;
      brow.curve = parabola::through(xi, inner_y, xp, peak_y, xo, outer_y);
      brow.x0 = std::min(xi, xo);
      brow.x1 = std::max(xi, xo);
      brow.w0 = side == 0 ? 2.4 : 7.0;  // thick at the inner end, tapering outwards
      brow.w1 = side == 0 ? 7.0 : 2.4;
      brows_[side] = brow;
      stroke crease;
      const double ex = eye_x * sx;
      crease.curve = parabola::through(ex - 21 * sx, eye_y - 15, ex, eye_y - 22, ex + 22 * sx, eye_y - 17);
      crease.x0 = ex - 22;
      crease.x1 = ex + 22;
      crease.w0 = 1.8;
      crease.w1 = 1.8;
      creases_[side] = crease;
    }
    nose_.curve = parabola::through(-11, 314, 0, 320, 11, 314);
    nose_.x0 = -11;
    nose_.x1 = 11;
    nose_.w0 = 2.6;
    nose_.w1 = 2.2;
  }

  /// Coverage of a pixel by a shape `d` design units away (negative inside): a 1 px ramp.
  double cov(double d) const noexcept { return clamp01(0.5 - d * scale_); }

  double face_sd(double x, double y) const noexcept {
    const double t = clamp01((y - face_y) / face_ry);
    const double narrow = 1 - 0.13 * t * t;  // the jaw tapers into the chin
    return ellipse_sd(x / narrow, y - face_y, face_rx, face_ry) * narrow;
  }

  /// The hair that moves with the head (the whole bob; the crown of long hair).
  double hair_sd(double x, double y) const noexcept {
    if (look_.hair_cut == hair_style::bob) {
      const double flare = 1 + 0.07 * smoothstep(300, 410, y);
      return round_box_sd(x / flare, y - 262, 146, 150, 138, 40);
    }
    return ellipse_sd(x, y - 258, 146, 152);
  }

  /// Long hair hanging behind the shoulders: drawn with the body, it does not sway.
  double long_hair_sd(double x, double y) const noexcept {
    // Straight down from the crown's widest point (so the outline flows on), fanning out a little lower.
    const double widen = 1 + 0.0009 * std::max(0.0, y - 330);
    return round_box_sd(x / widen, y - 393, 146, 235, 100, 30);
  }

  /// Distance to the outline of all the hair (the crown and what hangs from it), which sets the edge shading: the
  /// swaying crown and the still hair below measure it alike, so no seam shows where they meet.
  double outline_sd(double x, double y) const noexcept {
    if (look_.hair_cut != hair_style::long_hair) return hair_sd(x, y);
    return std::min(hair_sd(x, y), long_hair_sd(x, y));
  }

  /// Where the face shows through the hair: negative inside.
  double window_sd(double x, double y) const noexcept {
    if (look_.hair_cut == hair_style::bob) {
      const double sides = ellipse_sd(x, y - 310, 106, 190);
      const double fringe = 270 - length(x + 150, y + 50);  // a side-swept fringe, parted on the right
      return std::max(sides, fringe);
    }
    const double sides = ellipse_sd(x, y - 312, 104, 168);
    const double part = 6 - length(x * 0.5, y - 118);  // a soft centre parting
    return std::max(sides, part);
  }

  colour hair_colour(double x, double y, double depth) const noexcept {
    // Behind the jaw and neck the hair is in shadow; the outer edge rolls away from the light.
    const double inner = smoothstep(290, 350, y) * (1 - smoothstep(80, 128, std::abs(x)));
    double k = 1 - 0.34 * inner;
    k *= 0.88 + 0.12 * smoothstep(0, 12, depth);
    colour c = hair_ * k;
    // Fine strands combed down from the crown; only on a bob, whose hair all sways together (on long hair the
    // swaying crown and the still hair below would show the strands out of step).
    if (look_.hair_cut == hair_style::bob) {
      const double a = arc_tangent(x, y - 40);
      const double strand = sine(a * 90 + 2 * sine(a * 11));
      c = mix(c * (1 - 0.04 * std::max(0.0, -strand)), hair_sheen_ * k, 0.05 * std::max(0.0, strand));
    }
    // A soft sheen across the crown, brighter toward the light (upper left).
    const double nx = x / 150;
    const double ny = (y - 262) / 160;
    const double band = 1 - smoothstep(0, 0.22, std::abs(length(nx, ny) - 0.62));
    const double toward_light = smoothstep(0.0, 0.8, -(0.7 * nx + ny));
    return mix(c, hair_sheen_ * k, 0.32 * band * toward_light);
  }

  colour skin_colour(double x, double y) const noexcept {
    const double t = clamp01((y - face_y) / face_ry);
    const double narrow = 1 - 0.13 * t * t;
    const double r = length(x / narrow / face_rx, (y - face_y) / face_ry);
    double k = 1 - 0.15 * smoothstep(0.5, 1.02, r);
    k *= 1 + 0.045 * std::clamp(-(x + 0.6 * (y - face_y)) / 120, -1.0, 1.0);
    return skin_ * k;
  }

  colour face_colour(double x, double y, double front_hair_d) const noexcept {
    colour c = skin_colour(x, y);
    // The hair shades the forehead just below it.
    if (front_hair_d > 0) c = c * (1 - 0.12 * (1 - smoothstep(0, 12, front_hair_d)));
    // Cheeks.
    const double cheek = 1 - smoothstep(0, 30, length(std::abs(x) - 64, y - 322));
    c = mix(c, lips_, 0.16 * cheek);
    // Nose: a shadow on the side away from the light, and the soft line under its tip.
    const double side = 1 - smoothstep(0, 5, std::abs(x - 9));
    const double along = smoothstep(268, 290, y) * (1 - smoothstep(306, 314, y));
    c = c * (1 - 0.07 * side * along);
    if (std::abs(x) < 20 && y > 300 && y < 330) {
      c = mix(c, skin_ * 0.62, 0.55 * cov(nose_.sd(x, y)));
      const double nostril = ellipse_sd(std::abs(x) - 6.5, y - 316.5, 3.2, 1.9);
      c = mix(c, skin_ * 0.55, 0.3 * cov(nostril));
    }
    // Lid crease and brow on this side of the face.
    if (y > 200 && y < 265 && std::abs(x) > 8 && std::abs(x) < 90) {
      const int s = x < 0 ? 0 : 1;
      c = mix(c, skin_ * 0.7, 0.35 * cov(creases_[s].sd(x, y)));
      c = mix(c, brow_, 0.95 * cov(brows_[s].sd(x, y)));
    }
    return c;
  }

  /// The head, as it sways: hair behind the face, the face, then the hair in front of it (one colour for both
  /// hair layers, so they join without a seam; layers hidden under opaque ones are not evaluated).
  paint head(double x, double y) const noexcept {
    paint p;
    const double hair = hair_sd(x, y);
    const double hair_cov = cov(hair);
    const double front = std::max(hair, -window_sd(x, y));
    const double front_cov = cov(front);
    const double face_cov = front_cov >= 1 ? 0 : cov(face_sd(x, y));
    const bool back_shows = hair_cov > 0 && face_cov < 1 && front_cov < 1;
    const colour hc = (back_shows || front_cov > 0) ? hair_colour(x, y, -outline_sd(x, y)) : colour{};
    if (back_shows) p.over(hc, hair_cov);
    if (face_cov > 0) p.over(face_colour(x, y, front), face_cov);
    if (front_cov > 0) p.over(hc, front_cov);
    return p;
  }

  colour neck_colour(double x, double y) const noexcept {
    double k = 0.94 * (0.72 + 0.28 * smoothstep(400, 438, y));  // the chin's shadow
    k *= 1 - 0.09 * smoothstep(26, 48, std::abs(x)) * (1 - smoothstep(470, 505, y));
    return skin_ * k;
  }

  /// Background, hanging hair, neck and shirt at one point; `u` runs -1..1 across the frame, `v` 0..1 down it.
  colour body(double x, double y, double v, double u) const noexcept {
    colour c = mix(to_colour(look_.background_top), to_colour(look_.background_bottom), smoothstep(-0.1, 1.1, v));
    const double glow = 1 - smoothstep(0, 560, length(x, y - 260));
    c = mix(c, colour{255, 255, 255}, 0.12 * glow);
    const double corner = smoothstep(0.6, 1.5, length(u, v * 2 - 1));
    c = c * (1 - 0.1 * corner);
    if (std::abs(x) > body_half_width + 4 || y < 150) return c;  // nothing but background out here
    if (look_.hair_cut == hair_style::long_hair) {
      const double hair = long_hair_sd(x, y);
      const double hair_cov = cov(hair);
      if (hair_cov > 0) c = mix(c, hair_colour(x, y, -outline_sd(x, y)), hair_cov);
    }
    const double neck = round_box_sd(x, y - 425, 46, 105, 22, 22);
    const double neck_cov = cov(neck);
    if (neck_cov > 0) c = mix(c, neck_colour(x, y), neck_cov);
    // Shoulders slope down from the neck and round over into the arms.
    constexpr double shoulder_slope = 0.27;
    const double trapezius = (454 + shoulder_slope * std::abs(x) - y) / std::sqrt(1 + shoulder_slope * shoulder_slope);
    const double arms = round_box_sd(x, y - 840, 316, 400, 60, 0);
    const double shirt = -smooth_union(-trapezius, -arms, 70);
    const double shirt_cov = cov(shirt);
    if (shirt_cov <= 0) return c;
    double k = 1 - 0.13 * smoothstep(140, 320, std::abs(x));
    k *= 1 + 0.05 * (1 - smoothstep(480, 600, y));
    // A soft fold where the arms meet the body.
    k *= 1 - 0.05 * (1 - smoothstep(0, 26, std::abs(std::abs(x) - 252))) * smoothstep(540, 640, y);
    colour cloth = shirt_ * k;
    double opening = 0;
    if (look_.collar == neckline::crew) {
      opening = ellipse_sd(x, y - 476, 58, 40);
    } else {
      constexpr double slope = 1.55;
      opening = (y - 575 + std::abs(x) * slope) / std::sqrt(1 + slope * slope);
    }
    const double skin_cov = cov(opening);
    if (skin_cov > 0) cloth = mix(cloth, neck_colour(x, y) * (1 - 0.1 * smoothstep(-30, 0, opening)), skin_cov);
    const double trim = std::abs(opening) - 2.6;
    cloth = mix(cloth, shirt_ * (k * 0.84), cov(trim));
    return mix(c, cloth, shirt_cov);
  }

  /// One eye (side -1 left, +1 right) at closure 0..1 with the iris moved by the gaze.
  paint eye(double x, double y, double side, double closure, double gx, double gy) const noexcept {
    paint p;
    const double ex = eye_x * side;
    const double dx = x - ex;
    const double w2 = eye_half_width * eye_half_width;
    const double q = 1 - dx * dx / w2;
    const double upper_now = lerp(eye_upper, -eye_lower, closure);
    const double top = eye_y - upper_now * q;
    const double top_slope = 2 * upper_now * dx / w2;
    const double bottom = eye_y + eye_lower * q;
    const double bottom_slope = -2 * eye_lower * dx / w2;
    const double opening = lens_sd(y, top, top_slope, bottom, bottom_slope);
    if (closure > 0) {
      // The lid that has come down over the eye.
      const double open_top = eye_y - eye_upper * q;
      const double was_open = lens_sd(y, open_top, 2 * eye_upper * dx / w2, bottom, bottom_slope);
      const double lid = std::max(was_open, -opening);
      p.over(skin_colour(x, y) * 0.9, cov(lid));
    }
    const double open_cov = cov(opening);
    if (open_cov > 0) {
      const double under_lid = 1 - smoothstep(0, 5.5, (y - top) / std::sqrt(1 + top_slope * top_slope));
      colour c = colour{246, 243, 238};
      const double ix = ex + gx;
      const double iy = eye_y + 1 + gy;
      const double r = length(x - ix, y - iy);
      const double iris_cov = cov(r - iris_radius);
      if (iris_cov > 0) {
        double k = 0.78 + 0.34 * smoothstep(-iris_radius, iris_radius, y - iy);
        k *= 1 - 0.38 * smoothstep(0.68 * iris_radius, iris_radius, r);
        c = mix(c, iris_ * k, iris_cov);
        c = mix(c, colour{22, 16, 16}, cov(r - pupil_radius));
        c = mix(c, colour{255, 255, 255}, 0.9 * cov(length(x - ix - 3.6, y - iy + 4.2) - 2.6));
      }
      c = c * (1 - 0.24 * under_lid);
      p.over(c, open_cov);
    }
    // Lash line along the lid edge, heavier toward the outer corner; when shut it is the closed eye.
    const double outward = clamp01((dx * side / eye_half_width + 0.3) / 1.3);
    const double lash_w = 2.3 + 2.2 * outward;
    const double lash = std::max(std::abs(top - y) / std::sqrt(1 + top_slope * top_slope) - lash_w / 2,
                                 std::abs(dx) - eye_half_width - 1);
    p.over(lash_, 0.95 * cov(lash));
    return p;
  }

  /// The mouth at opening 0..1: lips, the dark inside with a hint of teeth and tongue, the line between the lips.
  paint mouth(double x, double y, double open) const noexcept {
    paint p;
    const double mw = mouth_half_width + mouth_widen * open;
    const double lw = mw + lip_overhang;
    const double u = x / mw;
    const double q = 1 - u * u;
    const double ql = 1 - (x / lw) * (x / lw);
    const double base = mouth_y - smile_ * u * u;
    const double base_slope = -2 * smile_ * x / (mw * mw);
    const double up = mouth_up * open;
    const double down = mouth_down * open;
    const double dq = -2 * x / (mw * mw);
    const double dql = -2 * x / (lw * lw);
    const double lips_sd = lens_sd(y, base - up * q - lip_up * ql, base_slope - up * dq - lip_up * dql,
                                   base + down * q + lip_down * ql, base_slope + down * dq + lip_down * dql);
    const double lower_lip = smoothstep(base + down * q, base + down * q + lip_down, y);
    p.over(mix(lips_, lips_ * 1.08, lower_lip), (0.6 + 0.25 * open) * cov(lips_sd));
    const double line = std::max(std::abs(y - base) / std::sqrt(1 + base_slope * base_slope) - 1.1, std::abs(x) - mw);
    p.over(lips_ * 0.42, 0.85 * cov(line));
    if (open <= 0) return p;
    const double top = base - up * q;
    const double bottom = base + down * q;
    const double inside = lens_sd(y, top, base_slope - up * dq, bottom, base_slope + down * dq);
    const double inside_cov = cov(inside);
    if (inside_cov <= 0) return p;
    colour c{82, 30, 36};
    const double gap = (up + down) * q;
    const double teeth_h = std::min(6.0, 0.4 * gap);
    const double teeth = std::max(y - (top + teeth_h), std::abs(x) - 0.78 * mw);
    c = mix(c, colour{238, 234, 226}, cov(teeth));
    const double tongue = ellipse_sd(x, y - (mouth_y + down - 1), 0.5 * mw, 0.2 * (up + down) + 1);
    c = mix(c, colour{172, 82, 90}, 0.85 * cov(tongue));
    p.over(c, inside_cov);
    return p;
  }

 private:
  look look_;
  double scale_;
  colour skin_;
  colour hair_;
  colour hair_sheen_;
  colour iris_;
  colour lips_;
  colour shirt_;
  colour brow_;
  colour lash_;
  double smile_ = 0;
  stroke brows_[2];
  stroke creases_[2];
  stroke nose_;
};

int floor_div(int a, int b) noexcept {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

}  // namespace

look look_for(std::string_view persona_id) {
  look l;
  if (persona_id == "anne-palmer") {
    l.skin = {241, 208, 184};
    l.hair = {122, 82, 52};
    l.iris = {84, 118, 142};
    l.lips = {204, 122, 120};
    l.shirt = {98, 138, 190};
    l.background_top = {228, 234, 240};
    l.background_bottom = {176, 190, 206};
    l.collar = neckline::crew;
    l.worry = 0.3;
    return l;
  }
  if (persona_id == "maya-pena") {
    l.skin = {172, 120, 88};
    l.hair = {44, 31, 27};
    l.iris = {82, 50, 32};
    l.lips = {152, 84, 78};
    l.shirt = {46, 128, 118};
    l.background_top = {240, 232, 220};
    l.background_bottom = {200, 184, 164};
    l.hair_cut = hair_style::long_hair;
    l.collar = neckline::v_neck;
    l.worry = 0.7;
    return l;
  }
  return l;
}

double eyelid_closure(double t) noexcept {
  constexpr double slot_s = 4;
  constexpr double close_s = 0.05;
  constexpr double shut_s = 0.04;
  constexpr double open_s = 0.07;
  const double tt = usable_time(t);
  const double slot = std::floor(tt / slot_s);
  const double start = slot * slot_s + 1.5 + unit_hash(static_cast<std::uint64_t>(slot), 0);
  const double p = tt - start;
  if (p < 0 || p >= close_s + shut_s + open_s) return 0;
  if (p < close_s) return p / close_s;
  if (p < close_s + shut_s) return 1;
  return (close_s + shut_s + open_s - p) / open_s;
}

avatar_renderer::avatar_renderer(int width, int height, look l) : width_(width), height_(height), look_(l) {
  if (width < min_width || height < min_height || width > max_width || height > max_height || width % 2 != 0 ||
      height % 2 != 0) {
    throw std::invalid_argument("avatar_renderer: the frame must be an even size from 160x120 to 1920x1080");
  }
  scale_ = std::min(height / design_height, width / design_width);
  origin_x_ = width / 2.0;
  origin_y_ = height / 2.0 - design_height / 2 * scale_;
  band_top_ = std::clamp(static_cast<int>(std::floor(origin_y_ + shoulder_line * scale_)), 0, height_);
  const int body_half = static_cast<int>(std::ceil(body_half_width * scale_)) + 2;
  band_x0_ = std::max(0, (static_cast<int>(origin_x_) - body_half) & ~1);
  band_x1_ = std::min(width_, (static_cast<int>(origin_x_) + body_half + 1) & ~1);
  backdrop_rows_ = height_ + static_cast<int>(std::ceil(breath_lift * scale_)) + 2;
  build_backdrop();
  head_x0_ = static_cast<int>(std::floor(origin_x_ + head_left * scale_)) - 2;
  head_y0_ = static_cast<int>(std::floor(origin_y_ + head_top * scale_)) - 2;
  head_w_ = static_cast<int>(std::ceil(origin_x_ + head_right * scale_)) + 3 - head_x0_;
  head_h_ = static_cast<int>(std::ceil(origin_y_ + head_bottom * scale_)) + 3 - head_y0_;
  heads_.reserve(static_cast<std::size_t>(sub_pixel_steps) * sub_pixel_steps);
  for (int py = 0; py < sub_pixel_steps; ++py) {
    for (int px = 0; px < sub_pixel_steps; ++px) heads_.push_back(build_head(px, py));
  }
}

void avatar_renderer::build_backdrop() {
  const figure fig(look_, scale_);
  const auto row_bytes = static_cast<std::size_t>(width_) * 4;
  backdrop_.assign(row_bytes * static_cast<std::size_t>(backdrop_rows_), 255);
  for (int y = 0; y < backdrop_rows_; ++y) {
    const double dy = (y + 0.5 - origin_y_) / scale_;
    const double v = (y + 0.5) / height_;
    std::uint8_t* out = backdrop_.data() + row_bytes * static_cast<std::size_t>(y);
    for (int x = 0; x < width_; ++x) {
      const double dx = (x + 0.5 - origin_x_) / scale_;
      const double u = (x + 0.5) / width_ * 2 - 1;
      const colour c = fig.body(dx, dy, v, u);
      out[0] = to_byte(c.b);
      out[1] = to_byte(c.g);
      out[2] = to_byte(c.r);
      out += 4;
    }
  }
}

avatar_renderer::head_sprite avatar_renderer::build_head(int phase_x, int phase_y) const {
  const figure fig(look_, scale_);
  head_sprite h;
  h.pixels.resize(static_cast<std::size_t>(head_w_) * static_cast<std::size_t>(head_h_) * 4);
  h.row_first_run.reserve(static_cast<std::size_t>(head_h_) + 1);
  const double shift_x = static_cast<double>(phase_x) / sub_pixel_steps;
  const double shift_y = static_cast<double>(phase_y) / sub_pixel_steps;
  for (int sy = 0; sy < head_h_; ++sy) {
    h.row_first_run.push_back(h.runs.size());
    const double y = (head_y0_ + sy + 0.5 - shift_y - origin_y_) / scale_;
    std::uint8_t* row = h.pixels.data() + static_cast<std::size_t>(sy) * static_cast<std::size_t>(head_w_) * 4;
    int kind_prev = 0;  // 0 transparent, 1 blended, 2 opaque
    for (int sx = 0; sx < head_w_; ++sx) {
      const double x = (head_x0_ + sx + 0.5 - shift_x - origin_x_) / scale_;
      const paint p = fig.head(x, y);
      std::uint8_t* px = row + static_cast<std::size_t>(sx) * 4;
      px[0] = to_byte(p.b);
      px[1] = to_byte(p.g);
      px[2] = to_byte(p.r);
      px[3] = to_byte(p.a * 255);
      const int kind = px[3] == 0 ? 0 : (px[3] == 255 ? 2 : 1);
      if (kind != 0) {
        if (kind == kind_prev) {
          h.runs.back().end = sx + 1;
        } else {
          h.runs.push_back({sx, sx + 1, kind == 2});
        }
      }
      kind_prev = kind;
    }
  }
  h.row_first_run.push_back(h.runs.size());
  return h;
}

namespace {

/// out = (a * (256 - f) + b * f + 128) >> 8 for a fixed-size block: the fixed trip count and restrict pointers let
/// GCC vectorise it at -O2.
constexpr std::size_t lerp_block = 64;
void lerp_bytes(const std::uint8_t* __restrict a, const std::uint8_t* __restrict b, std::uint8_t* __restrict out,
                unsigned f) noexcept {
  const unsigned keep = 256 - f;
  for (std::size_t i = 0; i < lerp_block; ++i)
    out[i] = static_cast<std::uint8_t>((a[i] * keep + b[i] * f + 128U) >> 8U);
}

}  // namespace

void avatar_renderer::copy_backdrop(int lift_256, std::span<std::uint8_t> frame) const {
  const auto row_bytes = static_cast<std::size_t>(width_) * 4;
  std::memcpy(frame.data(), backdrop_.data(), row_bytes * static_cast<std::size_t>(band_top_));
  const int whole = lift_256 >> 8;
  const auto f = static_cast<unsigned>(lift_256 & 255);
  const auto x0 = static_cast<std::size_t>(band_x0_) * 4;
  const auto x1 = static_cast<std::size_t>(band_x1_) * 4;
  for (int y = band_top_; y < height_; ++y) {
    const std::uint8_t* same = backdrop_.data() + row_bytes * static_cast<std::size_t>(y);
    const std::uint8_t* a = backdrop_.data() + row_bytes * static_cast<std::size_t>(y + whole);
    const std::uint8_t* b = a + row_bytes;
    std::uint8_t* out = frame.data() + row_bytes * static_cast<std::size_t>(y);
    std::memcpy(out, same, x0);
    std::memcpy(out + x1, same + x1, row_bytes - x1);
    if (f == 0) {
      std::memcpy(out + x0, a + x0, x1 - x0);
      continue;
    }
    std::size_t i = x0;
    for (; i + lerp_block <= x1; i += lerp_block) lerp_bytes(a + i, b + i, out + i, f);
    for (; i < x1; ++i) out[i] = static_cast<std::uint8_t>((a[i] * (256 - f) + b[i] * f + 128U) >> 8U);
  }
}

void avatar_renderer::blit_head(const head_sprite& head, int dx, int dy, std::span<std::uint8_t> frame) const {
  const auto row_bytes = static_cast<std::size_t>(width_) * 4;
  const auto sprite_row_bytes = static_cast<std::size_t>(head_w_) * 4;
  for (int sy = 0; sy < head_h_; ++sy) {
    const int y = head_y0_ + dy + sy;
    if (y < 0 || y >= height_) continue;
    const std::uint8_t* src_row = head.pixels.data() + sprite_row_bytes * static_cast<std::size_t>(sy);
    std::uint8_t* dst_row = frame.data() + row_bytes * static_cast<std::size_t>(y);
    const auto sy_index = static_cast<std::size_t>(sy);
    for (std::size_t r = head.row_first_run[sy_index]; r < head.row_first_run[sy_index + 1]; ++r) {
      const head_sprite::run& run = head.runs[r];
      const int x0 = std::max(run.begin, -(head_x0_ + dx));
      const int x1 = std::min(run.end, width_ - (head_x0_ + dx));
      if (x0 >= x1) continue;
      const std::uint8_t* s = src_row + static_cast<std::size_t>(x0) * 4;
      std::uint8_t* d = dst_row + static_cast<std::size_t>(head_x0_ + dx + x0) * 4;
      const auto n = static_cast<std::size_t>(x1 - x0);
      if (run.opaque) {
        std::memcpy(d, s, n * 4);
        continue;
      }
      for (std::size_t i = 0; i < n; ++i, s += 4, d += 4) {
        const unsigned keep = 255U - s[3];
        for (int ch = 0; ch < 3; ++ch) {
          unsigned v = d[ch] * keep + 128U;
          v = (v + (v >> 8U)) >> 8U;  // exact rounding of d * keep / 255
          d[ch] = static_cast<std::uint8_t>(std::min(255U, s[ch] + v));
        }
        d[3] = 255;
      }
    }
  }
}

void avatar_renderer::draw_face_features(double head_x, double head_y, double closure, double gaze_x, double gaze_y,
                                         double mouth, std::span<std::uint8_t> frame) const {
  const figure fig(look_, scale_);
  const auto row_bytes = static_cast<std::size_t>(width_) * 4;
  // Design-unit boxes that hold everything each part can ever draw (the lash line reaches 3.5 units past the eye
  // corners and 2.3 past the lids), plus 2 px for the anti-aliasing ramp.
  struct box {
    double x0, y0, x1, y1;
    int part;  // 0 left eye, 1 right eye, 2 mouth
  };
  const box boxes[] = {
      {-eye_x - eye_half_width - 4, eye_y - eye_upper - 3, -eye_x + eye_half_width + 4, eye_y + eye_lower + 3, 0},
      {eye_x - eye_half_width - 4, eye_y - eye_upper - 3, eye_x + eye_half_width + 4, eye_y + eye_lower + 3, 1},
      {-(mouth_half_width + mouth_widen + lip_overhang), mouth_y - max_smile - mouth_up - lip_up,
       mouth_half_width + mouth_widen + lip_overhang, mouth_y + mouth_down + lip_down, 2},
  };
  for (const box& b : boxes) {
    const int px0 = std::max(0, static_cast<int>(std::floor(origin_x_ + head_x + b.x0 * scale_)) - 2);
    const int px1 = std::min(width_, static_cast<int>(std::ceil(origin_x_ + head_x + b.x1 * scale_)) + 2);
    const int py0 = std::max(0, static_cast<int>(std::floor(origin_y_ + head_y + b.y0 * scale_)) - 2);
    const int py1 = std::min(height_, static_cast<int>(std::ceil(origin_y_ + head_y + b.y1 * scale_)) + 2);
    for (int py = py0; py < py1; ++py) {
      const double y = (py + 0.5 - head_y - origin_y_) / scale_;
      std::uint8_t* d = frame.data() + row_bytes * static_cast<std::size_t>(py) + static_cast<std::size_t>(px0) * 4;
      for (int px = px0; px < px1; ++px, d += 4) {
        const double x = (px + 0.5 - head_x - origin_x_) / scale_;
        const paint p =
            b.part == 2 ? fig.mouth(x, y, mouth) : fig.eye(x, y, b.part == 0 ? -1.0 : 1.0, closure, gaze_x, gaze_y);
        if (p.a <= 0) continue;
        const double keep = 1 - p.a;
        d[0] = to_byte(p.b + d[0] * keep);
        d[1] = to_byte(p.g + d[1] * keep);
        d[2] = to_byte(p.r + d[2] * keep);
      }
    }
  }
}

void avatar_renderer::render(const pose& p, std::span<std::uint8_t> bgrx) const {
  if (bgrx.size() != static_cast<std::size_t>(width_) * static_cast<std::size_t>(height_) * 4) {
    throw std::invalid_argument("avatar_renderer::render: the frame must hold width * height * 4 bytes");
  }
  const double t = usable_time(p.t);
  const double mouth = p.mouth_open >= 0 ? std::min(p.mouth_open, 1.0) : 0.0;  // NaN reads as closed
  // Breathing: the shoulders rise and fall over ~4 s; the head follows a little.
  const double breath = 0.5 - 0.5 * sine(two_pi * t / 4.2 + half_pi);
  const double lift = breath_lift * scale_ * breath;
  const auto lift_256 = static_cast<int>(std::floor(lift * 256 + 0.5));
  // A slow, irregular sway of a couple of units, quantised to the sprites' quarter pixels.
  const double sway_x = scale_ * (2.2 * sine(two_pi * t / 7.3) + 0.8 * sine(two_pi * t / 3.1 + 1.3));
  const double sway_y = scale_ * 0.7 * sine(two_pi * t / 5.9 + 0.4) - 0.6 * lift;
  const auto qx = static_cast<int>(std::floor(sway_x * sub_pixel_steps + 0.5));
  const auto qy = static_cast<int>(std::floor(sway_y * sub_pixel_steps + 0.5));
  const int ix = floor_div(qx, sub_pixel_steps);
  const int iy = floor_div(qy, sub_pixel_steps);
  const int phase = (qy - iy * sub_pixel_steps) * sub_pixel_steps + (qx - ix * sub_pixel_steps);
  const offset gaze = gaze_at(t);

  copy_backdrop(lift_256, bgrx);
  blit_head(heads_[static_cast<std::size_t>(phase)], ix, iy, bgrx);
  draw_face_features(static_cast<double>(qx) / sub_pixel_steps, static_cast<double>(qy) / sub_pixel_steps,
                     eyelid_closure(t), gaze.x, gaze.y, mouth, bgrx);
}

int counter_cell_size(int width, int height) noexcept {
  return std::min(std::max(4, height / 72), width / 37);
}

namespace {

constexpr int counter_cells = 35;  ///< 3 marker cells and 32 bits
constexpr int counter_marker[3] = {1, 0, 1};

bool counter_frame_ok(std::size_t bytes, int width, int height) noexcept {
  return width > 0 && height > 0 && bytes == static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 4 &&
         counter_cell_size(width, height) >= 2 && 3 * counter_cell_size(width, height) <= height;
}

}  // namespace

void stamp_counter(std::span<std::uint8_t> bgrx, int width, int height, std::uint32_t value) {
  if (!counter_frame_ok(bgrx.size(), width, height)) {
    throw std::invalid_argument("stamp_counter: the frame is too small or the span does not match its size");
  }
  const int c = counter_cell_size(width, height);
  const auto row_bytes = static_cast<std::size_t>(width) * 4;
  for (int y = 0; y < 3 * c; ++y) {
    std::uint8_t* row = bgrx.data() + row_bytes * static_cast<std::size_t>(y);
    for (int x = 0; x < (counter_cells + 2) * c; ++x) {
      bool white = false;
      const int k = x / c - 1;
      if (y >= c && y < 2 * c && k >= 0 && k < counter_cells) {
        white = k < 3 ? counter_marker[k] == 1 : ((value >> static_cast<unsigned>(31 - (k - 3))) & 1U) != 0;
      }
      std::uint8_t* px = row + static_cast<std::size_t>(x) * 4;
      const std::uint8_t v = white ? 255 : 0;
      px[0] = v;
      px[1] = v;
      px[2] = v;
      px[3] = 255;
    }
  }
}

std::optional<std::uint32_t> read_counter(std::span<const std::uint8_t> bgrx, int width, int height) {
  if (!counter_frame_ok(bgrx.size(), width, height)) return std::nullopt;
  const int c = counter_cell_size(width, height);
  auto white_at = [&](int x, int y) {
    const std::uint8_t* px =
        bgrx.data() + (static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x)) * 4;
    return (px[0] + px[1] + px[2]) / 3 >= 128;
  };
  const int row = c + c / 2;
  if (white_at(c / 2, row)) return std::nullopt;
  for (int k = 0; k < 3; ++k) {
    const int x = (k + 1) * c + c / 2;
    if (white_at(x, row) != (counter_marker[k] == 1) || white_at(x, c / 2) || white_at(x, 2 * c + c / 2)) {
      return std::nullopt;
    }
  }
  std::uint32_t value = 0;
  for (int i = 0; i < 32; ++i) value = (value << 1U) | (white_at((i + 4) * c + c / 2, row) ? 1U : 0U);
  return value;
}

mouth_follower::mouth_follower(int sample_rate) {
  if (sample_rate < 1000 || sample_rate > 384000) {
    throw std::invalid_argument("mouth_follower: the sample rate must be 1000..384000 Hz");
  }
  block_ = static_cast<std::size_t>(sample_rate / 100);
  attack_ = 1 - std::exp(-10.0 / 12.0);
  release_ = 1 - std::exp(-10.0 / 45.0);
}

void mouth_follower::feed(std::span<const std::int16_t> samples) {
  for (const std::int16_t s : samples) {
    sum_squares_ += static_cast<double>(s) * s;
    if (++count_ < block_) continue;
    const double rms = std::sqrt(sum_squares_ / static_cast<double>(count_)) / 32768;
    level_ += (rms > level_ ? attack_ : release_) * (rms - level_);
    if (level_ < 1e-7) level_ = 0;
    sum_squares_ = 0;
    count_ = 0;
  }
}

double mouth_follower::opening() const noexcept {
  if (level_ <= 0) return 0;
  return clamp01((20 * std::log10(level_) + 45) / 30);
}

void mouth_follower::decay_to_silence(double elapsed_s) {
  sum_squares_ = 0;
  count_ = 0;
  if (!(elapsed_s > 0)) return;
  level_ *= std::pow(1 - release_, elapsed_s / 0.010);
  if (level_ < 1e-7) level_ = 0;
}

}  // namespace stream
