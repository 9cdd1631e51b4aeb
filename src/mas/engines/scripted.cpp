#include "mas/engines/scripted.hpp"

#include "core/encoding.hpp"

#include "mas/agents/coach.hpp"

#include <algorithm>
#include <array>

namespace mas::engines {

namespace {

bool has_any(const std::string& text, std::initializer_list<std::string_view> cues) {
  return std::any_of(cues.begin(), cues.end(), [&](std::string_view c) { return text.find(c) != std::string::npos; });
}

// The clinician's words this turn and before: the reveal and the decision look at the whole visit.
std::string clinician_words(const turn& t) {
  std::string all;
  for (const auto& e : t.transcript)
    if (e.speaker == "clinician") (all += core::ascii_lower(e.text)) += '\n';
  return all + core::ascii_lower(t.clinician_text);
}

std::string caregiver_reply(const turn& t) {
  const auto& p = *t.persona;
  const auto say = [&](std::string_view situation) { return p.line(situation, t.seed); };
  if (t.special_handling == "deflect_medical_advice") return say("deflect_medical");
  if (t.special_handling == "stay_in_character") return say("stay_in_character");
  const std::string words = clinician_words(t);
  switch (t.phase) {
    case agents::phase::listen: return say("listen");
    case agents::phase::empathize:
      // The real concern comes out only once the clinician asked about it or reflected it back.
      return rules::explores_or_restates(words) ? say("reveal") : say("vague");
    case agents::phase::answer_recommend: {
      const bool accept = rules::addresses_concern(p, words) && rules::strong_recommendation(words);
      return say(accept ? "accept" : "decline") + " " + say("thanks");
    }
    case agents::phase::counsel: return say("counsel");
    case agents::phase::unknown: break;
  }
  return t.transcript.empty() ? say("greeting") : say("counsel");
}

agents::coach_grade grade(const turn& t) {
  const std::string text = core::ascii_lower(t.clinician_text);
  agents::coach_grade g;
  const auto quote = [&] { g.evidence.push_back(t.clinician_text.substr(0, 200)); };
  switch (t.phase) {
    case agents::phase::counsel: {
      const int n = rules::counsel_elements(text);
      const bool rec = rules::strong_recommendation(text);
      g.score = (n >= 4 && rec) ? 1 : (n >= 2 ? 0.5 : 0);
      g.summary = "Counsel: " + std::to_string(n) + " of 5 key points" + (rec ? ", with a recommendation." : ", no recommendation.");
      if (g.score == 1) g.keep_doing.push_back("You covered the key points and made a clear recommendation.");
      else g.try_next_time.push_back("Cover the age, the cancers it prevents, safety and the second dose, and say \"I recommend\".");
      break;
    }
    case agents::phase::listen: {
      const bool explored = rules::explores_or_restates(text);
      g.score = explored ? 1 : (text.find('?') != std::string::npos ? 0.5 : 0);
      g.summary = explored ? "Listen: explored or restated the parent's view." : "Listen: did not explore the parent's view.";
      if (g.score == 1) g.keep_doing.push_back("You invited the parent to share what is on their mind.");
      else g.try_next_time.push_back("Ask an open question about their concern, or restate what you heard.");
      break;
    }
    case agents::phase::empathize: {
      const bool empathy = rules::empathizes(text);
      g.score = empathy ? 1 : 0;
      g.summary = empathy ? "Empathize: acknowledged the concern before answering." : "Empathize: no acknowledgement of the concern.";
      if (empathy) g.keep_doing.push_back("You acknowledged the worry before moving on.");
      else g.try_next_time.push_back("Acknowledge or normalise the worry before you answer it.");
      break;
    }
    case agents::phase::answer_recommend:
    case agents::phase::unknown: {
      const bool answered = t.persona && rules::addresses_concern(*t.persona, text);
      const bool rec = rules::strong_recommendation(text);
      g.score = answered && rec ? 1 : (answered || rec ? 0.5 : 0);
      g.summary = std::string("Answer-Recommend: ") + (answered ? "answered the concern" : "did not answer the concern") +
                  (rec ? " and recommended." : " and gave no strong recommendation.");
      if (g.score == 1) g.keep_doing.push_back("You answered the worry plainly and followed with a strong recommendation.");
      if (!answered) g.try_next_time.push_back("Answer the specific worry directly, in plain words.");
      if (!rec) g.try_next_time.push_back("Follow your answer with \"I recommend...\" right away.");
      break;
    }
  }
  if (!t.clinician_text.empty()) quote();
  g.notes = "Graded by the scripted engine's keyword rules, not by a model.";
  return g;
}

}  // namespace

namespace rules {

int counsel_elements(std::string_view clinician_text) noexcept {
  const std::string t = core::ascii_lower(clinician_text);
  int n = 0;
  n += has_any(t, {" 9", "nine", " 10", " 11", " 12", "eleven", "twelve", "this age", "ages"});
  n += has_any(t, {"cancer"});
  n += has_any(t, {"safe"});
  n += has_any(t, {"recommend"});
  n += has_any(t, {"second dose", "two doses", "2 doses", "come back", "return", "next dose", "booster"});
  return n;
}

bool explores_or_restates(std::string_view clinician_text) noexcept {
  const std::string t = core::ascii_lower(clinician_text);
  return has_any(t, {"what worries", "what concerns", "tell me more", "what have you heard", "what makes you",
                     "can you tell me", "what are your", "how do you feel", "it sounds like", "you're worried",
                     "you are worried", "you feel", "if i understand", "what i'm hearing", "so you're", "concerns do you"});
}

bool empathizes(std::string_view clinician_text) noexcept {
  const std::string t = core::ascii_lower(clinician_text);
  return has_any(t, {"i understand", "i hear you", "that makes sense", "many parents", "a lot of parents",
                     "it's normal", "it is normal", "completely understandable", "that's understandable", "valid",
                     "i can see why", "thank you for sharing", "of course you"});
}

bool strong_recommendation(std::string_view clinician_text) noexcept {
  const std::string t = core::ascii_lower(clinician_text);
  return has_any(t, {"i recommend", "i strongly recommend", "i'd recommend", "i would recommend", "my recommendation"});
}

bool addresses_concern(const agents::persona& p, std::string_view clinician_text) noexcept {
  const std::string t = core::ascii_lower(clinician_text);
  return std::any_of(p.concern_addressed_by.begin(), p.concern_addressed_by.end(),
                     [&](const std::string& cue) { return t.find(cue) != std::string::npos; });
}

}  // namespace rules

core::result<generation> scripted_engine::generate(const turn& t, const token_sink& sink) {
  if (!t.persona && t.agent != role::supervisor) return core::make_error_code(core::errc::invalid_argument);
  generation g;
  g.engine = "scripted";
  if (t.agent == role::coach) {
    g.text = agents::to_json(grade(t)).dump();
    g.graded_by = "rules";
  } else {
    g.text = caregiver_reply(t);
  }
  if (sink) sink(g.text);
  return g;
}

}  // namespace mas::engines
