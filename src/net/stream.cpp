#include "net/stream.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>

namespace net {
namespace {

constexpr std::size_t scratch_bytes = std::size_t{64} * 1024;  ///< one read syscall's worth; shared by all plain sockets of a thread
constexpr std::size_t tls_buffer_bytes = std::size_t{17} * 1024;  ///< one TLS record plus overhead

std::span<char> scratch() {
  thread_local std::array<char, scratch_bytes> buffer{};
  return {buffer.data(), buffer.size()};
}

}  // namespace

stream::stream(socket_type socket) : plain_(std::move(socket)) {
  error_code ec;
  plain_.non_blocking(true, ec);
  plain_.set_option(tcp::no_delay(true), ec);
}

stream::stream(socket_type socket, asio::ssl::context& tls)
    : tls_(std::make_unique<asio::ssl::stream<socket_type>>(std::move(socket), tls)),
      plain_(tls_->get_executor()) {
  error_code ec;
  tls_->next_layer().set_option(tcp::no_delay(true), ec);
}

socket_type& stream::socket() noexcept { return tls_ ? tls_->next_layer() : plain_; }

asio::awaitable<error_code> stream::handshake() {
  error_code ec;
  if (tls_) co_await tls_->async_handshake(asio::ssl::stream_base::server, asio::redirect_error(asio::use_awaitable, ec));
  co_return ec;
}

asio::awaitable<std::span<char>> stream::read_chunk(error_code& ec) {
  ec = {};
  if (tls_) {
    const auto buf = tls_buffer();
    const std::size_t n =
        co_await tls_->async_read_some(asio::buffer(buf.data(), buf.size()), asio::redirect_error(asio::use_awaitable, ec));
    co_return buf.first(ec ? 0 : n);
  }
  for (;;) {
    const auto buf = scratch();
    const std::size_t n = plain_.read_some(asio::buffer(buf.data(), buf.size()), ec);
    if (!ec) co_return buf.first(n);
    if (ec != asio::error::would_block && ec != asio::error::try_again) co_return std::span<char>{};
    co_await plain_.async_wait(socket_type::wait_read, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return std::span<char>{};
  }
}

std::span<char> stream::read_now(error_code& ec) {
  const auto buf = scratch();
  const std::size_t n = plain_.read_some(asio::buffer(buf.data(), buf.size()), ec);
  return ec ? std::span<char>{} : buf.first(n);
}

std::size_t stream::scratch_capacity() noexcept { return scratch_bytes; }

std::span<char> stream::tls_buffer() {
  if (!tls_buffer_) tls_buffer_ = std::make_unique<char[]>(tls_buffer_bytes);
  return {tls_buffer_.get(), tls_buffer_bytes};
}


asio::awaitable<error_code> stream::write(const std::vector<asio::const_buffer>& buffers) {
  error_code ec;
  if (tls_) {
    co_await asio::async_write(*tls_, buffers, asio::redirect_error(asio::use_awaitable, ec));
  } else {
    co_await asio::async_write(plain_, buffers, asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return ec;
}

void stream::close() noexcept {
  error_code ec;
  auto& s = socket();
  if (s.is_open()) {
    s.cancel(ec);
    s.shutdown(socket_type::shutdown_both, ec);
    s.close(ec);
  }
}

}  // namespace net
