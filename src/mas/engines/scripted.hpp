#pragma once
#include "mas/engines/engine.hpp"

namespace mas::engines {

/// The embedded, deterministic engine: the caregiver speaks the persona's lines with the staged reveal of
/// the C-LEAR phases, and the coach grades with transparent keyword rules. Every output says so
/// (engine "scripted", graded_by "rules"), so it can never pass for model output in research data.
class scripted_engine final : public llm_engine {
 public:
  std::string_view name() const noexcept override { return "scripted"; }
  core::result<generation> generate(const turn& t, const token_sink& sink = {}) override;
};

/// The rules the scripted coach applies, exposed for tests and documentation.
namespace rules {
/// Counsel elements mentioned (age 9-12, prevents cancers, safe, recommended, second dose) and whether the
/// clinician used "recommend".
int counsel_elements(std::string_view clinician_text) noexcept;
bool explores_or_restates(std::string_view clinician_text) noexcept;
bool empathizes(std::string_view clinician_text) noexcept;
bool strong_recommendation(std::string_view clinician_text) noexcept;
bool addresses_concern(const agents::persona& p, std::string_view clinician_text) noexcept;
}  // namespace rules

}  // namespace mas::engines
