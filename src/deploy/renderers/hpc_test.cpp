// Unit tests for the Quadlet, Apptainer and SLURM renderers: properties of the rendered text that the golden files
// alone would not explain (references that resolve, where ports go, GPU requests, failure handling in scripts).
#include "deploy/render.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace deploy {
namespace {

namespace fs = std::filesystem;

const rendered_file* find_file(const std::vector<rendered_file>& files, std::string_view path) {
  for (const auto& f : files)
    if (f.path == path) return &f;
  return nullptr;
}

std::string content(const std::vector<rendered_file>& files, std::string_view path) {
  const auto* f = find_file(files, path);
  EXPECT_NE(f, nullptr) << "not rendered: " << path;
  return f ? f->content : std::string();
}

bool has(std::string_view text, std::string_view needle) {
  return text.find(needle) != std::string_view::npos;
}

std::size_t count(std::string_view text, std::string_view needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string_view::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

/// The lines of `text` that start with `prefix`.
std::vector<std::string> lines_with(const std::string& text, std::string_view prefix) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(prefix)) out.push_back(line);
  return out;
}

/// The HiPerGator stack of tests/golden/specs/hiper.toml, built in code so a test reads whole.
stack_spec hpc_spec_like_hiper() {
  stack_spec s;
  s.name = "sparc-hpg";
  s.bind = "0.0.0.0";
  s.public_host = "c0101a-s1.ufhpc";
  s.signal.transport = "http";
  s.mas.api_keys_file = "/blue/sparc/secrets/api-keys";
  s.renderer.instances = 4;
  s.coturn.enabled = true;
  s.coturn.secret_file = "/blue/sparc/secrets/turn-secret";
  s.hpc.account = "sparc";
  s.hpc.qos = "sparc-b";
  s.hpc.cpus = 8;
  s.hpc.memory = "32G";
  s.hpc.time = "12:00:00";
  s.hpc.sif_dir = "/blue/sparc/sif";
  s.hpc.modules = {"apptainer/1.3"};
  s.hpc.binds = {"/blue/sparc/data:/data"};
  return s;
}

/// A GPU VM: Unity renderers, coturn, Riva and a local model server.
stack_spec gpu_vm_spec() {
  stack_spec s;
  s.name = "vm";
  s.bind = "0.0.0.0";
  s.public_host = "sparc.example.org";
  s.public_deployment = true;
  s.mas.api_keys_file = "/etc/sparc/api-keys";
  s.renderer.kind = "unity";
  s.renderer.unity_build = "/opt/sparc/unity";
  s.renderer.unity_executable = "SPARC-P.x86_64";
  s.renderer.instances = 2;
  s.coturn.enabled = true;
  s.coturn.secret_file = "/etc/sparc/turn-secret";
  s.riva.enabled = true;
  s.riva.triton_http = 18000;
  s.riva.triton_grpc = 18001;
  s.riva.triton_metrics = 18002;
  s.llm.enabled = true;
  s.llm.model = "meta-llama/Llama-3.1-8B-Instruct";
  return s;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// --- Quadlet ---

TEST(quadlet, every_container_joins_a_pod_that_is_rendered_beside_it) {
  for (const auto& spec : {stack_spec{}, hpc_spec_like_hiper(), gpu_vm_spec()}) {
    const auto files = render_quadlet(build_stack(spec));
    std::size_t containers = 0;
    for (const auto& f : files) {
      if (!f.path.ends_with(".container")) continue;
      ++containers;
      const auto pods = lines_with(f.content, "Pod=");
      ASSERT_EQ(pods.size(), 1u) << f.path;
      const auto dir = f.path.substr(0, f.path.rfind('/') + 1);
      EXPECT_NE(find_file(files, dir + pods[0].substr(4)), nullptr) << f.path << " names a missing " << pods[0];
    }
    // Every service, rootful and rootless.
    EXPECT_EQ(containers, 2 * build_stack(spec).services.size()) << spec.name;
  }
}

TEST(quadlet, ports_are_published_by_the_pod_and_nowhere_else) {
  const auto files = render_quadlet(build_stack(hpc_spec_like_hiper()));
  for (const auto& f : files) {
    if (f.path.ends_with(".container")) {
      EXPECT_FALSE(has(f.content, "PublishPort=")) << f.path;
    }
  }
  const auto pod = content(files, "quadlet/rootful/sparc-hpg.pod");
  EXPECT_TRUE(has(pod, "PublishPort=49152-49200:49152-49200/udp\n"));  // the renderers' media range, once
  EXPECT_EQ(count(pod, "PublishPort=49152-49200"), 1u);
  EXPECT_TRUE(has(pod, "PublishPort=3478:3478/udp\n"));
  EXPECT_TRUE(has(pod, "PublishPort=49201-49250:49201-49250/udp\n"));  // coturn's relay range
  EXPECT_TRUE(has(pod, "PublishPort=8080:8080/tcp\n"));
  EXPECT_FALSE(has(pod, ":8090"));  // a renderer's health port stays inside the pod

  // Without coturn nothing of it is published, and a loopback bind publishes on loopback only.
  const auto local = content(render_quadlet(build_stack(stack_spec{})), "quadlet/rootful/sparc.pod");
  EXPECT_FALSE(has(local, "3478"));
  EXPECT_FALSE(has(local, "49201"));
  for (const auto& line : lines_with(local, "PublishPort=")) EXPECT_TRUE(line.starts_with("PublishPort=127.0.0.1:"));
}

TEST(quadlet, gpu_services_get_the_cdi_device_and_others_do_not) {
  const auto files = render_quadlet(build_stack(gpu_vm_spec()));
  for (const auto* name : {"vm-riva", "vm-llm", "vm-renderer-1", "vm-renderer-2"})
    EXPECT_TRUE(
        has(content(files, std::string("quadlet/rootful/") + name + ".container"), "AddDevice=nvidia.com/gpu=all\n"))
        << name;
  for (const auto* name : {"vm-mas", "vm-signal", "vm-coturn"})
    EXPECT_FALSE(has(content(files, std::string("quadlet/rootful/") + name + ".container"), "AddDevice=")) << name;
  EXPECT_TRUE(has(content(files, "quadlet/rootful/vm.pod"), "nvidia-ctk cdi generate"));
}

TEST(quadlet, rootless_units_install_for_the_user_and_start_with_the_session) {
  const auto files = render_quadlet(build_stack(stack_spec{}));
  for (const auto& f : files) {
    const bool rootless = f.path.starts_with("quadlet/rootless/");
    EXPECT_TRUE(rootless || f.path.starts_with("quadlet/rootful/")) << f.path;
    const auto name = f.path.substr(f.path.rfind('/') + 1);
    const auto install = rootless ? "~/.config/containers/systemd/" : "/etc/containers/systemd/";
    EXPECT_TRUE(has(f.content, std::string("# Install path: ") + install + name + "\n")) << f.path;
    EXPECT_TRUE(has(f.content, rootless ? "WantedBy=default.target\n" : "WantedBy=multi-user.target\n")) << f.path;
  }
  EXPECT_TRUE(has(content(files, "quadlet/rootless/sparc.pod"), "systemctl --user start sparc-pod.service"));
}

TEST(quadlet, units_follow_the_start_order_of_the_model) {
  auto spec = gpu_vm_spec();
  const auto files = render_quadlet(build_stack(spec));
  const auto signal = content(files, "quadlet/rootful/vm-signal.container");
  EXPECT_TRUE(has(signal, "Requires=vm-coturn.service\nAfter=vm-coturn.service\n"));
  const auto mas = content(files, "quadlet/rootful/vm-mas.container");
  EXPECT_TRUE(has(mas, "After=vm-riva.service\n"));
  EXPECT_TRUE(has(mas, "After=vm-llm.service\n"));
  const auto renderer = content(files, "quadlet/rootful/vm-renderer-2.container");
  EXPECT_TRUE(has(renderer, "After=vm-signal.service\n"));
  EXPECT_TRUE(has(renderer, "After=vm-mas.service\n"));
  // A healthy check, not a started process, is what lets the next unit start.
  EXPECT_TRUE(has(mas, "Notify=healthy\n"));

  // A model server that runs elsewhere gets no unit and no dependency.
  spec.llm.base_url = "http://models.example.org:8000/v1";
  const auto external = render_quadlet(build_stack(spec));
  EXPECT_EQ(find_file(external, "quadlet/rootful/vm-llm.container"), nullptr);
  EXPECT_FALSE(has(content(external, "quadlet/rootful/vm-mas.container"), "vm-llm"));
}

TEST(quadlet, arguments_point_at_the_pod_and_its_mounts) {
  const auto files = render_quadlet(build_stack(hpc_spec_like_hiper()));
  for (const auto& f : files) {
    EXPECT_FALSE(has(f.content, "{data}") || has(f.content, "{secret:") || has(f.content, "_host}")) << f.path;
  }
  const auto mas = content(files, "quadlet/rootful/sparc-hpg-mas.container");
  EXPECT_TRUE(has(mas, "--db /var/lib/sparc/sparc-mas.db"));
  EXPECT_TRUE(has(mas, "--api-keys-file /run/secrets/api_keys"));
  EXPECT_TRUE(has(mas, "Volume=sparc-hpg-mas-data:/var/lib/sparc\n"));
  EXPECT_TRUE(has(mas, "Secret=sparc-hpg-api_keys,type=mount,target=api_keys,"));
  EXPECT_TRUE(has(mas, "Image=localhost/sparc-mas:latest\n"));
  const auto renderer = content(files, "quadlet/rootful/sparc-hpg-renderer-3.container");
  EXPECT_TRUE(has(renderer, "-signalingUrl http://127.0.0.1:8080"));
  EXPECT_TRUE(has(renderer, "--mas-url http://127.0.0.1:8000"));
  EXPECT_TRUE(has(renderer, "--port 8092"));
  // Inside the pod a published service listens on the pod's interface, or its published ports could not reach it.
  EXPECT_TRUE(has(content(render_quadlet(build_stack(stack_spec{})), "quadlet/rootful/sparc-signal.container"),
                  "Exec=--bind 0.0.0.0 "));
}

TEST(quadlet, health_checks_probe_the_service_and_kill_it_when_it_fails) {
  const auto files = render_quadlet(build_stack(gpu_vm_spec()));
  const auto mas = content(files, "quadlet/rootful/vm-mas.container");
  EXPECT_TRUE(has(mas, "HealthCmd=/bin/bash -c 'exec 3<>/dev/tcp/127.0.0.1/8000 && printf \"GET /health "));
  EXPECT_TRUE(has(mas, "[ \"$$code\" = 200 ]"));  // $ doubled: systemd would expand it
  EXPECT_TRUE(has(mas, "HealthOnFailure=kill\n"));
  EXPECT_TRUE(has(content(files, "quadlet/rootful/vm-signal.container"), "/dev/tcp/127.0.0.1/8888"));
  EXPECT_TRUE(has(content(files, "quadlet/rootful/vm-coturn.container"), "/dev/tcp/127.0.0.1/3478'\n"));
  // The Unity player has no health endpoint: no probe, and no wait for one.
  const auto unity = content(files, "quadlet/rootful/vm-renderer-1.container");
  EXPECT_FALSE(has(unity, "HealthCmd="));
  EXPECT_FALSE(has(unity, "Notify=healthy"));
  // Model servers get minutes to load before failures count.
  EXPECT_TRUE(has(content(files, "quadlet/rootful/vm-riva.container"), "HealthStartPeriod=600s\n"));
}

TEST(quadlet, restart_policy_and_stop_timeout_come_from_the_spec) {
  auto spec = stack_spec{};
  spec.mas.restart = "always";
  spec.signal.restart = "no";
  const auto files = render_quadlet(build_stack(spec));
  const auto mas = content(files, "quadlet/rootful/sparc-mas.container");
  EXPECT_TRUE(has(mas, "[Service]\nRestart=always\nRestartSec=5\n"));
  EXPECT_TRUE(has(mas, "TimeoutStopSec=30\n"));
  const auto signal = content(files, "quadlet/rootful/sparc-signal.container");
  EXPECT_TRUE(has(signal, "Restart=no\n"));
  EXPECT_FALSE(has(signal, "RestartSec="));
  EXPECT_TRUE(has(content(files, "quadlet/rootful/sparc-renderer-1.container"), "Restart=on-failure\n"));
}

TEST(quadlet, values_systemd_would_expand_are_escaped) {
  auto spec = stack_spec{};
  spec.mas.env = {{"SPARC_GREETING", "50% off $HOME"}};
  const auto mas = content(render_quadlet(build_stack(spec)), "quadlet/rootful/sparc-mas.container");
  EXPECT_TRUE(has(mas, "Environment=\"SPARC_GREETING=50%% off $$HOME\"\n"));
}

// --- Apptainer ---

TEST(apptainer, defs_bootstrap_from_podman_archives_never_a_docker_daemon) {
  const auto files = render_apptainer(build_stack(hpc_spec_like_hiper()));
  std::vector<std::string> defs;
  for (const auto& f : files) {
    EXPECT_FALSE(has(f.content, "docker-daemon")) << f.path;
    if (!f.path.ends_with(".def")) continue;
    defs.push_back(f.path);
    const auto stem = f.path.substr(10, f.path.size() - 14);  // apptainer/<stem>.def
    EXPECT_TRUE(has(f.content, "\nBootstrap: docker-archive\nFrom: " + stem + ".tar\n")) << f.path;
    EXPECT_TRUE(has(f.content, "podman save --format docker-archive -o " + stem + ".tar ")) << f.path;
    EXPECT_TRUE(has(f.content, "apptainer build /blue/sparc/sif/" + stem + ".sif")) << f.path;
    for (const auto* section : {"\n%labels\n", "\n%environment\n", "\n%runscript\n", "\n%startscript\n", "\n%test\n"})
      EXPECT_TRUE(has(f.content, section)) << f.path << " lacks " << section;
    EXPECT_EQ(count(f.content, "\"$@\""), 2u) << f.path;  // runscript and startscript pass the arguments on
    EXPECT_FALSE(has(f.content, "--nv")) << f.path;       // nothing here needs a GPU
  }
  EXPECT_EQ(defs, (std::vector<std::string>{"apptainer/coturn.def", "apptainer/mas.def", "apptainer/signal.def",
                                            "apptainer/stream.def"}));
  EXPECT_TRUE(has(content(files, "apptainer/mas.def"), "%test\n    sparc-mas --help >/dev/null\n"));
}

TEST(apptainer, a_unity_stack_gets_the_player_image_flagged_for_the_gpu) {
  const auto files = render_apptainer(build_stack(gpu_vm_spec()));
  EXPECT_EQ(find_file(files, "apptainer/stream.def"), nullptr);
  const auto unity = content(files, "apptainer/unity-server.def");
  EXPECT_TRUE(has(unity, "run it with --nv"));
  EXPECT_TRUE(has(unity, "org.sparc.gpu true"));
  EXPECT_TRUE(has(unity, "exec sparc-unity \"$@\""));  // the image's virtual-display wrapper, not the bare player
  EXPECT_TRUE(has(content(files, "apptainer/riva.def"), "exec start-riva \"$@\""));
}

TEST(apptainer, the_build_script_saves_and_builds_every_image) {
  const auto files = render_apptainer(build_stack(hpc_spec_like_hiper()));
  const auto* script = find_file(files, "apptainer/build-sifs.sh");
  ASSERT_NE(script, nullptr);
  EXPECT_TRUE(script->executable);
  EXPECT_TRUE(script->content.starts_with("#!/bin/bash\n"));
  EXPECT_TRUE(has(script->content, "\nset -euo pipefail\n"));
  EXPECT_TRUE(has(script->content, "names=(coturn mas signal stream)\n"));
  EXPECT_TRUE(has(script->content, "podman save --format docker-archive -o \"$tar.partial\" \"$image\""));
  EXPECT_TRUE(has(script->content, "apptainer build --force"));
  EXPECT_TRUE(has(script->content, "apptainer not found (on the cluster: module load apptainer/1.3)"));
  EXPECT_TRUE(has(script->content, "sif_dir=${SPARC_SIF_DIR:-/blue/sparc/sif}"));
  // Arguments pick images by name (tests/system/apptainer_test.sh builds only the signal SIF); a wrong name is a
  // usage error, not a silent no-op.
  EXPECT_TRUE(has(script->content, "for want in \"$@\"; do"));
  EXPECT_TRUE(has(script->content, "unknown image '$want' (one of: ${names[*]})\" >&2; exit 2;"));
}

// --- SLURM ---

TEST(slurm, the_hiper_spec_renders_a_finite_backend_job_and_a_gpu_array) {
  const auto file = fs::path(SPARC_GOLDEN_DIR) / "specs" / "hiper.toml";
  auto parsed = parse_spec(read_text(file), "hiper.toml");
  ASSERT_TRUE(parsed.spec) << parsed.errors.front().to_string();
  const auto files = render_slurm(build_stack(*parsed.spec));
  const auto backend = content(files, "slurm/backend.sbatch");
  EXPECT_TRUE(has(backend, "#SBATCH --time=12:00:00\n"));
  EXPECT_TRUE(has(backend, "#SBATCH --job-name=sparc-hpg-backend\n"));
  EXPECT_TRUE(has(backend, "#SBATCH --account=sparc\n#SBATCH --qos=sparc-b\n"));
  EXPECT_TRUE(has(backend, "#SBATCH --requeue\n"));
  EXPECT_FALSE(has(backend, "--gres"));  // coturn, mas and signal need no GPU
  EXPECT_FALSE(has(backend, "--nv"));
  EXPECT_TRUE(has(backend, "\ntrap cleanup EXIT\n"));
  EXPECT_TRUE(has(backend, "wait -n"));
  EXPECT_TRUE(has(backend, "module load apptainer/1.3\n"));
  const auto render = content(files, "slurm/render.sbatch");
  EXPECT_TRUE(has(render, "#SBATCH --array=0-3\n"));
  EXPECT_TRUE(has(render, "#SBATCH --gres=gpu:1\n"));
  EXPECT_TRUE(has(render, "#SBATCH --time=12:00:00\n"));
  EXPECT_TRUE(has(render, "\ntrap stop_all EXIT\n"));
  EXPECT_TRUE(has(render, "wait -n"));
  for (const auto& f : files) {
    EXPECT_TRUE(f.executable) << f.path;
    EXPECT_TRUE(has(f.content, "\nset -euo pipefail\n")) << f.path;
    // #SBATCH lines count only before the first command.
    const auto first_command = f.content.find("\nset -");
    EXPECT_EQ(f.content.find("#SBATCH", first_command), std::string::npos) << f.path;
  }
}

TEST(slurm, services_start_in_order_and_any_exit_fails_the_job) {
  const auto backend = content(render_slurm(build_stack(hpc_spec_like_hiper())), "slurm/backend.sbatch");
  const auto coturn = backend.find("\nstart coturn ");
  const auto mas = backend.find("\nstart mas ");
  const auto signal = backend.find("\nstart signal ");
  ASSERT_NE(coturn, std::string::npos);
  ASSERT_NE(mas, std::string::npos);
  ASSERT_NE(signal, std::string::npos);
  EXPECT_LT(coturn, signal);
  EXPECT_LT(mas, signal);
  EXPECT_TRUE(has(backend, "start mas 127.0.0.1 8000 /health "));
  EXPECT_TRUE(has(backend, "start signal 127.0.0.1 8888 /health "));  // /health lives on the metrics port
  EXPECT_TRUE(has(backend, "start coturn 127.0.0.1 3478 '' "));       // TCP connect
  EXPECT_TRUE(has(backend, "fail \"${names[i]} exited with status $status; stopping the job\""));
  // The address is published only once everything is healthy, and withdrawn when the job ends.
  EXPECT_GT(backend.find("SPARC_SIGNAL_HOST=$host\n"), signal);
  EXPECT_TRUE(has(backend, "SPARC_SIGNAL_URL=http://$host:8080\n"));
  EXPECT_TRUE(has(backend, "rm -f \"$SPARC_STATE/backend.env\""));
  EXPECT_TRUE(has(backend, "#SBATCH --signal=B:TERM@60\n"));
  // coturn's secret goes into its private config, never onto a command line.
  EXPECT_TRUE(has(backend, "umask 077"));
  EXPECT_TRUE(has(backend, "static-auth-secret=$(head -n 1 /blue/sparc/secrets/turn-secret)"));
}

TEST(slurm, render_tasks_find_signaling_through_the_backend) {
  const auto files = render_slurm(build_stack(hpc_spec_like_hiper()));
  const auto render = content(files, "slurm/render.sbatch");
  EXPECT_TRUE(has(render, "-signalingUrl \"http://${SPARC_SIGNAL_HOST}:8080\""));
  EXPECT_TRUE(has(render, "--mas-url \"http://${SPARC_MAS_HOST}:8000\""));
  EXPECT_TRUE(has(render, "SPARC_HEALTH_PORT=$((8090 + task))"));
  EXPECT_TRUE(has(render, "--port \"${SPARC_HEALTH_PORT}\""));
  EXPECT_TRUE(has(render, "if [[ -z ${SPARC_SIGNAL_HOST:-} ]]; then"));
  EXPECT_TRUE(has(render, "$SPARC_STATE/backend.env"));
  EXPECT_FALSE(has(render, "127.0.0.1:8080"));
  EXPECT_TRUE(has(render, "\"${SPARC_SIF_DIR}/stream.sif\""));
  // The backend reaches its own services over loopback.
  EXPECT_TRUE(has(content(files, "slurm/backend.sbatch"), "--bind 0.0.0.0 --port 8000"));
}

TEST(slurm, optional_sbatch_settings_are_left_out_when_empty) {
  auto spec = hpc_spec_like_hiper();
  spec.hpc.account.clear();
  spec.hpc.qos.clear();
  spec.hpc.gpus = 0;
  const auto files = render_slurm(build_stack(spec));
  for (const auto& f : files) {
    EXPECT_FALSE(has(f.content, "--account")) << f.path;
    EXPECT_FALSE(has(f.content, "--qos")) << f.path;
    EXPECT_FALSE(has(f.content, "--gres")) << f.path;
  }
}

TEST(slurm, gpu_services_get_gpus_and_nv_and_others_do_not) {
  auto spec = hpc_spec_like_hiper();
  spec.riva.enabled = true;
  spec.riva.volumes = {"/blue/sparc/riva-models:/data:ro"};
  spec.riva.triton_http = 18000;
  spec.riva.triton_grpc = 18001;
  spec.riva.triton_metrics = 18002;
  const auto backend = content(render_slurm(build_stack(spec)), "slurm/backend.sbatch");
  EXPECT_TRUE(has(backend, "#SBATCH --gres=gpu:1\n"));
  EXPECT_EQ(count(backend, "--nv"), 1u);
  const auto riva = backend.find("\nstart riva ");
  ASSERT_NE(riva, std::string::npos);
  EXPECT_LT(backend.find("--nv"), backend.find("\nstart mas "));
  EXPECT_GT(backend.find("--nv"), riva);
  EXPECT_TRUE(has(backend, "--riva-uri=0.0.0.0:50051"));
  EXPECT_TRUE(has(backend, "--bind /blue/sparc/riva-models:/data:ro \\\n"));
  EXPECT_TRUE(has(backend, "start riva 127.0.0.1 50051 '' 900 "));  // minutes to load its models
}

TEST(slurm, a_unity_renderer_runs_the_player_with_its_flags_on_a_display_per_task) {
  auto spec = gpu_vm_spec();
  spec.riva.enabled = false;
  spec.llm.enabled = false;
  const auto render = content(render_slurm(build_stack(spec)), "slurm/render.sbatch");
  EXPECT_TRUE(has(render, "#SBATCH --array=0-1\n"));
  EXPECT_TRUE(has(render, "\"${SPARC_SIF_DIR}/unity-server.sif\""));
  EXPECT_TRUE(has(render, "--nv"));
  EXPECT_TRUE(has(render, "-signalingUrl \"ws://${SPARC_SIGNAL_HOST}:8080\" -signalingType websocket -force-vulkan"));
  EXPECT_FALSE(has(render, "-batchmode"));
  EXPECT_FALSE(has(render, "-nographics"));
  EXPECT_TRUE(has(render, "--env \"DISPLAY=:${SPARC_DISPLAY}\""));
  EXPECT_TRUE(has(render, "start \"$SPARC_RENDERER\" 127.0.0.1 0 '' "));  // no health endpoint: it must keep running
}

TEST(slurm, the_native_runtime_runs_binaries_from_bin_dir) {
  auto spec = hpc_spec_like_hiper();
  spec.hpc.runtime = "native";
  spec.hpc.bin_dir = "/blue/sparc/bin";
  const auto files = render_slurm(build_stack(spec));
  const auto backend = content(files, "slurm/backend.sbatch");
  EXPECT_TRUE(has(backend, "SPARC_BIN_DIR=${SPARC_BIN_DIR:-/blue/sparc/bin}\n"));
  EXPECT_TRUE(has(backend, "\"${SPARC_BIN_DIR}/sparc-mas\" \\\n"));
  EXPECT_TRUE(has(backend, "--db \"${SPARC_STATE}/data/mas/sparc-mas.db\""));
  EXPECT_TRUE(has(backend, "--api-keys-file /blue/sparc/secrets/api-keys"));
  for (const auto& f : files) {
    EXPECT_FALSE(has(f.content, "apptainer run")) << f.path;
  }
}

TEST(slurm, a_loopback_bind_is_called_out) {
  EXPECT_TRUE(has(content(render_slurm(build_stack(stack_spec{})), "slurm/backend.sbatch"),
                  "# Warning: the spec binds 127.0.0.1, so render tasks on other nodes cannot reach signaling.\n"));
  EXPECT_FALSE(has(content(render_slurm(build_stack(hpc_spec_like_hiper())), "slurm/backend.sbatch"), "Warning"));
}

// --- Scripts parse ---

TEST(hpc_scripts, every_rendered_script_passes_bash_syntax_check) {
  if (std::system("command -v bash >/dev/null 2>&1") != 0) GTEST_SKIP() << "no bash here";
  const auto dir = fs::path(::testing::TempDir()) / "sparc-hpc-scripts";
  fs::create_directories(dir);
  auto native = hpc_spec_like_hiper();
  native.hpc.runtime = "native";
  native.hpc.bin_dir = "bin";
  int n = 0;
  for (const auto& spec : {stack_spec{}, hpc_spec_like_hiper(), gpu_vm_spec(), native}) {
    const auto st = build_stack(spec);
    auto files = render_slurm(st);
    auto sifs = render_apptainer(st);
    files.insert(files.end(), sifs.begin(), sifs.end());
    for (const auto& f : files) {
      if (!f.executable) continue;
      const auto path = dir / ("script-" + std::to_string(n++) + ".sh");
      std::ofstream(path, std::ios::binary) << f.content;
      EXPECT_EQ(std::system(("bash -n '" + path.string() + "'").c_str()), 0) << spec.name << " " << f.path;
    }
  }
  EXPECT_EQ(n, 4 * 3);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace deploy
