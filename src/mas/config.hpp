#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mas {

/// Settings of sparc-mas; every one has a flag and a SPARC_MAS_* variable (see --help).
struct config {
  std::string bind = "127.0.0.1";
  std::uint16_t port = 8000;
  std::string db = "sparc-mas.db";
  std::string data_dir;  ///< personas live in <data_dir>/personas
  std::string api_keys_file;  ///< one key per line; empty: no auth (allowed only on loopback)
  std::vector<std::string> cors_origins;
  std::string ready_file;
  std::string log_level = "info";
  std::string log_format = "json";
  std::size_t max_sessions = 10000;
  std::vector<std::string> api_keys;  ///< loaded from api_keys_file
};

/// What the command line asks for: run the service, verify the audit chain, or exit with a code.
struct cli_result {
  std::optional<config> cfg;
  bool audit_verify = false;
  int exit_code = 0;
};

cli_result parse_command_line(int argc, const char* const* argv);

/// True for addresses only this machine can reach (127.0.0.0/8, ::1).
bool is_loopback(const std::string& address);

}  // namespace mas
