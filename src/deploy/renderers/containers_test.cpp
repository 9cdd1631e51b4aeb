// Unit tests for the container renderers (Containerfiles, podman pod, kube YAML, coturn) on the rendered text.
#include "deploy/renderers/containers.hpp"

#include "deploy/render.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <regex>

namespace deploy {
namespace {

std::string file(const std::vector<rendered_file>& files, std::string_view path) {
  for (const auto& f : files)
    if (f.path == path) return f.content;
  ADD_FAILURE() << "not rendered: " << path;
  return {};
}

bool has(std::string_view text, std::string_view what) {
  return text.find(what) != std::string_view::npos;
}

std::size_t count(std::string_view text, std::string_view what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string_view::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

/// The lines of one Containerfile stage, from its FROM to the next FROM.
std::string stage(const std::string& containerfile, std::string_view name) {
  const auto from = containerfile.find(" AS " + std::string(name) + "\n");
  if (from == std::string::npos) return {};
  const auto start = containerfile.rfind("FROM ", from);
  const auto next = containerfile.find("\nFROM ", from);
  return containerfile.substr(start, next == std::string::npos ? std::string::npos : next - start);
}

stack_spec with_turn() {
  stack_spec s;
  s.name = "demo";
  s.public_host = "stack.example.org";
  s.bind = "0.0.0.0";
  s.public_deployment = true;
  s.coturn.enabled = true;
  s.coturn.secret_file = "/etc/sparc/turn-secret";
  s.mas.api_keys_file = "/etc/sparc/api-keys";
  return s;
}

stack_spec unity(std::string_view api) {
  stack_spec s;
  s.name = "gpu";
  s.renderer.kind = "unity";
  s.renderer.graphics_api = std::string(api);
  s.renderer.unity_build = "/opt/player";
  s.renderer.unity_executable = "Avatar.x86_64";
  s.renderer.gpus = 1;
  s.renderer.instances = 2;
  return s;
}

TEST(pod, the_default_stack_publishes_signaling_and_the_media_range_only) {
  const auto up = file(render_pod(build_stack(stack_spec{})), "pod/sparc-pod.sh");
  EXPECT_TRUE(up.starts_with("#!/usr/bin/env bash\n"));
  EXPECT_TRUE(has(up, "set -euo pipefail"));
  for (const auto* p :
       {"-p 127.0.0.1:8080:8080/tcp", "-p 127.0.0.1:8888:8888/tcp", "-p 127.0.0.1:49152-49200:49152-49200/udp"})
    EXPECT_EQ(count(up, p), 1u) << p;
  EXPECT_EQ(count(up, "\n  -p "), 3u) << "nothing else is published";
  EXPECT_FALSE(has(up, "3478")) << "no TURN port without a TURN server";
  EXPECT_FALSE(has(up, ":8090:")) << "the renderer's health port stays inside the pod";
  // sparc-mas without API keys refuses any address but loopback: it stays inside the pod, unpublished.
  EXPECT_FALSE(has(up, ":8000:"));
  EXPECT_TRUE(has(up, "--bind 127.0.0.1 --port 8000"));
  EXPECT_TRUE(has(up, "--bind 0.0.0.0 --port 8080")) << "signaling faces the published ports";
}

TEST(pod, sparc_mas_with_api_keys_is_published) {
  stack_spec s;
  s.mas.api_keys_file = "/etc/sparc/api-keys";
  const auto up = file(render_pod(build_stack(s)), "pod/sparc-pod.sh");
  EXPECT_TRUE(has(up, "-p 127.0.0.1:8000:8000/tcp"));
  EXPECT_TRUE(has(up, "--bind 0.0.0.0 --port 8000"));
  EXPECT_TRUE(has(up, "--api-keys-file /run/secrets/api_keys"));
}

TEST(pod, services_start_in_dependency_order_each_waited_for_and_stop_in_reverse) {
  const auto st = build_stack(with_turn());
  const auto files = render_pod(st);
  const auto up = file(files, "pod/demo-pod.sh");
  std::size_t last = 0;
  for (const auto& s : st.services) {
    const auto run = up.find("--name demo-" + s.name + " ");
    ASSERT_NE(run, std::string::npos) << s.name;
    EXPECT_GT(run, last) << s.name << " starts out of order";
    last = run;
    EXPECT_NE(up.find("wait_healthy demo-" + s.name + " ", run), std::string::npos) << s.name;
  }
  const auto down = file(files, "pod/demo-pod-down.sh");
  EXPECT_TRUE(has(down, "for container in demo-renderer-1 demo-signal demo-mas demo-coturn;"));
  EXPECT_TRUE(has(down, "podman pod rm -f"));
  for (const auto& f : files) EXPECT_TRUE(f.executable) << f.path;
}

TEST(pod, turn_publishes_coturn_ports_and_relay_range_and_feeds_it_the_secret_at_start) {
  const auto st = build_stack(with_turn());
  const auto up = file(render_pod(st), "pod/demo-pod.sh");
  EXPECT_TRUE(has(up, "-p 3478:3478/udp"));
  EXPECT_TRUE(has(up, "-p 3478:3478/tcp"));
  EXPECT_TRUE(has(up, "-p 49201-49250:49201-49250/udp"));
  EXPECT_TRUE(has(up, "-p 49152-49200:49152-49200/udp"));
  EXPECT_TRUE(has(up, "add_secret demo-turn_secret /etc/sparc/turn-secret\n"));
  EXPECT_EQ(count(up, "add_secret demo-turn_secret"), 1u) << "signal and coturn share one podman secret";
  EXPECT_TRUE(has(up, "--secret demo-turn_secret,target=turn_secret,uid=65534,gid=65534,mode=0400"));
  EXPECT_TRUE(has(up, "--secret demo-turn_secret,target=turn_secret,uid=10001,gid=10001,mode=0400"));
  EXPECT_TRUE(has(up, "--secret demo-api_keys,target=api_keys,uid=10001,gid=10001,mode=0400"));
  // The secret reaches coturn through a private config copy, never its command line.
  EXPECT_TRUE(has(up, "secret=$(cat /run/secrets/turn_secret)"));
  EXPECT_TRUE(has(up, "printf \"static-auth-secret=%s\\n\" \"$secret\""));
  EXPECT_TRUE(has(up, "umask 077"));
  EXPECT_FALSE(has(up, "--static-auth-secret"));
  EXPECT_TRUE(has(up, "getent ahostsv4 stack.example.org")) << "external-ip for a host name";
  EXPECT_TRUE(has(up, "\nturnserver -c /var/lib/coturn/turnserver.conf &\n"));
  EXPECT_TRUE(has(up, "trap stop TERM INT")) << "turnserver as PID 1 would ignore SIGTERM";
}

TEST(pod, services_listen_on_the_pod_interface_and_the_host_side_keeps_the_bind_address) {
  stack_spec s;
  s.webrtc.ice_bind = "127.0.0.1";
  s.mas.api_keys_file = "/etc/sparc/api-keys";
  const auto up = file(render_pod(build_stack(s)), "pod/sparc-pod.sh");
  EXPECT_TRUE(has(up, "--bind 0.0.0.0 --port 8000"));
  EXPECT_TRUE(has(up, "--bind 0.0.0.0 --port 8080"));
  EXPECT_TRUE(has(up, "--bind 127.0.0.1 --port 8090")) << "the renderer's /health is probed from inside";
  EXPECT_TRUE(has(up, "-p 127.0.0.1:8000:8000/tcp"));
  EXPECT_FALSE(has(up, "--ice-bind")) << "media must leave through the pod's interface";
  EXPECT_TRUE(has(up, "-signalingUrl ws://127.0.0.1:8080"));
  EXPECT_TRUE(has(up, "--mas-url http://127.0.0.1:8000"));
}

TEST(pod, gpu_services_get_the_cdi_device_and_others_do_not) {
  auto s = with_turn();
  s.riva.enabled = true;
  s.riva.triton_http = 18000;
  s.riva.triton_grpc = 18001;
  s.riva.triton_metrics = 18002;
  s.llm.enabled = true;
  s.llm.model = "m";
  const auto up = file(render_pod(build_stack(s)), "pod/demo-pod.sh");
  const auto block = [&](std::string_view name) {
    const auto at = up.find("--name demo-" + std::string(name) + " ");
    return up.substr(at, up.find("\nwait_", at) - at);
  };
  EXPECT_TRUE(has(block("riva"), "--device nvidia.com/gpu=all"));
  EXPECT_TRUE(has(block("riva"), "start-riva --riva-uri=0.0.0.0:50051"));
  EXPECT_TRUE(has(block("riva"), "--ulimit memlock=-1:-1"));
  EXPECT_TRUE(has(block("llm"), "--device nvidia.com/gpu=all"));
  EXPECT_TRUE(has(block("llm"), "--entrypoint vllm"));
  for (const auto* name : {"mas", "signal", "coturn", "renderer-1"})
    EXPECT_FALSE(has(block(name), "nvidia.com/gpu")) << name;
  EXPECT_FALSE(has(up, ":18000:")) << "Riva's Triton ports are not published";

  const auto gpu = file(render_pod(build_stack(unity("vulkan"))), "pod/gpu-pod.sh");
  EXPECT_EQ(count(gpu, "--device nvidia.com/gpu=all"), 2u) << "both Unity renderers";
  EXPECT_TRUE(has(gpu, "wait_running gpu-renderer-2")) << "the player has no health endpoint";
  EXPECT_EQ(count(gpu, "49152-49200:49152-49200/udp"), 1u) << "renderers share one media range";
}

TEST(pod, an_external_model_server_is_not_started) {
  stack_spec s;
  s.llm.enabled = true;
  s.llm.base_url = "http://models.example.org:8100/v1";
  s.llm.model = "m";
  const auto up = file(render_pod(build_stack(s)), "pod/sparc-pod.sh");
  EXPECT_FALSE(has(up, "sparc-llm"));
  EXPECT_FALSE(has(up, ":8100:"));
}

TEST(containerfiles, each_runtime_stage_is_a_target_with_a_user_health_check_and_stop_signal) {
  const auto files = render_containerfiles(build_stack(stack_spec{}));
  for (const auto* path : {"containerfiles/Containerfile", "containerfiles/Containerfile.prebuilt"}) {
    const auto cf = file(files, path);
    EXPECT_TRUE(has(cf, "ARG RUNTIME_IMAGE=")) << path;
    for (const auto* name : {"mas", "signal", "stream"}) {
      const auto s = stage(cf, name);
      ASSERT_FALSE(s.empty()) << path << ": no stage " << name;
      // mas and signal are slim: FROM scratch with what their NAME-rootfs stage collected.
      EXPECT_TRUE(s.starts_with(std::string(name) == "stream" ? "FROM ${RUNTIME_IMAGE} AS " : "FROM scratch AS "))
          << name;
      EXPECT_TRUE(has(s, "\nUSER 10001:10001\n")) << name;
      EXPECT_TRUE(has(s, "\nHEALTHCHECK --interval=")) << name;
      EXPECT_TRUE(has(s, "\nSTOPSIGNAL SIGTERM\n")) << name;
      EXPECT_TRUE(has(s, "\nENTRYPOINT [\"/usr/local/bin/sparc-" + std::string(name) + "\"]\n")) << name;
      EXPECT_TRUE(has(s, "\nCMD [")) << name;
      EXPECT_FALSE(has(s, "{data}") || has(s, "{signal_host}") || has(s, "{mas_host}")) << name;
    }
    EXPECT_TRUE(stage(cf, "unity-server").empty()) << "the reference renderer needs no Unity image";
    for (const auto* name : {"mas-rootfs", "signal-rootfs"}) {
      const auto s = stage(cf, name);
      EXPECT_TRUE(s.starts_with("FROM ${RUNTIME_IMAGE} AS ")) << name;
      EXPECT_TRUE(has(s, "ldd $b; ldd /usr/bin/bash;")) << name << ": the binary's and bash's libraries";
      EXPECT_TRUE(has(s, ":10001:10001::/var/lib/sparc:")) << name << ": the user entry";
    }
    EXPECT_TRUE(has(stage(cf, "mas"), "COPY --from=mas-rootfs /rootfs/ /\n")) << path;
    EXPECT_TRUE(has(stage(cf, "mas-rootfs"), "espeak-ng-data")) << path;
    EXPECT_FALSE(has(stage(cf, "signal-rootfs"), "espeak-ng-data")) << path;
  }
  const auto cf = file(files, "containerfiles/Containerfile");
  EXPECT_TRUE(has(stage(cf, "builder"), "cmake --preset release"));
  EXPECT_TRUE(has(cf, "ARG BUILDER_IMAGE="));
  EXPECT_TRUE(has(stage(cf, "mas-rootfs"), "COPY --from=builder /out/sparc-mas /usr/local/bin/sparc-mas"));
  EXPECT_TRUE(has(stage(cf, "mas"), "COPY data/ /usr/share/sparc/data/"));
  EXPECT_TRUE(has(stage(cf, "mas"), "\"--db\", \"/var/lib/sparc/sparc-mas.db\""));
  EXPECT_TRUE(has(stage(cf, "signal"), "ENV SPARC_SIGNAL_WEB_ROOT=/usr/share/sparc/web"));
  EXPECT_TRUE(has(stage(cf, "signal"), "EXPOSE 8080 8888\n"));
  EXPECT_TRUE(has(stage(cf, "stream"), "EXPOSE 8090 49152-49200/udp\n"));
  EXPECT_TRUE(has(stage(cf, "stream"), "gstreamer1.0-nice"));
  const auto pre = file(files, "containerfiles/Containerfile.prebuilt");
  EXPECT_FALSE(has(pre, "builder"));
  EXPECT_TRUE(has(pre, "COPY ${BIN_DIR}/apps/sparc-stream/sparc-stream /usr/local/bin/sparc-stream"));
  const auto ignore = file(files, "containerfiles/.containerignore");
  EXPECT_TRUE(has(ignore, "\nbuild/\n"));
  EXPECT_TRUE(has(ignore, "\n!build/*/apps/sparc-mas/sparc-mas\n"));
  EXPECT_TRUE(has(ignore, "**/*secret*"));
}

TEST(containerfiles, the_health_check_uses_bash_because_the_images_have_no_curl) {
  const auto cf = file(render_containerfiles(build_stack(stack_spec{})), "containerfiles/Containerfile");
  EXPECT_FALSE(has(cf, "curl"));
  EXPECT_TRUE(has(stage(cf, "signal"), "exec 3<>/dev/tcp/127.0.0.1/8888 && printf \\\"GET /health HTTP/1.1"))
      << "sparc-signal's /health is on the metrics port";
}

TEST(containerfiles, the_unity_stage_renders_on_a_virtual_display_with_the_matching_gpu_base) {
  const auto vulkan = file(render_containerfiles(build_stack(unity("vulkan"))), "containerfiles/Containerfile");
  const auto u = stage(vulkan, "unity-server");
  ASSERT_FALSE(u.empty());
  EXPECT_TRUE(u.starts_with("FROM ${UNITY_BASE_IMAGE} AS unity-server"));
  EXPECT_TRUE(has(vulkan, "ARG UNITY_BASE_IMAGE=docker.io/nvidia/vulkan:"));
  EXPECT_TRUE(has(u, "xvfb"));
  EXPECT_TRUE(has(u, "'Xvfb \"$DISPLAY\""));
  EXPECT_TRUE(has(u, "SPARC_UNITY_PLAYER=\"/opt/sparc-unity/Avatar.x86_64\""));
  EXPECT_TRUE(has(u, "\"-force-vulkan\""));
  EXPECT_TRUE(has(u, "\"-signalingUrl\", \"ws://127.0.0.1:8080\""));
  EXPECT_TRUE(has(u, "\nUSER 10001:10001\n"));
  EXPECT_TRUE(has(u, "\nSTOPSIGNAL SIGTERM\n"));
  EXPECT_FALSE(has(vulkan, "-batchmode"));
  EXPECT_FALSE(has(vulkan, "-nographics"));
  EXPECT_FALSE(has(vulkan, "opengl"));

  const auto gl = file(render_containerfiles(build_stack(unity("glcore"))), "containerfiles/Containerfile");
  EXPECT_TRUE(has(gl, "ARG UNITY_BASE_IMAGE=docker.io/nvidia/opengl:1.2-glvnd-runtime"));
  EXPECT_TRUE(has(stage(gl, "unity-server"), "\"-force-glcore\""));
  EXPECT_FALSE(has(gl, "nvidia/vulkan"));
}

TEST(containerfiles, the_build_script_tags_the_images_the_pod_runs) {
  auto s = unity("vulkan");
  s.mas.image = "registry.example.org/sparc/mas:2";
  s.renderer.image = "registry.example.org/sparc/unity:2";
  const auto st = build_stack(s);
  const auto build = file(render_containerfiles(st), "containerfiles/build.sh");
  const auto up = file(render_pod(st), "pod/gpu-pod.sh");
  EXPECT_TRUE(has(build, "mas) build mas registry.example.org/sparc/mas:2 ;;"));
  EXPECT_TRUE(has(up, "\n  registry.example.org/sparc/mas:2 \\\n"));
  EXPECT_TRUE(has(build, "build unity-server registry.example.org/sparc/unity:2 \"${UNITY_BUILD_DIR:-/opt/player}\""));
  EXPECT_TRUE(has(up, "\n  registry.example.org/sparc/unity:2 \\\n"));
  EXPECT_TRUE(has(build, "signal) build signal localhost/sparc-signal:latest ;;"));
  EXPECT_TRUE(has(up, "\n  localhost/sparc-signal:latest \\\n"));
}

TEST(secrets, no_rendered_container_artifact_holds_a_secret_or_copies_one_into_an_image) {
  const auto st = build_stack(with_turn());
  std::vector<rendered_file> all;
  for (auto f : {render_containerfiles, render_pod, render_kube, render_coturn}) {
    auto files = f(st);
    all.insert(all.end(), files.begin(), files.end());
  }
  for (const auto& f : all) {
    EXPECT_FALSE(std::regex_search(f.content, std::regex("static-auth-secret=[^%<\"]"))) << f.path;
    EXPECT_FALSE(has(f.content, "{secret:")) << f.path;
    if (f.path.starts_with("containerfiles/")) {
      EXPECT_FALSE(has(f.content, "/etc/sparc/")) << f.path;
    }
  }
  const auto kube = file(all, "kube/demo.yaml");
  EXPECT_TRUE(has(kube, "mountPath: \"/run/secrets/turn_secret\", readOnly: true}"));
  EXPECT_TRUE(has(kube, "path: \"/etc/sparc/turn-secret\"\n        type: File"));
}

TEST(coturn, the_config_is_rendered_only_with_turn_and_matches_the_spec) {
  EXPECT_TRUE(render_coturn(build_stack(stack_spec{})).empty());
  auto s = with_turn();
  s.coturn.port = 3479;
  s.coturn.relay_min = 50000;
  s.coturn.relay_max = 50100;
  s.coturn.realm = "training.example.org";
  const auto conf = file(render_coturn(build_stack(s)), "coturn/turnserver.conf");
  for (const auto* line :
       {"listening-port=3479\n", "min-port=50000\n", "max-port=50100\n", "realm=training.example.org\n",
        "fingerprint\n", "use-auth-secret\n", "no-cli\n", "no-tls\n", "no-dtls\n", "log-file=stdout\n"})
    EXPECT_TRUE(has(conf, line)) << line;
  EXPECT_FALSE(has(conf, "\nexternal-ip=")) << "a host name is resolved at start, not written here";
  s.public_host = "203.0.113.7";
  const auto by_address = file(render_coturn(build_stack(s)), "coturn/turnserver.conf");
  EXPECT_TRUE(has(by_address, "\nexternal-ip=203.0.113.7\n"));
  EXPECT_FALSE(has(file(render_pod(build_stack(s)), "pod/demo-pod.sh"), "getent"));
}

TEST(kube, the_pod_yaml_lists_every_published_port_with_exec_probes_and_gpu_limits) {
  auto s = unity("vulkan");
  s.coturn.enabled = true;
  s.coturn.secret_file = "/etc/sparc/turn-secret";
  const auto yaml = file(render_kube(build_stack(s)), "kube/gpu.yaml");
  for (int port = 49152; port <= 49200; ++port)
    EXPECT_EQ(count(yaml, "{containerPort: " + std::to_string(port) + ", hostPort: " + std::to_string(port) +
                              ", hostIP: \"127.0.0.1\", protocol: UDP}"),
              1u)
        << port;
  EXPECT_EQ(count(yaml, "{containerPort: 49201,"), 1u) << "coturn's relay range";
  EXPECT_EQ(count(yaml, "hostPort: 3478"), 2u) << "TURN over UDP and TCP";
  EXPECT_EQ(count(yaml, "nvidia.com/gpu: 1"), 2u);
  EXPECT_FALSE(has(yaml, "httpGet"));
  // podman 4.3 joins an exec probe's words for /bin/sh: each word must stand alone, so the script is a file.
  EXPECT_TRUE(has(yaml,
                  "livenessProbe:\n        exec:\n          command: [\"bash\", \"/opt/sparc-probe/probe\", "
                  "\"3478\"]"));
  EXPECT_TRUE(has(yaml, "kind: ConfigMap\nmetadata:\n  name: gpu-probe\n"));
  EXPECT_TRUE(has(yaml, "{name: probe, mountPath: \"/opt/sparc-probe\", readOnly: true}"));
  EXPECT_TRUE(has(yaml, "kind: ConfigMap"));
  EXPECT_TRUE(has(yaml, "    use-auth-secret\n"));
  EXPECT_TRUE(has(yaml, "restartPolicy: OnFailure"));
  EXPECT_TRUE(has(yaml, "claimName: gpu-mas-data"));
  EXPECT_FALSE(has(yaml, "-batchmode"));
}

TEST(containers, shell_quoting_keeps_every_word_intact) {
  EXPECT_EQ(containers::sh_quote("plain-word_1.2:3/x"), "plain-word_1.2:3/x");
  EXPECT_EQ(containers::sh_quote(""), "''");
  EXPECT_EQ(containers::sh_quote("a b"), "'a b'");
  EXPECT_EQ(containers::sh_quote("it's $HOME"), "'it'\\''s $HOME'");
  EXPECT_EQ(containers::json_quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
  EXPECT_EQ(containers::url_path_for_shell("/he alth\"$x"), "/he%20alth%22%24x");
}

TEST(containers, env_values_with_spaces_and_quotes_survive_the_pod_script) {
  stack_spec s;
  s.mas.env["SPARC_MAS_LOG_LEVEL"] = "it's debug";
  const auto up = file(render_pod(build_stack(s)), "pod/sparc-pod.sh");
  EXPECT_TRUE(has(up, "-e 'SPARC_MAS_LOG_LEVEL=it'\\''s debug'"));
  const auto yaml = file(render_kube(build_stack(s)), "kube/sparc.yaml");
  EXPECT_TRUE(has(yaml, "- name: \"SPARC_MAS_LOG_LEVEL\"\n          value: \"it's debug\""));
}

}  // namespace
}  // namespace deploy
