#pragma once
#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <string>

namespace net {

/// A server TLS context (TLS 1.2+) from PEM files. Throws std::runtime_error with a clear message
/// naming the file when a file is missing or unreadable (a start-up failure).
std::unique_ptr<boost::asio::ssl::context> make_server_tls(const std::string& cert_file, const std::string& key_file);

}  // namespace net
