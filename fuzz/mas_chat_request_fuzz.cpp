// Arbitrary bytes as a POST /v1/chat body and as a POST /v1/sessions body: decoding never crashes, and an
// accepted request respects every bound of the contract.
#include "mas/api/contract.hpp"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  std::vector<mas::api::field_error> errors;
  if (const auto s = mas::api::decode_session_create(body, &errors); !s) {
    if (errors.empty()) __builtin_trap();
  } else if ((!s->session_id.empty() && !mas::api::valid_session_id(s->session_id)) ||
             s->persona.size() > 4 * mas::api::limits::session_label) {
    __builtin_trap();
  }
  errors.clear();
  const auto r = mas::api::decode_chat_request(body, &errors);
  if (!r) {
    if (errors.empty()) __builtin_trap();  // every refusal says why
    return 0;
  }
  if (!mas::api::valid_session_id(r->session_id)) __builtin_trap();
  if (r->user_message.size() > 4 * mas::api::limits::user_message) __builtin_trap();
  (void)mas::api::encode_chat_response({});
  return 0;
}
