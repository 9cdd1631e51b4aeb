#pragma once
// The process runtime: `sparc up` starts the stack's services as local processes in dependency order, waits for
// each to be healthy, restarts crashed ones with backoff and stops them all cleanly; `down`, `status` and `logs`
// work on the state folder it keeps (pids, state.json, one log per service).

#include "deploy/model.hpp"

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace deploy {

struct runner_options {
  std::filesystem::path state_dir;  ///< pids, state.json, logs/, data/
  std::filesystem::path spec_dir;   ///< relative secret paths resolve against it
  std::filesystem::path bin_dir;    ///< where sparc-* binaries are; empty: next to `sparc`, then PATH
  std::chrono::seconds health_timeout{30};
  bool detach = false;              ///< return once healthy and leave a supervisor running in the background
  std::function<void(const std::string&)> say;  ///< progress lines for the user
};

/// Runs the stack until SIGINT/SIGTERM (or, with detach, until it is healthy). Exit code: 0 ok, 1 a service failed
/// to start, 2 nothing started (already up, a port taken, a program missing).
int up(const stack& st, const runner_options& opt);

/// Stops a stack started with `up` (its supervisor and every service). Exit code 0, or 3 when nothing was running.
int down(const std::filesystem::path& state_dir, std::chrono::seconds timeout,
         const std::function<void(const std::string&)>& say);

/// A table of the services, their state, restarts and a fresh health probe. 0: all healthy, 1: not all, 3: not up.
int status(const std::filesystem::path& state_dir, bool as_json, const std::function<void(const std::string&)>& say);

/// Prints the last `lines` lines of a service's log; with follow, keeps printing what is appended until SIGINT.
int logs(const std::filesystem::path& state_dir, const std::string& service, int lines, bool follow,
         const std::function<void(const std::string&)>& say);

/// `program` in one of PATH's folders; empty when it is in none.
std::filesystem::path search_path(const std::string& program);

/// This process's environment with `extra` set on top, as KEY=VALUE strings for execve.
std::vector<std::string> environment_with(const std::map<std::string, std::string>& extra);

/// Where `program` is: an absolute/relative path as given, `bin_dir`, the build tree or install folder next to the
/// running `sparc`, then PATH. Empty when not found.
std::filesystem::path find_program(const std::string& program, const std::filesystem::path& bin_dir);

}  // namespace deploy
