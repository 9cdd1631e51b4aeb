#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

/// The parts of a `ws://host:port/path` URL the client needs.
struct ws_url {
  std::string host;
  std::string port;
  std::string target;  ///< path and query, at least "/"
};

/// Parses `ws://host[:port][/path]`; nullopt for anything else (the benchmark never speaks TLS).
std::optional<ws_url> parse_ws_url(std::string_view text);

/// A minimal RFC 6455 client for load generation: masked frames out, unmasked server frames in,
/// pings answered, fragments reassembled. Single-threaded; the owner keeps it alive until run() returns
/// and the executor has no more work.
class ws_client {
 public:
  /// Called for each complete data message; the view is valid only during the call.
  using message_handler = std::function<void(std::string_view)>;

  /// `read_chunk` is the initial receive buffer: small for many idle sockets, large for throughput.
  ws_client(const asio::any_io_executor& executor, std::size_t read_chunk, std::uint64_t seed);

  /// TCP connect (TCP_NODELAY) and the upgrade handshake, checking Sec-WebSocket-Accept.
  asio::awaitable<error_code> open(tcp::endpoint server, const ws_url& url);

  /// Reads and dispatches until the connection ends. Returns a default error_code after a clean close
  /// (close frames exchanged, then EOF), otherwise the reason.
  asio::awaitable<error_code> run(message_handler on_message);

  /// Queues one masked text frame; written at once unless a write or a received batch is in progress.
  void send_text(std::string_view payload);

  /// Starts the closing handshake (code 1000); run() returns when the server closes the TCP connection.
  void close();

  /// Closes the socket at once; pending operations end with operation_aborted.
  void abort();

  bool close_sent() const noexcept { return close_sent_; }

 private:
  enum class parse_result { more, closed, violation };
  parse_result parse_frames(const message_handler& on_message);
  void append_frame(std::uint8_t opcode, std::string_view payload);
  void flush();
  std::uint32_t next_mask() noexcept;

  tcp::socket socket_;
  std::vector<char> in_;     ///< receive buffer; bytes [begin_, end_) are unparsed
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  std::size_t need_ = 0;     ///< size of the incomplete frame at begin_, once its header is known
  std::string message_;      ///< a fragmented message so far
  bool in_message_ = false;
  std::string out_;          ///< frames queued while a write is in flight
  std::string writing_;      ///< frames being written
  bool write_in_flight_ = false;
  bool dispatching_ = false;  ///< replies produced while parsing one read go out in one write
  bool close_sent_ = false;
  bool close_received_ = false;
  std::uint64_t rng_;
};

}  // namespace net
