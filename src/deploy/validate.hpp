#pragma once
// Lint for a stack spec: the mistakes that make a deployment silently not work (a port two services want, a
// renderer told not to render, a TURN server browsers cannot reach, a job with no end). Each finding has a stable
// id, a severity, where it is in the file and how to fix it.

#include "deploy/spec.hpp"

#include <string>
#include <vector>

namespace deploy {

enum class severity { error, warning };

struct finding {
  std::string id;  ///< stable, e.g. port-collision; tests and docs refer to it
  severity level = severity::error;
  source_pos at;   ///< 0:0 when it concerns the whole file
  std::string message;
  std::string hint;
};

/// Every finding for `spec`, errors first, each group in file order.
std::vector<finding> validate(const stack_spec& spec);

/// True when a finding is an error (the stack must not be rendered or started).
bool has_errors(const std::vector<finding>& findings);

/// "file:line:col: error[id]: message\n  hint: ..."
std::string format_finding(const stack_spec& spec, const finding& f);

/// Wall time "[D-]HH:MM:SS", "MM:SS", "M" (minutes) as SLURM reads it, in seconds; -1 when it does not parse,
/// 0 for UNLIMITED/INFINITE.
long long parse_slurm_time(std::string_view text);

}  // namespace deploy
