#include "net/tls.hpp"

#include <filesystem>
#include <stdexcept>

namespace net {

std::unique_ptr<boost::asio::ssl::context> make_server_tls(const std::string& cert_file, const std::string& key_file) {
  namespace ssl = boost::asio::ssl;
  for (const auto& f : {cert_file, key_file})
    if (!std::filesystem::exists(f)) throw std::runtime_error("TLS file not found: " + f);
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(cert_file, ec);
  if (ec) throw std::runtime_error("cannot load TLS certificate " + cert_file + ": " + ec.message());
  ctx->use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec) throw std::runtime_error("cannot load TLS key " + key_file + ": " + ec.message());
  return ctx;
}

}  // namespace net
