#pragma once
#include "mas/agents/persona.hpp"
#include "mas/agents/supervisor.hpp"
#include "mas/config.hpp"
#include "mas/engines/scripted.hpp"
#include "mas/speech/speech.hpp"
#include "mas/store/database.hpp"
#include "net/server.hpp"

#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <unordered_map>

namespace mas {

/// Runs sparc-mas until SIGTERM or SIGINT; returns the exit code.
int run(const config& cfg);

/// `sparc-mas audit verify`: walks the chain in cfg.db; 0 when intact, 1 when not (the first bad record is named).
int audit_verify(const config& cfg);

/// The HTTP service: the Unity contract (/v1/chat), health, CORS and auth, over net::server. Chat turns are
/// answered only after the store committed them.
class service final : public net::http_handler {
 public:
  /// `tts` may be null (speech unavailable: /v1/tts answers 503 and /health says so).
  service(const config& cfg, std::map<std::string, agents::persona, std::less<>> personas,
          std::unique_ptr<store::commit_batcher> batcher, std::unique_ptr<speech::speech_engine> tts,
          std::shared_ptr<spdlog::logger> log);

  net::http_response handle(const net::http_request& request, std::string_view remote_ip) override;
  void handle_async(const net::http_request& request, std::string_view remote_ip, net::responder respond) override;
  net::ws_handler* websocket(const net::http_request& request, net::http_response& refusal) override;

  /// Commits what is queued and stops the store's writer.
  void stop();

 private:
  struct session_state {
    agents::violation_state safety;
    std::string persona_id;
    std::vector<engines::transcript_entry> transcript;  ///< the last turns, oldest first
    std::int64_t seq = 0;                               ///< turns stored so far
  };

  void chat(const net::http_request& request, net::responder respond);
  void tts(const net::http_request& request, net::responder respond);
  net::http_response error(const net::http_request& request, int status, std::string_view code, std::string_view message) const;
  net::http_response json_response(const net::http_request& request, std::string body) const;
  void add_cors(const net::http_request& request, net::http_response& response) const;
  bool authorized(const net::http_request& request) const;
  const agents::persona& pick_persona(std::string_view system_prompt) const;

  const config& cfg_;
  std::map<std::string, agents::persona, std::less<>> personas_;
  std::unique_ptr<store::commit_batcher> batcher_;
  std::shared_ptr<spdlog::logger> log_;
  engines::scripted_engine engine_;
  std::unordered_map<std::string, session_state> sessions_;
  std::unique_ptr<speech::speech_engine> tts_;
  boost::asio::thread_pool speech_pool_{1};  ///< synthesis blocks for tens of milliseconds: off the event loop
  std::atomic<int> speech_queued_{0};
};

}  // namespace mas
