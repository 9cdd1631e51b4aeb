#include "deploy/tools.hpp"

#include "deploy/render.hpp"
#include "deploy/runner.hpp"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>


namespace deploy {

namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Runs argv and captures its standard output (bounded); the exit code goes to `code`.
std::string capture(const std::vector<std::string>& argv, int& code) {
  int fds[2];
  if (::pipe(fds) != 0) {
    code = 127;
    return {};
  }
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  cargv.reserve(args.size() + 1);
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execvp(cargv[0], cargv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  while (true) {
    const auto n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (out.size() < (std::size_t{1} << 20)) out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return out;
}

fs::path slurm_jobs_file(const tool_context& ctx) { return ctx.state_dir / "slurm" / "jobs"; }

std::vector<std::string> recorded_jobs(const tool_context& ctx) {
  std::vector<std::string> ids;
  std::istringstream in(read_text(slurm_jobs_file(ctx)));
  for (std::string id; in >> id;) ids.push_back(id);
  return ids;
}

int missing(const tool_context& ctx, const std::string& tool, const std::string& what) {
  ctx.say("sparc: " + tool + " is not installed here; " + what);
  return 3;
}

}  // namespace

bool have_tool(const std::string& name) { return !search_path(name).empty(); }

int run_tool(const std::vector<std::string>& argv, const fs::path& cwd, const std::map<std::string, std::string>& env) {
  if (argv.empty()) return 127;
  auto env_text = environment_with(env);
  std::vector<char*> envp;
  envp.reserve(env_text.size() + 1);
  for (auto& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  cargv.reserve(args.size() + 1);
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const std::string dir = cwd.string();
  const pid_t pid = ::fork();
  if (pid < 0) return 127;
  if (pid == 0) {
    if (!dir.empty() && ::chdir(dir.c_str()) != 0) ::_exit(126);
    ::execvpe(cargv[0], cargv.data(), envp.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::vector<fs::path> write_rendered(const std::vector<rendered_file>& files, const fs::path& root) {
  std::vector<fs::path> written;
  written.reserve(files.size());
  for (const auto& f : files) {
    const auto path = root / f.path;
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary | std::ios::trunc) << f.content;
    if (f.executable)
      fs::permissions(path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                fs::perms::others_read | fs::perms::others_exec,
                      fs::perm_options::replace);
    written.push_back(path);
  }
  return written;
}

fs::path render_into(const stack& st, const std::string& target, const tool_context& ctx) {
  auto root = ctx.state_dir / "render";
  (void)write_rendered(render(st, target), root);
  return root;
}

int build_images(const stack& st, const tool_context& ctx, bool prebuilt, const std::vector<std::string>& targets) {
  if (!have_tool("podman")) return missing(ctx, "podman", "install it (apt-get install podman) to build images");
  if (!fs::exists(ctx.source_dir / "CMakePresets.json")) {
    ctx.say("sparc: " + ctx.source_dir.string() + " is not the SPARC source tree (the build context); pass --context");
    return 2;
  }
  const auto root = render_into(st, "containerfiles", ctx);
  std::vector<std::string> argv{(root / "containerfiles" / "build.sh").string()};
  std::map<std::string, std::string> env;
  if (prebuilt) {
    argv.emplace_back("--prebuilt");
    std::error_code ec;
    auto rel = fs::relative(ctx.bin_dir, ctx.source_dir, ec);
    if (ec || rel.empty() || rel.native().starts_with("..")) {
      ctx.say("sparc: --prebuilt needs the build folder inside the source tree (" + ctx.bin_dir.string() + ")");
      return 2;
    }
    env["BIN_DIR"] = rel.generic_string();
  }
  argv.insert(argv.end(), targets.begin(), targets.end());
  ctx.say("Building the images of '" + st.spec.name + "' with podman (context " + ctx.source_dir.string() + ")");
  return run_tool(argv, ctx.source_dir, env);
}

int build_sifs(const stack& st, const tool_context& ctx) {
  if (!have_tool("podman"))
    return missing(ctx, "podman", "the SIFs are built from `podman save` archives of the images (`sparc build`)");
  const auto root = render_into(st, "apptainer", ctx);
  const auto sif_dir = fs::path(st.spec.hpc.sif_dir).is_absolute() ? fs::path(st.spec.hpc.sif_dir)
                                                                     : ctx.state_dir / st.spec.hpc.sif_dir;
  ctx.say(have_tool("apptainer") ? "Building SIFs into " + sif_dir.string()
                                 : "apptainer is not installed here: writing the image archives; run the rendered "
                                   "apptainer/build-sifs.sh where apptainer is (e.g. the cluster)");
  return run_tool({(root / "apptainer" / "build-sifs.sh").string()}, root,
                  {{"SPARC_SIF_DIR", sif_dir.string()}});
}

std::string recorded_runtime(const fs::path& state_dir) {
  auto text = read_text(state_dir / "runtime");
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text.empty() ? "process" : text;
}

int podman_up(const stack& st, const tool_context& ctx) {
  if (!have_tool("podman")) return missing(ctx, "podman", "use `sparc up` (the process runtime) instead");
  const auto root = render_into(st, "pod", ctx);
  (void)render_into(st, "coturn", ctx);
  std::ofstream(ctx.state_dir / "runtime", std::ios::trunc) << "podman\n";
  ctx.say("Starting stack '" + st.spec.name + "' as a podman pod (images from `sparc build`)");
  const int rc = run_tool({(root / "pod" / (st.spec.name + "-pod.sh")).string()}, root);
  if (rc != 0) fs::remove(ctx.state_dir / "runtime");
  return rc;
}

int podman_down(const stack& st, const tool_context& ctx) {
  if (!have_tool("podman")) return missing(ctx, "podman", "nothing to stop");
  const auto root = render_into(st, "pod", ctx);
  const int rc = run_tool({(root / "pod" / (st.spec.name + "-pod-down.sh")).string()}, root);
  std::error_code ec;
  fs::remove(ctx.state_dir / "runtime", ec);
  return rc;
}

int podman_status(const stack& st, const tool_context& ctx) {
  if (!have_tool("podman")) return missing(ctx, "podman", "no pod can be running");
  int code = 0;
  const auto out = capture({"podman", "ps", "-a", "--filter", "pod=" + st.spec.name, "--format",
                            "{{.Names}}\t{{.Status}}"},
                           code);
  if (code != 0 || out.empty()) {
    ctx.say("The pod '" + st.spec.name + "' is not running (`sparc up --runtime podman`).");
    return 3;
  }
  ctx.say("Pod '" + st.spec.name + "':");
  bool all = true;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("-infra") != std::string::npos) continue;
    ctx.say("  " + line);
    if (line.find("(healthy)") == std::string::npos && line.find("Up ") == std::string::npos) all = false;
    if (line.find("unhealthy") != std::string::npos) all = false;
  }
  return all ? 0 : 1;
}

int podman_logs(const stack& st, const tool_context& ctx, const std::string& service, int lines, bool follow) {
  if (!have_tool("podman")) return missing(ctx, "podman", "no pod logs here");
  std::vector<std::string> argv{"podman", "logs", "--tail", std::to_string(lines)};
  if (follow) argv.emplace_back("-f");
  argv.push_back(st.spec.name + "-" + service);
  return run_tool(argv, {});
}

int slurm_submit(const stack& st, const tool_context& ctx) {
  if (!have_tool("sbatch")) return missing(ctx, "SLURM (sbatch)", "run this on the cluster's login node");
  const auto root = render_into(st, "slurm", ctx);
  // sbatch --parsable prints "JOBID[;CLUSTER]".
  const auto submit = [&](const std::vector<std::string>& argv, int& code) {
    auto id = capture(argv, code);
    id = id.substr(0, id.find_first_of(";\n "));
    return id;
  };
  const auto export_state = "--export=ALL,SPARC_STATE=" + ctx.state_dir.string();
  int code = 0;
  const auto backend = submit({"sbatch", "--parsable", "--chdir=" + root.string(), export_state,
                               (root / "slurm" / "backend.sbatch").string()},
                              code);
  if (code != 0 || backend.empty()) {
    ctx.say("sparc: sbatch refused the backend job (exit " + std::to_string(code) + ")");
    return 1;
  }
  ctx.say("Submitted the backend job " + backend);
  const auto render_job = submit({"sbatch", "--parsable", "--dependency=after:" + backend, "--chdir=" + root.string(),
                                  export_state, (root / "slurm" / "render.sbatch").string()},
                                 code);
  fs::create_directories(slurm_jobs_file(ctx).parent_path());
  std::ofstream(slurm_jobs_file(ctx), std::ios::trunc) << backend << "\n" << render_job << "\n";
  if (code != 0 || render_job.empty()) {
    ctx.say("sparc: sbatch refused the render array (exit " + std::to_string(code) + "); the backend job runs alone");
    return 1;
  }
  ctx.say("Submitted the render array " + render_job + " (" + std::to_string(st.spec.renderer.instances) +
          " task(s)); `sparc slurm status` follows them, `sparc slurm cancel` stops both");
  return 0;
}

int slurm_status(const tool_context& ctx) {
  if (!have_tool("squeue")) return missing(ctx, "SLURM (squeue)", "run this on the cluster's login node");
  const auto ids = recorded_jobs(ctx);
  if (ids.empty()) {
    ctx.say("No jobs submitted from " + ctx.state_dir.string() + " (`sparc slurm submit`).");
    return 3;
  }
  std::string list;
  for (const auto& id : ids) list += (list.empty() ? "" : ",") + id;
  return run_tool({"squeue", "--jobs=" + list, "--format=%.18i %.24j %.9T %.10M %.10l %R"}, {});
}

int slurm_cancel(const tool_context& ctx) {
  if (!have_tool("scancel")) return missing(ctx, "SLURM (scancel)", "run this on the cluster's login node");
  const auto ids = recorded_jobs(ctx);
  if (ids.empty()) {
    ctx.say("No jobs submitted from " + ctx.state_dir.string() + ".");
    return 3;
  }
  std::vector<std::string> argv{"scancel"};
  argv.insert(argv.end(), ids.begin(), ids.end());
  const int rc = run_tool(argv, {});
  if (rc == 0) {
    ctx.say("Cancelled " + std::to_string(ids.size()) + " job(s).");
    fs::remove(slurm_jobs_file(ctx));
  }
  return rc;
}

}  // namespace deploy
