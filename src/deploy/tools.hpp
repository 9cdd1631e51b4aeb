#pragma once
// The commands that drive other tools with rendered artifacts: `sparc build` (podman images), `sparc sif`
// (Apptainer), `sparc up --runtime podman` and its down/status/logs, and `sparc slurm submit|status|cancel`.
// Each renders what it needs into the state folder, then runs the rendered script or the tool, its output passed
// through, and says clearly when the tool is missing.

#include "deploy/model.hpp"
#include "deploy/render.hpp"

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace deploy {

struct tool_context {
  std::filesystem::path state_dir;   ///< renders go to state_dir/render/<target>, job ids to state_dir/slurm
  std::filesystem::path source_dir;  ///< the repository (the image build context)
  std::filesystem::path bin_dir;     ///< release binaries for --prebuilt (the build folder holding apps/)
  std::function<void(const std::string&)> say;
};

/// Runs argv (argv[0] looked up on PATH) in `cwd` with `env` added, output passed through; its exit code, 127 when
/// the program cannot be run.
int run_tool(const std::vector<std::string>& argv, const std::filesystem::path& cwd,
             const std::map<std::string, std::string>& env = {});

/// True when `name` is an executable on PATH.
bool have_tool(const std::string& name);

/// Writes rendered files under `root` (scripts executable); returns their paths.
std::vector<std::filesystem::path> write_rendered(const std::vector<rendered_file>& files,
                                                  const std::filesystem::path& root);

/// Writes the files of `target` under state_dir/render/ and returns that folder.
std::filesystem::path render_into(const stack& st, const std::string& target, const tool_context& ctx);

int build_images(const stack& st, const tool_context& ctx, bool prebuilt, const std::vector<std::string>& targets);
int build_sifs(const stack& st, const tool_context& ctx);

int podman_up(const stack& st, const tool_context& ctx);
int podman_down(const stack& st, const tool_context& ctx);
int podman_status(const stack& st, const tool_context& ctx);
int podman_logs(const stack& st, const tool_context& ctx, const std::string& service, int lines, bool follow);
/// The runtime `sparc up` last used from this state folder ("process" when none is recorded).
std::string recorded_runtime(const std::filesystem::path& state_dir);

int slurm_submit(const stack& st, const tool_context& ctx);
int slurm_status(const tool_context& ctx);
int slurm_cancel(const tool_context& ctx);

}  // namespace deploy
