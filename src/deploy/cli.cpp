#include "deploy/cli.hpp"

#include "deploy/check.hpp"
#include "deploy/render.hpp"
#include "deploy/runner.hpp"
#include "deploy/tools.hpp"
#include "deploy/validate.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

namespace deploy {

namespace fs = std::filesystem;

namespace {

void say(const std::string& line) {
  std::cout << line << std::endl;  // progress must show up as it happens, also through a pipe
}

void err(const std::string& line) { std::cerr << line << std::endl; }

/// The spec a command works on: the file, or the embedded defaults when there is none and that was not asked for.
struct loaded {
  std::optional<stack_spec> spec;
  fs::path dir;  ///< relative paths in the spec resolve against this
  int exit_code = 0;
};

loaded load(const std::string& file, bool explicit_file) {
  loaded out;
  std::string text;
  std::string name = file;
  if (fs::exists(file)) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream buf;
    buf << in.rdbuf();
    text = buf.str();
    out.dir = fs::absolute(file).parent_path();
  } else if (explicit_file) {
    err("sparc: " + file + " does not exist (`sparc init` writes one)");
    out.exit_code = 2;
    return out;
  } else {
    text = default_spec_text();
    name = "(embedded defaults)";
    out.dir = fs::current_path();
  }
  auto parsed = parse_spec(text, name);
  if (!parsed.spec) {
    for (const auto& e : parsed.errors) err(e.to_string());
    err("sparc: " + std::to_string(parsed.errors.size()) + " error(s) in " + name);
    out.exit_code = 2;
    return out;
  }
  out.spec = std::move(parsed.spec);
  return out;
}

/// Prints the findings; false when any is an error.
bool lint(const stack_spec& spec, bool quiet_when_clean) {
  const auto findings = validate(spec);
  for (const auto& f : findings) err(format_finding(spec, f));
  const auto errors = std::count_if(findings.begin(), findings.end(), [](const finding& f) { return f.level == severity::error; });
  if (!findings.empty() || !quiet_when_clean)
    err(spec.file + ": " + std::to_string(errors) + " error(s), " + std::to_string(findings.size() - static_cast<std::size_t>(errors)) +
        " warning(s)");
  return errors == 0;
}

/// A spec about to be rendered or run: loaded, and lint errors refused (exit code 2).
loaded load_linted(const std::string& file, bool explicit_file) {
  auto l = load(file, explicit_file);
  if (l.spec && !lint(*l.spec, true)) {
    err("sparc: fix the errors above first");
    l.spec.reset();
    l.exit_code = 2;
  }
  return l;
}

fs::path state_dir_of(const loaded& l) {
  const fs::path p(l.spec->state_dir);
  return p.is_absolute() ? p : l.dir / p;
}

tool_context tools_of(const loaded& l, const std::string& context_dir) {
  tool_context t;
  t.state_dir = state_dir_of(l);
  t.source_dir = context_dir.empty() ? fs::path(SPARC_SOURCE_DIR) : fs::path(context_dir);
  if (!fs::exists(t.source_dir / "CMakePresets.json")) t.source_dir = fs::current_path();
  std::error_code ec;
  // build/<preset>/apps/sparc/sparc: the build folder holding the binaries a --prebuilt image copies.
  const auto self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) t.bin_dir = self.parent_path().parent_path().parent_path();
  t.say = say;
  return t;
}

/// host and port of "http://host:port[/...]" (or "host:port").
bool split_url(const std::string& url, std::string& host, std::uint16_t& port) {
  auto rest = url;
  if (const auto s = rest.find("://"); s != std::string::npos) rest = rest.substr(s + 3);
  rest = rest.substr(0, rest.find('/'));
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos) {
    host = rest;
    port = url.starts_with("https") ? 443 : 80;
    return !host.empty();
  }
  host = rest.substr(0, colon);
  const auto value = std::strtoul(rest.c_str() + colon + 1, nullptr, 10);
  if (value == 0 || value > 65535) return false;
  port = static_cast<std::uint16_t>(value);
  return !host.empty();
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{"sparc: one stack spec (sparc.toml) -> a running, checked SPARC stack.\n"
               "Without sparc.toml in the current folder, the embedded defaults describe a local stack\n"
               "(sparc-signal :8080, sparc-mas :8000, one sparc-stream renderer) on 127.0.0.1."};
  app.require_subcommand(1);
  std::string file = "sparc.toml";
  auto* file_opt = app.add_option("-f,--file", file, "The stack spec")->envname("SPARC_SPEC")->capture_default_str();

  int code = 0;

  auto* init = app.add_subcommand("init", "Write a commented sparc.toml with the defaults");
  bool force = false;
  init->add_flag("--force", force, "Overwrite an existing file");
  init->callback([&] {
    if (fs::exists(file) && !force) {
      err("sparc: " + file + " exists; --force overwrites it");
      code = 2;
      return;
    }
    std::ofstream(file, std::ios::trunc) << default_spec_text();
    say("Wrote " + file + ". Next: `sparc validate`, then `sparc up`.");
  });

  auto* val = app.add_subcommand("validate", "Lint the spec: port collisions, UDP ranges, TURN reachability, Unity "
                                             "flags, GPUs, wall times, secrets (exit 1 on errors)");
  val->callback([&] {
    auto l = load(file, file_opt->count() > 0);
    if (!l.spec) {
      code = l.exit_code;
      return;
    }
    code = lint(*l.spec, false) ? 0 : 1;
  });

  auto* render_cmd = app.add_subcommand("render", "Write the deployment artifacts for a target (containerfiles, pod, "
                                                  "kube, quadlet, apptainer, slurm, coturn, or all) into a folder");
  std::string target = "all";
  std::string out_dir = "deploy";
  std::vector<std::string> target_names{"all"};
  for (const auto& t : render_targets()) target_names.push_back(t);
  render_cmd->add_option("-t,--target", target, "What to render")->check(CLI::IsMember(target_names))->capture_default_str();
  render_cmd->add_option("-o,--output", out_dir, "Folder to write into (created; files in it are replaced)")
      ->capture_default_str();
  render_cmd->callback([&] {
    auto l = load_linted(file, file_opt->count() > 0);
    if (!l.spec) {
      code = l.exit_code;
      return;
    }
    const auto t0 = std::chrono::steady_clock::now();
    const auto files = render(build_stack(*l.spec), target);
    const auto took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
    const fs::path root(out_dir);
    for (const auto& path : write_rendered(files, root)) say("  wrote " + path.string());
    say("Rendered " + std::to_string(files.size()) + " file(s) for '" + target + "' into " + root.string() + " in " +
        std::to_string(took.count() / 1000) + "." + std::to_string(took.count() % 1000 / 100) + " ms");
  });

  auto* up_cmd = app.add_subcommand("up", "Start the stack, each service healthy before the next: local processes "
                                          "that are restarted when they crash (Ctrl-C stops everything), or with "
                                          "--runtime podman the rendered pod");
  std::string runtime = "process";
  bool detach = false;
  std::string bin_dir;
  int health_timeout = 30;
  up_cmd->add_option("--runtime", runtime,
                     "process: local processes, no containers; podman: the rendered pod (images from `sparc build`)")
      ->check(CLI::IsMember({"process", "podman"}))
      ->capture_default_str();
  up_cmd->add_flag("-d,--detach", detach, "Return once healthy; a background supervisor keeps it running");
  up_cmd->add_option("--bin-dir", bin_dir, "Where the sparc-* binaries are (default: next to sparc, then PATH)")
      ->envname("SPARC_BIN_DIR");
  up_cmd->add_option("--health-timeout", health_timeout, "Seconds each service has to become healthy")
      ->check(CLI::Range(1, 600))
      ->capture_default_str();
  up_cmd->callback([&] {
    auto l = load_linted(file, file_opt->count() > 0);
    if (!l.spec) {
      code = l.exit_code;
      return;
    }
    if (runtime == "podman") {
      fs::create_directories(state_dir_of(l));
      code = podman_up(build_stack(*l.spec), tools_of(l, ""));
      return;
    }
    runner_options opt;
    opt.state_dir = state_dir_of(l);
    opt.spec_dir = l.dir;
    opt.bin_dir = bin_dir;
    opt.health_timeout = std::chrono::seconds(health_timeout);
    opt.detach = detach;
    opt.say = say;
    code = up(build_stack(*l.spec), opt);
  });

  auto* down_cmd = app.add_subcommand("down", "Stop a stack started with `sparc up` (either runtime)");
  down_cmd->callback([&] {
    auto l = load(file, file_opt->count() > 0);
    if (!l.spec) {
      code = l.exit_code;
      return;
    }
    code = recorded_runtime(state_dir_of(l)) == "podman" ? podman_down(build_stack(*l.spec), tools_of(l, ""))
                                                         : down(state_dir_of(l), std::chrono::seconds(30), say);
  });

  auto* status_cmd = app.add_subcommand("status", "Each service's state, pid, restarts and health (exit 0 when all "
                                                  "are healthy, 1 when not, 3 when the stack is not up)");
  bool as_json = false;
  status_cmd->add_flag("--json", as_json, "Machine-readable output");
  status_cmd->callback([&] {
    auto l = load(file, file_opt->count() > 0);
    if (!l.spec) {
      code = l.exit_code;
      return;
    }
    code = recorded_runtime(state_dir_of(l)) == "podman" ? podman_status(build_stack(*l.spec), tools_of(l, ""))
                                                         : status(state_dir_of(l), as_json, say);
  });

  auto* logs_cmd = app.add_subcommand("logs", "A service's log (signal, mas, renderer-1, coturn, or sparc for the "
                                              "supervisor)");
  std::string service;
  int lines = 100;
  bool follow = false;
  logs_cmd->add_option("service", service, "The service")->required();
  logs_cmd->add_option("-n,--lines", lines, "How many of the last lines")->check(CLI::Range(1, 100000))->capture_default_str();
  logs_cmd->add_flag("-f,--follow", follow, "Keep printing what is appended (Ctrl-C ends)");
  logs_cmd->callback([&] {
    auto l = load(file, file_opt->count() > 0);
    if (!l.spec) {
      code = l.exit_code;
      return;
    }
    code = recorded_runtime(state_dir_of(l)) == "podman"
               ? podman_logs(build_stack(*l.spec), tools_of(l, ""), service, lines, follow)
               : logs(state_dir_of(l), service, lines, follow, say);
  });

  auto* build_cmd = app.add_subcommand("build", "Build the stack's images with podman from the rendered Containerfile");
  bool prebuilt = false;
  std::string context_dir;
  std::vector<std::string> image_targets;
  build_cmd->add_flag("--prebuilt", prebuilt, "Package the binaries already built here (cmake --preset release) "
                                              "instead of compiling in the builder stage");
  build_cmd->add_option("--context", context_dir, "The SPARC source tree (the build context; default: this build's)");
  build_cmd->add_option("images", image_targets, "Only these images (mas, signal, stream)");
  build_cmd->callback([&] {
    auto l = load(file, file_opt->count() > 0);
    code = l.spec ? build_images(build_stack(*l.spec), tools_of(l, context_dir), prebuilt, image_targets) : l.exit_code;
  });

  auto* sif_cmd = app.add_subcommand("sif", "Build Apptainer SIFs from the images (podman save, then apptainer build; "
                                            "where apptainer is missing, the archives to build them elsewhere)");
  sif_cmd->callback([&] {
    auto l = load(file, file_opt->count() > 0);
    code = l.spec ? build_sifs(build_stack(*l.spec), tools_of(l, "")) : l.exit_code;
  });

  auto* slurm_cmd = app.add_subcommand("slurm", "Submit, follow or cancel the stack's SLURM jobs (backend job and "
                                                "render array)");
  slurm_cmd->require_subcommand(1);
  for (const auto* action : {"submit", "status", "cancel"}) {
    auto* sub = slurm_cmd->add_subcommand(action, std::string(action) == "submit"  ? "sbatch the backend job and the render array"
                                                  : std::string(action) == "status" ? "squeue the jobs submitted from here"
                                                                                    : "scancel the jobs submitted from here");
    sub->callback([&, name = std::string(action)] {
      auto l = load(file, file_opt->count() > 0);
      if (!l.spec) {
        code = l.exit_code;
        return;
      }
      fs::create_directories(state_dir_of(l));
      const auto ctx = tools_of(l, "");
      code = name == "submit" ? slurm_submit(build_stack(*l.spec), ctx)
             : name == "status" ? slurm_status(ctx)
                                : slurm_cancel(ctx);
    });
  }

  auto* check_cmd = app.add_subcommand("check", "Prove a running stack works end to end: health of every service, "
                                                "/config, the web client, a chat turn, a signaling connect and a "
                                                "renderer answering an offer (exit 1 when anything fails)");
  std::string url;
  std::string mas_url;
  std::string api_key_file;
  std::string browser = "auto";
  int timeout_ms = 8000;
  check_cmd->add_option("--url", url, "The signaling server to check (default: the spec's), e.g. http://127.0.0.1:8080");
  check_cmd->add_option("--mas-url", mas_url, "The backend to check (default: the spec's)");
  check_cmd->add_option("--api-key-file", api_key_file,
                        "A file holding a sparc-mas API key for the chat turn (default: [renderer] mas_api_key_file "
                        "when the backend requires keys)")
      ->envname("SPARC_CHECK_API_KEY_FILE");
  check_cmd->add_option("--browser", browser,
                        "Headless Chromium for the video-frames check: auto (chromium on PATH), a path, or none")
      ->envname("SPARC_CHECK_BROWSER")
      ->capture_default_str();
  check_cmd->add_option("--timeout-ms", timeout_ms, "Deadline of each check")->check(CLI::Range(100, 120000))->capture_default_str();
  check_cmd->callback([&] {
    auto l = load(file, file_opt->count() > 0);
    if (!l.spec) {
      code = l.exit_code;
      return;
    }
    auto probe = target_from(build_stack(*l.spec));
    probe.timeout = std::chrono::milliseconds(timeout_ms);
    if (!url.empty() && !split_url(url, probe.signal_host, probe.signal_port)) {
      err("sparc: --url must look like http://host:port");
      code = 2;
      return;
    }
    if (!url.empty()) {  // another machine's stack: its renderers and metrics port are checked through signaling
      probe.renderer_health_ports.clear();
      probe.signal_metrics_port = 0;
    }
    // The key the chat turn sends: the given file, or the renderer's (it talks to the same backend).
    auto key_file = api_key_file;
    if (key_file.empty() && !l.spec->mas.api_keys_file.empty() && !l.spec->renderer.mas_api_key_file.empty()) {
      const fs::path p(l.spec->renderer.mas_api_key_file);
      key_file = (p.is_absolute() ? p : l.dir / p).string();
    }
    if (!key_file.empty()) {
      std::ifstream in(key_file);
      std::getline(in, probe.mas_api_key);
      while (!probe.mas_api_key.empty() && (probe.mas_api_key.back() == '\r' || probe.mas_api_key.back() == ' '))
        probe.mas_api_key.pop_back();
      if (!in && probe.mas_api_key.empty()) {
        err("sparc: cannot read an API key from " + key_file);
        code = 2;
        return;
      }
    }
    if (browser == "auto") probe.chromium = have_tool("chromium") ? "chromium" : "";
    else if (browser != "none") probe.chromium = browser;
    if (!mas_url.empty() && !split_url(mas_url, probe.mas_host, probe.mas_port)) {
      err("sparc: --mas-url must look like http://host:port");
      code = 2;
      return;
    }
    say("Checking the stack at http://" + probe.signal_host + ":" + std::to_string(probe.signal_port) + "/");
    int failed = 0;
    const auto t0 = std::chrono::steady_clock::now();
    run_checks(probe, [&](const check_result& r) {
      char line[640];
      (void)std::snprintf(line, sizeof line, "  %-4s %-22s %6lld ms  %s", r.skipped ? "skip" : r.passed ? "ok" : "FAIL",
                    r.name.c_str(), static_cast<long long>(r.took.count()), r.detail.c_str());
      say(line);
      if (!r.passed && !r.skipped) {
        ++failed;
        if (!r.fix.empty()) say("       fix: " + r.fix);
      }
    });
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    say(failed ? std::to_string(failed) + " check(s) failed (" + std::to_string(ms) + " ms)"
               : "All checks passed (" + std::to_string(ms) + " ms)");
    code = failed ? 1 : 0;
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    err(std::string("sparc: ") + e.what());
    return 2;
  }
  return code;
}

}  // namespace deploy
