#include "net/server.hpp"

#include "core/log.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>

namespace net {

void responder::operator()(http_response response) {
  asio::post(executor_, [done = std::move(done_), r = std::move(response)]() mutable { std::move(done)(std::move(r)); });
}

http_response http_handler::handle(const http_request&, std::string_view) { return text_response(501); }

namespace {

/// An error the server answers itself (before any handler saw the request), in the configured format.
http_response own_error(const server_limits& limits, int status, std::string_view message) {
  if (!limits.json_errors) return text_response(status, std::string(message));
  std::string_view code = "bad_request";
  switch (status) {
    case 408: code = "timeout"; break;
    case 413: code = "too_large"; break;
    case 414: code = "uri_too_long"; break;
    case 431: code = "headers_too_large"; break;
    case 501: code = "not_implemented"; break;
    case 503: code = "capacity"; break;
    case 505: code = "http_version"; break;
    default: break;
  }
  return json_error(status, code, message);
}

}  // namespace

shared_frame make_text_frame(std::string_view payload) {
  return std::make_shared<const std::string>(ws::encode(ws::opcode::text, payload));
}

namespace {
constexpr auto sweep_period = 250ms;        ///< resolution of every timeout
constexpr std::size_t max_write_batch = 64;  ///< frames gathered into one writev
}  // namespace

/// One accepted socket: HTTP/1.1 keep-alive, optionally upgraded to a WebSocket.
class connection final : public std::enable_shared_from_this<connection>, public ws_connection, private ws::events {
 public:
  connection(server& srv, stream s, std::uint64_t id, std::string ip)
      : srv_(srv), stream_(std::move(s)), id_(id), ip_(std::move(ip)), reader_(srv.limits_.max_message_bytes) {
    deadline_ = clock::now() + srv_.limits_.handshake_timeout;
  }
  ~connection() override { srv_.release(this); }

  std::uint64_t id() const noexcept override { return id_; }
  const std::string& remote_ip() const noexcept override { return ip_; }

  asio::awaitable<void> run();
  void send(const shared_frame& frame) override;
  void close(std::uint16_t code, std::string_view reason) override;

  /// Called by the server's sweep; enforces deadlines and keepalive.
  void check(clock::time_point now);
  /// Server shutdown: close frames to WebSockets, immediate close for HTTP.
  void shut_down();
  void abort() noexcept { stream_.close(); }
  /// Writes the queued frames (called by the server after the current batch of events).
  void flush();
  void half_close() noexcept;

 private:
  asio::awaitable<ws_handler*> serve_http(http_request& upgrade, std::string& inbuf);
  asio::awaitable<http_response> async_handle(http_handler& h, const http_request& req);
  // The WebSocket phase runs on plain callbacks: an idle socket then holds one small pending wait
  // operation instead of a chain of coroutine frames.
  void start_websocket(ws_handler& handler, const http_request& upgrade, std::string early);
  void arm_read();
  void on_readable(const error_code& ec);
  void on_tls_read(const error_code& ec, std::size_t n);
  void handle_chunk(std::span<char> chunk);
  void handle_frames(std::span<char> chunk);
  void finish_websocket();
  void notify_close();
  asio::awaitable<void> write_all(std::string data);
  asio::awaitable<void> writer(std::shared_ptr<connection> self);
  void start_writer();
  void consume(std::size_t written);

  // ws::events
  void on_message(ws::opcode type, std::string_view payload) override;
  void on_ping(std::string_view payload) override;
  void on_pong(std::string_view) override {}
  void on_close(std::uint16_t code, std::string_view reason) override;
  void on_violation(std::uint16_t code, std::string_view what) override;

  server& srv_;
  stream stream_;
  std::uint64_t id_;
  std::string ip_;
  ws::reader reader_;
  ws_handler* handler_ = nullptr;
  std::vector<shared_frame> queue_;
  std::size_t queue_offset_ = 0;  ///< bytes of queue_.front() already written
  std::size_t queue_bytes_ = 0;
  clock::time_point deadline_;
  clock::time_point last_rx_{};
  clock::time_point ping_sent_{};
  bool websocket_ = false;
  bool writing_ = false;
  bool closing_ = false;  ///< close frame queued; no more sends
  bool ping_outstanding_ = false;
  bool reading_ = true;
  bool flush_scheduled_ = false;  ///< false once the reader saw a close frame or a violation
  std::size_t served_ = 0;  ///< HTTP requests answered on this connection
};

void connection::check(clock::time_point now) {
  auto& lim = srv_.limits_;
  if (!websocket_) {
    if (now >= deadline_) {
      ++(served_ > 0 ? srv_.stats_.idle_timeouts : srv_.stats_.handshake_timeouts);
      abort();
    }
    return;
  }
  if (closing_) {
    if (now >= deadline_) abort();  // close frame never flushed
    return;
  }
  if (lim.ws_ping_interval.count() <= 0) return;
  if (ping_outstanding_) {
    if (now - ping_sent_ >= lim.ws_ping_interval) {
      ++srv_.stats_.ping_timeouts;
      core::log::event(*srv_.log_, spdlog::level::info, "ws_ping_timeout", {{"conn", id_}});
      abort();  // the peer is gone; a close handshake would wait on it too
    }
  } else if (now - last_rx_ >= lim.ws_ping_interval) {
    ping_outstanding_ = true;
    ping_sent_ = now;
    ++srv_.stats_.pings_sent;
    send(std::make_shared<const std::string>(ws::encode(ws::opcode::ping, {})));
  }
}

void connection::shut_down() {
  if (websocket_) {
    close(ws::close_code::going_away, "server shutting down");
  } else {
    abort();
  }
}

asio::awaitable<void> connection::write_all(std::string data) {
  const std::vector<asio::const_buffer> bufs{asio::buffer(data)};
  const auto ec = co_await stream_.write(bufs);
  if (ec) abort();
}

asio::awaitable<void> connection::run() {
  if (stream_.is_tls()) {
    if (co_await stream_.handshake()) {
      abort();
      co_return;
    }
  }
  ws_handler* handler = nullptr;
  {
    http_request upgrade;
    std::string inbuf;  // request bytes; what follows an upgrade request belongs to the WebSocket
    handler = co_await serve_http(upgrade, inbuf);
    if (handler) start_websocket(*handler, upgrade, std::move(inbuf));
  }
  if (!handler) abort();
}

// Serves requests until the connection ends (nullptr) or upgrades (the handler; `upgrade` filled in).
asio::awaitable<ws_handler*> connection::serve_http(http_request& upgrade, std::string& inbuf) {
  auto& h = srv_.handler_;
  bool continue_sent = false;
  for (;;) {
    http_request req;
    const auto started = clock::now();
    auto outcome = parse_request(inbuf, srv_.limits_.http, req);
    if (outcome.status == parse_status::need_more) {
      if (outcome.headers_complete && !continue_sent && req.expects_continue()) {
        continue_sent = true;
        co_await write_all("HTTP/1.1 100 Continue\r\n\r\n");
      }
      error_code ec;
      const auto chunk = co_await stream_.read_chunk(ec);
      if (ec || chunk.empty()) co_return nullptr;
      inbuf.append(chunk.data(), chunk.size());
      continue;
    }
    if (outcome.status == parse_status::error) {
      ++srv_.stats_.http_bad_requests;
      auto resp = own_error(srv_.limits_, outcome.error_status, outcome.error);
      for (const auto& extra : srv_.limits_.own_response_headers) resp.headers.push_back(extra);
      auto bytes = serialize(resp, false);
      h.access({ip_, nullptr, resp.status, resp.body.size(), {}});
      core::log::event(*srv_.log_, spdlog::level::info, "http_bad_request",
                       {{"conn", id_}, {"status", outcome.error_status}, {"reason", outcome.error}});
      co_await write_all(std::move(bytes));
      co_return nullptr;
    }
    inbuf.erase(0, outcome.consumed);
    continue_sent = false;
    ++srv_.stats_.http_requests;

    if (req.wants_websocket()) {
      http_response refusal;
      ws_handler* handler = h.websocket(req, refusal);
      bool ok = handler != nullptr;
      auto resp = ok ? ws::handshake_response(req, ok) : std::move(refusal);
      h.access({ip_, &req, resp.status, 0, std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - started)});
      co_await write_all(serialize(resp, ok && req.keep_alive()));
      if (!ok || !stream_.socket().is_open()) co_return nullptr;
      upgrade = std::move(req);
      co_return handler;
    }

    // No deadline while the handler works: a model call may take seconds; the client waits on us.
    deadline_ = clock::time_point::max();
    auto resp = co_await async_handle(h, req);
    const bool keep = req.keep_alive() && !resp.close && !srv_.stopping_;
    auto bytes = serialize(resp, keep, req.method == "HEAD");
    h.access({ip_, &req, resp.status, resp.body.size(),
              std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - started)});
    co_await write_all(std::move(bytes));
    ++served_;
    if (!keep || !stream_.socket().is_open()) co_return nullptr;
    deadline_ = clock::now() + srv_.limits_.http_idle_timeout;
  }
}

asio::awaitable<http_response> connection::async_handle(http_handler& h, const http_request& req) {
  // The initiation is a named object, not a lambda inside the co_await expression: GCC 12 miscompiles
  // the latter at -O2 and above (the response never arrived in release builds).
  struct initiation {
    connection* self;
    http_handler* handler;
    const http_request* request;
    void operator()(asio::any_completion_handler<void(http_response)> done) const {
      handler->handle_async(*request, self->ip_, responder(std::move(done), self->srv_.io_.get_executor()));
    }
  };
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(http_response)>(
      initiation{this, &h, &req}, asio::use_awaitable);
}

void connection::start_websocket(ws_handler& handler, const http_request& upgrade, std::string early) {
  websocket_ = true;
  handler_ = &handler;
  deadline_ = clock::time_point::max();
  last_rx_ = clock::now();
  ++srv_.stats_.open_websockets;
  handler.on_open(*this, upgrade);
  // Bytes that arrived behind the upgrade request belong to the WebSocket.
  if (!early.empty()) handle_chunk(std::span<char>(early.data(), early.size()));
  arm_read();
}

void connection::arm_read() {
  if (!stream_.socket().is_open()) return finish_websocket();
  if (stream_.is_tls()) {
    const auto buf = stream_.tls_buffer();
    stream_.tls().async_read_some(asio::buffer(buf.data(), buf.size()),
                                  [self = shared_from_this()](const error_code& ec, std::size_t n) { self->on_tls_read(ec, n); });
  } else {
    stream_.socket().async_wait(socket_type::wait_read,
                                [self = shared_from_this()](const error_code& ec) { self->on_readable(ec); });
  }
}

void connection::on_readable(const error_code& wait_ec) {
  if (wait_ec) return finish_websocket();
  for (;;) {
    error_code ec;
    const auto chunk = stream_.read_now(ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) break;
    if (ec || chunk.empty()) return finish_websocket();
    handle_chunk(chunk);
    // A read that did not fill the buffer drained the socket; Asio remembers later readiness.
    if (chunk.size() < stream::scratch_capacity()) break;
  }
  arm_read();
}

void connection::on_tls_read(const error_code& ec, std::size_t n) {
  if (ec || n == 0) return finish_websocket();
  handle_chunk(stream_.tls_buffer().first(n));
  arm_read();
}

void connection::handle_chunk(std::span<char> chunk) {
  srv_.begin_batch();
  handle_frames(chunk);
  srv_.end_batch();
}

void connection::handle_frames(std::span<char> chunk) {
  last_rx_ = clock::now();
  ping_outstanding_ = false;
  // Once our close frame is queued, keep reading (and discarding) until the peer closes or the
  // deadline passes, so the close frame is not lost to a reset.
  if (reading_ && !closing_) reading_ = reader_.feed(chunk, *this);
  if (!reading_ || closing_) notify_close();
}

void connection::notify_close() {
  if (!handler_) return;
  auto* handler = handler_;
  handler_ = nullptr;
  --srv_.stats_.open_websockets;
  handler->on_close(*this);
}

void connection::finish_websocket() {
  notify_close();
  abort();
}

void connection::send(const shared_frame& frame) {
  if (closing_ || !stream_.socket().is_open()) return;
  const std::size_t size = frame->size();
  if (queue_bytes_ + size > srv_.limits_.max_send_queue_bytes) {
    ++srv_.stats_.slow_readers;
    core::log::event(*srv_.log_, spdlog::level::warn, "ws_slow_reader", {{"conn", id_}, {"queued", queue_bytes_}});
    abort();
    return;
  }
  ++srv_.stats_.ws_messages_out;
  if (queue_.empty()) queue_offset_ = 0;
  queue_.push_back(frame);
  queue_bytes_ += size;
  // Frames are written when the bytes being handled have been processed (or, outside that, after the
  // current turn of the event loop), so everything a socket is sent meanwhile leaves in one writev.
  if (!writing_ && !flush_scheduled_) {
    flush_scheduled_ = true;
    srv_.schedule_flush(shared_from_this());
  }
}

void connection::flush() {
  flush_scheduled_ = false;
  if (writing_ || queue_.empty() || !stream_.socket().is_open()) return;
  if (stream_.is_tls()) return start_writer();
  std::array<asio::const_buffer, max_write_batch> bufs;
  const std::size_t n = std::min(queue_.size(), max_write_batch);
  bufs[0] = asio::buffer(queue_[0]->data() + queue_offset_, queue_[0]->size() - queue_offset_);
  for (std::size_t i = 1; i < n; ++i) bufs[i] = asio::buffer(*queue_[i]);
  error_code ec;
  std::size_t written = stream_.socket().write_some(std::span(bufs.data(), n), ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    ec = {};
    written = 0;
  }
  if (ec) return abort();
  consume(written);
  if (!queue_.empty()) return start_writer();  // the kernel is full: wait for writability
  queue_ = {};
  if (closing_) half_close();  // the close frame has left
}

void connection::consume(std::size_t written) {
  queue_bytes_ -= std::min(queue_bytes_, written);
  std::size_t done = 0;
  while (done < queue_.size() && written >= queue_[done]->size() - queue_offset_) {
    written -= queue_[done]->size() - queue_offset_;
    queue_offset_ = 0;
    ++done;
  }
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(done));
  queue_offset_ += written;
}

void connection::start_writer() {
  if (writing_) return;
  writing_ = true;
  asio::co_spawn(stream_.socket().get_executor(), writer(shared_from_this()), asio::detached);
}

asio::awaitable<void> connection::writer(std::shared_ptr<connection> /*keep_alive*/) {
  std::vector<asio::const_buffer> bufs;
  while (!queue_.empty()) {
    const std::size_t n = std::min(queue_.size(), max_write_batch);
    const std::vector<shared_frame> batch(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    bufs.clear();
    bufs.push_back(asio::buffer(batch[0]->data() + queue_offset_, batch[0]->size() - queue_offset_));
    for (std::size_t i = 1; i < n; ++i) bufs.push_back(asio::buffer(*batch[i]));
    const auto ec = co_await stream_.write(bufs);
    if (ec) {
      queue_.clear();
      queue_bytes_ = 0;
      abort();
      break;
    }
    std::size_t sent = 0;
    for (const auto& b : bufs) sent += b.size();
    consume(sent);
  }
  if (queue_.empty()) queue_ = {};  // give the memory back; most sockets are idle
  writing_ = false;
  if (closing_) half_close();  // the close frame has been flushed
}

void connection::close(std::uint16_t code, std::string_view reason) {
  if (closing_) return;
  if (!websocket_) {
    abort();
    return;
  }
  auto frame = std::make_shared<const std::string>(ws::encode_close(code, reason));
  send(frame);
  closing_ = true;                // the flush half-closes once the close frame has left
  deadline_ = clock::now() + 2s;  // give the close frame a moment to leave
}

void connection::on_message(ws::opcode type, std::string_view payload) {
  ++srv_.stats_.ws_messages_in;
  if (handler_) handler_->on_message(*this, type, payload);
}

void connection::on_ping(std::string_view payload) {
  send(std::make_shared<const std::string>(ws::encode(ws::opcode::pong, payload)));
}

void connection::on_close(std::uint16_t code, std::string_view) {
  close(code == 1005 ? ws::close_code::normal : code, {});
}

void connection::on_violation(std::uint16_t code, std::string_view what) {
  ++(code == ws::close_code::too_big ? srv_.stats_.too_big : srv_.stats_.protocol_errors);
  core::log::event(*srv_.log_, spdlog::level::info, "ws_violation", {{"conn", id_}, {"code", code}, {"what", what}});
  close(code, what);
}

server::server(asio::io_context& io, server_limits limits, http_handler& handler, asio::ssl::context* tls,
               std::shared_ptr<spdlog::logger> log)
    : io_(io), limits_(std::move(limits)), handler_(handler), tls_(tls), log_(std::move(log)), sweep_timer_(io), shutdown_timer_(io) {}

server::~server() {
  for (auto* c : connections_) c->abort();
}

std::uint16_t server::listen(const std::string& address, std::uint16_t port) {
  auto acceptor = std::make_unique<acceptor_type>(io_);
  const tcp::endpoint ep(asio::ip::make_address(address), port);
  acceptor->open(ep.protocol());
  acceptor->set_option(acceptor_type::reuse_address(true));
  acceptor->bind(ep);
  acceptor->listen(asio::socket_base::max_listen_connections);
  const auto bound = acceptor->local_endpoint().port();
  asio::co_spawn(io_, accept_loop(*acceptor), asio::detached);
  acceptors_.push_back(std::move(acceptor));
  start_sweep();
  return bound;
}

asio::awaitable<void> server::accept_loop(acceptor_type& acceptor) {
  asio::steady_timer backoff(io_);
  while (!stopping_) {
    error_code ec;
    socket_type socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || stopping_) break;
    if (ec) {
      // EMFILE and friends: back off instead of spinning on a full fd table.
      core::log::event(*log_, spdlog::level::warn, "accept_failed", {{"error", ec.message()}});
      backoff.expires_after(100ms);
      co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    error_code ep_ec;
    const auto remote = socket.remote_endpoint(ep_ec);
    if (ep_ec) continue;
    auto ip = remote.address().to_string();
    auto& count = per_ip_[ip];
    const bool over_ip = count >= limits_.max_sockets_per_ip;
    const bool over_total = stats_.open_sockets >= limits_.max_sockets;
    if (over_ip || over_total) {
      ++(over_ip ? stats_.refused_per_ip : stats_.refused_capacity);
      if (count == 0) per_ip_.erase(ip);
      if (busy_response_.empty()) {
        auto r = own_error(limits_, 503, "too many connections");
        r.headers.emplace_back("Retry-After", "5");
        for (const auto& h : limits_.own_response_headers) r.headers.push_back(h);
        busy_response_ = serialize(r, false);
      }
      const std::string& busy = busy_response_;
      socket.non_blocking(true, ep_ec);
      socket.write_some(asio::buffer(busy), ep_ec);
      socket.close(ep_ec);
      continue;
    }
    ++count;
    ++stats_.accepted;
    ++stats_.open_sockets;
    auto s = tls_ ? stream(std::move(socket), *tls_) : stream(std::move(socket));
    auto c = std::make_shared<connection>(*this, std::move(s), next_id_++, std::move(ip));
    connections_.insert(c.get());
    asio::co_spawn(io_, [c]() -> asio::awaitable<void> { co_await c->run(); }, asio::detached);
  }
}

void server::schedule_flush(std::shared_ptr<connection> c) {
  to_flush_.push_back(std::move(c));
  // Inside a batch (handling received bytes) the batch's end flushes; otherwise post one flush, which
  // runs after the completions already queued from the same poll of the reactor.
  if (batch_depth_ > 0 || flush_posted_) return;
  flush_posted_ = true;
  asio::post(io_, [this] {
    flush_posted_ = false;
    run_flushes();
  });
}

void server::run_flushes() {
  auto batch = std::move(to_flush_);
  to_flush_ = {};
  for (auto& pending : batch) pending->flush();
}

void server::begin_batch() noexcept { ++batch_depth_; }

void server::end_batch() {
  if (--batch_depth_ == 0 && !to_flush_.empty()) run_flushes();
}

void server::release(connection* c) {
  connections_.erase(c);
  if (stopping_ && connections_.empty()) {
    // Nothing left to drain: let the io_context run out of work now rather than at the grace deadline.
    shutdown_timer_.cancel();
    sweep_timer_.cancel();
  }
  --stats_.open_sockets;
  if (auto it = per_ip_.find(c->remote_ip()); it != per_ip_.end() && --it->second == 0) per_ip_.erase(it);
}

void server::start_sweep() {
  if (sweeping_) return;
  sweeping_ = true;
  arm_sweep();
}

void server::arm_sweep() {
  sweep_timer_.expires_after(sweep_period);
  sweep_timer_.async_wait([this](const error_code& ec) {
    if (ec) return;
    sweep();
    if (stopping_ && connections_.empty()) return;
    arm_sweep();
  });
}

void server::sweep() {
  const auto now = clock::now();
  // check() may close a connection, which erases it from the set; iterate over a copy.
  std::vector<connection*> snapshot(connections_.begin(), connections_.end());
  for (auto* c : snapshot)
    if (connections_.contains(c)) c->check(now);
}

void server::shutdown(std::chrono::milliseconds grace) {
  if (stopping_) return;
  stopping_ = true;
  error_code ec;
  for (auto& a : acceptors_) a->close(ec);
  std::vector<connection*> snapshot(connections_.begin(), connections_.end());
  for (auto* c : snapshot)
    if (connections_.contains(c)) c->shut_down();
  shutdown_timer_.expires_after(grace);
  shutdown_timer_.async_wait([this](const error_code& e) {
    if (e) return;
    std::vector<connection*> rest(connections_.begin(), connections_.end());
    for (auto* c : rest)
      if (connections_.contains(c)) c->abort();
  });
  if (connections_.empty()) {
    sweep_timer_.cancel();
    shutdown_timer_.cancel();
  }
}

void connection::half_close() noexcept {
  error_code ec;
  stream_.socket().shutdown(socket_type::shutdown_send, ec);
}

}  // namespace net
