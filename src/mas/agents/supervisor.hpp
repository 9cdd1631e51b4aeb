#pragma once
#include <string>
#include <string_view>

/// The supervisor (safety) agent: deterministic rules that classify every clinician input before it reaches the
/// caregiver and coach, count conduct violations, run the crisis protocol, and check every agent reply before
/// delivery (protocol: reference sparcp-backend.md section 2.5). Rules are the default classifier; an LLM
/// classifier can sit beside them later behind the same verdict types.
namespace mas::agents {

/// What an input is, in priority order: when several rules match, the class listed first wins.
enum class input_class {
  crisis,                  ///< the user says they may harm themselves: crisis protocol, not a violation
  prompt_injection,        ///< an attempt to override the agents' instructions
  dangerous,               ///< threats, violence, weapons, instructions for harming others
  pii,                     ///< SSN, phone, long digit string, e-mail or street address
  off_topic,               ///< a task clearly unrelated to the visit (code, stocks, sports, recipes, politics)
  prohibited,              ///< profanity, slurs, sexual harassment
  medical_advice_request,  ///< the clinician asks the parent for medical advice: allowed, the caregiver deflects
  character_break,         ///< "are you an AI?", "talk like a pirate": allowed, the caregiver stays in character
  safe,
};

/// Stable snake_case name (for logs, the audit record and JSON).
std::string_view to_string(input_class c) noexcept;

/// True for the classes that count against the session's allowance and block the turn.
bool is_violation(input_class c) noexcept;

/// The violation that terminates the session (the first two are warnings).
inline constexpr int max_violations = 3;

struct input_verdict {
  input_class cls = input_class::safe;
  std::string rule;  ///< id of the deciding rule, e.g. "pii.ssn"; empty when safe
};

/// Classifies one clinician utterance. Never throws for any bytes (empty, invalid UTF-8, NULs); linear in its size.
input_verdict classify_input(std::string_view utterance);

/// What is wrong with an agent reply, in priority order.
enum class output_issue { none, ai_disclosure, medical_advice, pii, off_topic, profanity };

std::string_view to_string(output_issue i) noexcept;

struct output_verdict {
  output_issue issue = output_issue::none;
  std::string rule;  ///< id of the deciding rule; empty when none
};

/// The output pass over a caregiver reply. The caller regenerates once when this returns an issue, and uses
/// safe_fallback() when the second reply also has one; the clinician never sees the blocked text.
output_verdict check_output(std::string_view reply);

/// Per-session supervisor state; the caller persists it with the session.
struct violation_state {
  int violations = 0;
  bool terminated = false;
  bool flagged_for_review = false;
};

/// The supervisor's decision about one input (the decision record of section 2.5).
struct decision {
  input_class cls = input_class::safe;
  std::string rule;
  bool route_to_agents = true;  ///< false for crisis, for violations and once the session is terminated
  bool counts_as_violation = false;
  std::string ui_message;  ///< a warning, "SESSION TERMINATED", the crisis message, or empty
  int violation_count_before = 0;
  int violation_count_after = 0;
  bool terminate_session = false;
  bool flag_for_review = false;
  bool notify_coach = false;     ///< the coach hears of every violation (it may mention conduct in feedback)
  std::string special_handling;  ///< "deflect_medical_advice", "stay_in_character", "crisis_protocol",
                                 ///< "session_terminated", or empty
};

/// Classifies `utterance` and applies the protocol to `state`: every violation blocks the turn (PII included, so
/// typed personal data never reaches a model or a transcript prompt); the 1st and 2nd show a warning, the 3rd
/// terminates and flags the session; crisis is not counted but terminates and flags; a terminated session
/// refuses every later input.
decision decide_input(violation_state& state, std::string_view utterance);

/// The same protocol for a verdict reached elsewhere (the model's second opinion): warnings, termination, crisis.
decision decide(violation_state& state, input_verdict verdict);

/// The class a model classifier's category stands for ("harassment", "self_harm", ...); safe for unknown ones.
input_class class_of_category(std::string_view category) noexcept;

/// The fixed crisis message: the UF Counseling and Wellness Center, 988 by call or text, and that the simulation
/// cannot help with a real crisis.
std::string_view crisis_message() noexcept;

/// A short in-character reply with no medical content for when a regenerated reply fails the output check too and
/// the persona file has no "fallback" lines. Names the child when `child_name` is given.
std::string safe_fallback(std::string_view child_name);

}  // namespace mas::agents
