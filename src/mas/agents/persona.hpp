#pragma once
#include "core/error.hpp"

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace mas::agents {

/// The C-LEAR phases of a training conversation (Counsel, Listen, Empathize, Answer-Recommend).
enum class phase { counsel, listen, empathize, answer_recommend, unknown };
std::string_view to_string(phase p) noexcept;

/// Reads the phase from the client's phase_context ("phase_type=LISTEN; ...") or a bare name.
phase parse_phase(std::string_view text) noexcept;

/// A caregiver persona, loaded from data/personas/<id>.toml.
struct persona {
  std::string id;
  std::string name;
  std::string training_type;
  std::string voice;        ///< espeak-ng voice
  std::string riva_voice;   ///< the Riva voice name (e.g. English-US.Female-1); empty: the server's first
  std::string child_name;
  int child_age = 0;
  std::string child_relation;
  std::string temperament;                   ///< [style] temperament: how a model should play her (optional)
  std::string concern;                       ///< held back until the clinician explores it
  std::vector<std::string> concern_addressed_by;  ///< lowercase cues that the worry was answered
  std::map<std::string, std::vector<std::string>, std::less<>> lines;  ///< by situation: greeting, counsel, ...

  /// A line for `situation`, picked deterministically by `seed`, with {child} and {age} filled in.
  std::string line(std::string_view situation, std::uint64_t seed) const;
};

/// Parses one persona file. Errors name the file and line ("anne.toml:12: ...") in `why`.
core::result<persona> load_persona(const std::filesystem::path& file, std::string* why = nullptr);

/// Loads every *.toml in `dir`, keyed by id.
core::result<std::map<std::string, persona, std::less<>>> load_personas(const std::filesystem::path& dir,
                                                                         std::string* why = nullptr);

}  // namespace mas::agents
