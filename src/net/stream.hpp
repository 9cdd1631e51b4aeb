#pragma once
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <memory>
#include <span>
#include <vector>

namespace net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
/// Sockets bound to the io_context's own executor type: 40 bytes instead of 88 with any_io_executor, which
/// matters for thousands of idle connections.
using socket_type = asio::basic_stream_socket<tcp, asio::io_context::executor_type>;
using acceptor_type = asio::basic_socket_acceptor<tcp, asio::io_context::executor_type>;

/// One accepted TCP connection, plain or TLS. Plain reads wait for readability and then read into a
/// per-thread scratch buffer, so an idle connection holds no read buffer at all (thousands of idle
/// signaling sockets are the normal load).
class stream {
 public:
  explicit stream(socket_type socket);
  stream(socket_type socket, asio::ssl::context& tls);

  bool is_tls() const noexcept { return tls_ != nullptr; }
  socket_type& socket() noexcept;

  /// Runs the TLS server handshake (no-op for plain).
  asio::awaitable<error_code> handshake();

  /// Reads the next chunk. The returned bytes stay valid until the next co_await on this thread.
  asio::awaitable<std::span<char>> read_chunk(error_code& ec);

  /// Plain only: one non-blocking read into the thread's scratch buffer (would_block when drained).
  /// The bytes stay valid until the next read on this thread.
  std::span<char> read_now(error_code& ec);
  /// Plain only: capacity of the scratch buffer (a read that fills it may have left more behind).
  static std::size_t scratch_capacity() noexcept;

  /// TLS only: the stream and a per-connection buffer for callback-style reads.
  asio::ssl::stream<socket_type>& tls() noexcept { return *tls_; }
  std::span<char> tls_buffer();

  /// Writes all buffers.
  asio::awaitable<error_code> write(const std::vector<asio::const_buffer>& buffers);

  /// Cancels pending operations and closes the socket; safe to call more than once.
  void close() noexcept;

 private:
  std::unique_ptr<asio::ssl::stream<socket_type>> tls_;
  socket_type plain_;
  std::unique_ptr<char[]> tls_buffer_;
};

}  // namespace net
