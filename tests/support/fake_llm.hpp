#pragma once
// A small OpenAI-compatible model server for tests and benchmarks: real HTTP/1.1, GET /v1/models and
// POST /v1/chat/completions, streamed as server-sent events or not, with a fixed time per token, a limit on
// requests generated at once (like a GPU server's batch), and fault injection: a slow first token, a stall
// mid-stream, error statuses, malformed JSON, dropped connections and streams that end without "[DONE]".
// It runs on its own thread; tests set faults and read what it saw between requests (in process through stats(),
// from another process through GET /debug/last-request, the last chat request's body).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace sparc_test {

/// What the next matching requests do wrong. Counts go down as requests use them; -1 means every request.
struct llm_faults {
  int status = 0;                       ///< answer this HTTP status (e.g. 429, 500, 503) instead of generating
  int status_count = 0;                 ///< for this many requests
  std::chrono::milliseconds first_token_delay{0};  ///< extra wait before the first token
  int stall_after_tokens = -1;          ///< stop sending (but keep the connection) after this many tokens
  int drop_after_tokens = -1;           ///< close the connection after this many tokens
  bool malformed_chunk = false;         ///< send a chunk that is not JSON
  bool no_done = false;                 ///< end the stream without finish_reason and "[DONE]"
  std::string reply;                    ///< the text to generate instead of the default
};

struct fake_llm_options {
  std::string bind = "127.0.0.1";
  std::uint16_t port = 0;  ///< 0: any free port
  std::chrono::microseconds per_token{0};
  std::size_t max_concurrent = 0;  ///< requests generating at once; the rest wait (0: no limit)
  std::vector<std::string> models{"base-model"};  ///< what GET /v1/models lists
  std::size_t threads = 1;
};

/// What the server has seen, for assertions.
struct fake_llm_stats {
  std::uint64_t requests = 0;           ///< chat completion requests received
  std::uint64_t completed = 0;          ///< finished normally
  std::uint64_t client_gone = 0;        ///< the client closed the connection before the end (cancellation)
  std::uint64_t model_list_requests = 0;
  std::size_t max_in_generation = 0;    ///< the most requests generating at once
  std::string last_body;                ///< the last chat completion request's body
  std::string last_authorization;
};

class fake_llm {
 public:
  explicit fake_llm(fake_llm_options options);
  ~fake_llm();
  fake_llm(const fake_llm&) = delete;
  fake_llm& operator=(const fake_llm&) = delete;

  std::uint16_t port() const;
  std::string base_url() const;  ///< http://127.0.0.1:PORT/v1
  void set_faults(const llm_faults& f);
  void set_models(std::vector<std::string> models);
  fake_llm_stats stats() const;

  /// The reply the server generates for a request body without a fault's reply: a caregiver line; for a request
  /// with response_format a valid C-LEAR grade, or the supervisor's verdict (unsafe when the input carries
  /// "[unsafe:CATEGORY]").
  static std::string default_reply(const std::string& request_body);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sparc_test
