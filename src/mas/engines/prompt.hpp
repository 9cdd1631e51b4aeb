#pragma once
// The chat messages an OpenAI-compatible model server receives for one agent turn, and the token budget that
// trims the conversation to fit the model's context. Pure: unit-tested without a server.
#include "mas/engines/engine.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace mas::engines {

struct chat_message {
  std::string role;  ///< "system", "user" or "assistant"
  std::string content;
};

/// A token estimate without the model's tokenizer: about four bytes of English per token plus a few tokens of
/// message framing. It errs high for English (so trimming keeps a margin) and is the same for every server.
std::size_t estimate_tokens(std::string_view text) noexcept;
std::size_t estimate_tokens(const chat_message& m) noexcept;

/// The budget one request must fit: `context_tokens` of the model minus the reply's `max_tokens`.
struct token_budget {
  std::size_t context_tokens = 4096;
  std::size_t max_tokens = 256;
};

/// The system prompt of `t.agent` (the persona, the C-LEAR phase, the supervisor's special handling, retrieved
/// passages for the caregiver; the rubric and the JSON contract for the coach).
std::string system_prompt(const turn& t);

/// The whole message list: the system prompt, then as many of the latest transcript turns as fit the budget
/// (dropped from the oldest; the system prompt and this turn's input are never cut), then this turn's input.
/// `dropped`, when given, receives how many transcript entries were left out.
std::vector<chat_message> build_messages(const turn& t, const token_budget& budget, std::size_t* dropped = nullptr);

/// The JSON schema of the coach contract (agents::parse_coach_contract), for `response_format`.
const nlohmann::json& coach_schema();

}  // namespace mas::engines
