// Containerfiles: one multi-stage Containerfile that compiles the sparc binaries once in a builder stage and copies
// each into a slim runtime stage (mas, signal, stream), a Unity player stage for kind = "unity", a variant that copies
// binaries already built on the host (fast image builds for tests), a .containerignore and a build script.
#include "deploy/render.hpp"
#include "deploy/renderers/containers.hpp"

#include <sstream>

namespace deploy {

namespace {

using containers::json_array;
using containers::sh_quote;

/// The build packages of scripts/packages.txt without the test, benchmark and run-time-only ones.
constexpr std::string_view builder_packages =
    "cmake ninja-build g++ pkg-config libboost1.81-dev libssl-dev nlohmann-json3-dev libspdlog-dev libfmt-dev "
    "libcli11-dev libtomlplusplus-dev libgtest-dev libgmock-dev libsqlite3-dev libespeak-ng-dev "
    "libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev libnice-dev "
    "libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc libpocketsphinx-dev libsphinxbase-dev";

/// Each binary's shared libraries (ldd) by Debian 12 package, plus what it loads at run time.
constexpr std::string_view mas_packages =
    "ca-certificates libespeak-ng1 libfmt9 libgrpc++1.51 libgrpc29 libpocketsphinx3 libprotobuf32 libspdlog1.10 "
    "libsphinxbase3 libsqlite3-0 libssl3 libtomlplusplus3";
constexpr std::string_view signal_packages = "ca-certificates libfmt9 libspdlog1.10 libssl3";
/// sparc-stream checks its GStreamer plugins at start-up: webrtcbin (bad), nice, x264 (ugly), vpx (good),
/// openh264 (bad), opus and app (base), pango (x, with a font for the captions).
constexpr std::string_view stream_packages =
    "ca-certificates fonts-dejavu-core gstreamer1.0-nice gstreamer1.0-plugins-bad gstreamer1.0-plugins-base "
    "gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-x libfmt9 libgstreamer-plugins-bad1.0-0 "
    "libgstreamer-plugins-base1.0-0 libgstreamer1.0-0 libnice10 libspdlog1.10 libssl3";
/// The Unity Linux player's X11, audio and graphics-loader libraries, and the virtual display it renders on.
constexpr std::string_view unity_packages =
    "ca-certificates libasound2 libegl1 libgl1 libglu1-mesa libvulkan1 libxcursor1 libxi6 libxinerama1 libxrandr2 "
    "xauth xvfb";

/// Escapes what is special inside a bash double-quoted string.
std::string double_quoted(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '"' || c == '\\' || c == '$' || c == '`') out += '\\';
    out += c;
  }
  return out;
}

std::string port_list(const std::vector<containers::published_port>& ports, std::string_view service) {
  std::string out;
  for (const auto& p : ports) {
    if (p.service != service) continue;
    out += out.empty() ? "" : " ";
    out += std::to_string(p.first);
    if (p.last != p.first) out += "-" + std::to_string(p.last);
    if (p.protocol != "tcp") out += "/" + p.protocol;
  }
  return out;
}

/// The package names, several to a line, continued with backslashes (Containerfile lines join before the shell runs).
std::string package_lines(std::string_view packages, std::string_view indent) {
  std::string out;
  std::size_t line = 0;
  std::size_t start = 0;
  while (start < packages.size()) {
    auto end = packages.find(' ', start);
    if (end == std::string_view::npos) end = packages.size();
    const auto word = packages.substr(start, end - start);
    if (line > 0 && line + 1 + word.size() > 96) {
      out += " \\\n" + std::string(indent);
      line = 0;
    } else if (line > 0) {
      out += ' ';
      ++line;
    }
    out += word;
    line += word.size();
    start = end + 1;
  }
  return out;
}

/// Installs `packages` unless the base image already has them all (a local mmdebstrap base made with --include),
/// so the same file builds online and with --network=none.
std::string install(std::string_view packages) {
  return "RUN set -eu; pkgs=\"" + package_lines(packages, "      ") +
         "\"; \\\n"
         "    if ! dpkg -s $pkgs >/dev/null 2>&1; then \\\n"
         "      apt-get update && apt-get install -y --no-install-recommends $pkgs && rm -rf /var/lib/apt/lists/*; \\\n"
         "    fi\n";
}

std::string add_user() {
  const auto uid = std::to_string(containers::sparc_uid);
  return "RUN groupadd --gid " + uid + " sparc \\\n && useradd --uid " + uid + " --gid sparc --home-dir " +
         std::string(containers::sparc_data_dir) +
         " --no-create-home --shell /usr/sbin/nologin sparc \\\n && install -d -o sparc -g sparc -m 0750 " +
         std::string(containers::sparc_data_dir) + "\n";
}

std::string healthcheck(const service& s) {
  const auto probe = containers::probe_script(s);
  if (probe.empty()) return "HEALTHCHECK NONE\n";
  return "HEALTHCHECK --interval=" + std::to_string(containers::probe_interval_s) +
         "s --timeout=" + std::to_string(containers::probe_timeout_s) +
         "s --start-period=" + std::to_string(containers::start_period_s(s)) +
         "s --retries=" + std::to_string(containers::probe_retries) + " \\\n  CMD " +
         json_array({"bash", "-c", probe}) + "\n";
}

/// What a runtime stage carries besides its binary.
struct stage {
  std::string name;    ///< the --target name
  std::string binary;  ///< sparc-mas, sparc-signal, sparc-stream
  std::string_view packages;
  std::string files;  ///< COPY/ENV lines for data the binary reads
  std::string expose;
  service svc;          ///< health check and CMD come from it
  std::string note;     ///< a comment above the stage
  bool volume = false;  ///< keeps state in the data folder
  /// Slim: a NAME-rootfs stage installs the packages and collects only what the binary loads (its ldd closure) into
  /// /rootfs; the image itself starts FROM scratch with that tree. sparc-stream stays on the full base: GStreamer
  /// loads its plugins with dlopen, which ldd cannot see.
  bool slim = false;
  std::string_view rootfs_extra;  ///< shell lines adding run-time data files to $r (the rootfs) in the slim stage
};

/// Files libespeak-ng reads at run time: its data folder with the English dictionary only (the personas speak
/// en-us variants; the other 100 or so dictionaries are 11 of its 13 MB).
constexpr std::string_view espeak_data =
    "for d in /usr/lib/*/espeak-ng-data; do \\\n"
    "      [ -d \"$d\" ] || continue; mkdir -p \"$r$d\"; \\\n"
    "      for e in \"$d\"/*; do case $e in *_dict) [ \"$e\" = \"$d/en_dict\" ] || continue ;; esac; "
    "cp -a \"$e\" \"$r$d/\"; done; \\\n"
    "    done; \\\n";

/// The collecting RUN of a slim stage: the binary, bash (the health check's /dev/tcp probe; /bin/sh for Apptainer)
/// with the shared libraries both load, CA certificates, the user entries, /tmp and the data folder. The tree is
/// merged-/usr like Debian 12, so the paths ldd prints resolve unchanged.
std::string collect_rootfs(const stage& g) {
  const auto uid = std::to_string(containers::sparc_uid);
  const std::string data(containers::sparc_data_dir);
  std::ostringstream o;
  o << "RUN set -eu; r=/rootfs; b=/usr/local/bin/" << g.binary << "; \\\n"
    << "    mkdir -p $r/usr/bin $r/usr/lib $r/usr/lib64 $r/usr/local/bin $r/etc $r/tmp $r" << data << "; \\\n"
    << "    ln -s usr/bin $r/bin; ln -s usr/lib $r/lib; ln -s usr/lib64 $r/lib64; ln -s bash $r/usr/bin/sh; \\\n"
    << "    if ldd $b | grep -q 'not found'; then ldd $b | grep 'not found' >&2; exit 1; fi; \\\n"
    << "    for f in $b /usr/bin/bash $({ ldd $b; ldd /usr/bin/bash; } | \\\n"
    << "        awk '$2 == \"=>\" && $3 ~ /^\\// {print $3} $1 ~ /^\\// {print $1}' | sort -u); do \\\n"
    << "      cp -L --parents \"$f\" $r; \\\n"
    << "    done; \\\n"
    << "    cp -L --parents /etc/ssl/certs/ca-certificates.crt $r; \\\n"
    << "    " << g.rootfs_extra
    << "    printf 'root:x:0:0:root:/root:/usr/sbin/nologin\\nsparc:x:" << uid << ":" << uid << "::" << data
    << ":/usr/sbin/nologin\\n' > $r/etc/passwd; \\\n"
    << "    printf 'root:x:0:\\nsparc:x:" << uid << ":\\n' > $r/etc/group; \\\n"
    << "    printf 'passwd: files\\ngroup: files\\nhosts: files dns\\n' > $r/etc/nsswitch.conf; \\\n"
    << "    chmod 1777 $r/tmp; chown " << uid << ":" << uid << " $r" << data << "; chmod 0750 $r" << data << "\n";
  return o.str();
}

std::string runtime_stage(const stage& g, std::string_view binary_from, bool prebuilt) {
  std::ostringstream o;
  o << "\n" << g.note;
  if (g.slim) {
    o << "FROM ${RUNTIME_IMAGE} AS " << g.name << "-rootfs\n"
      << "ARG DEBIAN_FRONTEND=noninteractive\n";
    if (prebuilt) o << "ARG BIN_DIR\n";  // a global ARG reaches FROM lines only
    o << install(g.packages) << "COPY " << binary_from << " /usr/local/bin/" << g.binary << "\n"
      << collect_rootfs(g) << "\nFROM scratch AS " << g.name << "\n"
      << "COPY --from=" << g.name << "-rootfs /rootfs/ /\n"
      << "ENV PATH=/usr/local/bin:/usr/bin\n"
      << g.files << "WORKDIR " << containers::sparc_data_dir << "\n";
  } else {
    o << "FROM ${RUNTIME_IMAGE} AS " << g.name << "\n"
      << "ARG DEBIAN_FRONTEND=noninteractive\n";
    if (prebuilt) o << "ARG BIN_DIR\n";
    o << install(g.packages) << add_user() << "COPY " << binary_from << " /usr/local/bin/" << g.binary << "\n"
      << g.files << "WORKDIR " << containers::sparc_data_dir << "\n";
  }
  if (g.volume) o << "VOLUME [\"" << containers::sparc_data_dir << "\"]\n";
  o << "USER " << containers::sparc_uid << ":" << containers::sparc_uid << "\n";
  if (!g.expose.empty()) o << "EXPOSE " << g.expose << "\n";
  o << "STOPSIGNAL SIGTERM\n"
    << healthcheck(g.svc) << "ENTRYPOINT " << json_array({"/usr/local/bin/" + g.binary}) << "\n"
    << "CMD " << json_array(containers::args_in_pod(g.svc)) << "\n";
  return o.str();
}

std::vector<stage> stages(const stack& st) {
  const auto ports = containers::published_ports(st);
  std::vector<stage> out;
  if (const auto* m = st.find("mas")) {
    out.push_back(
        {"mas", "sparc-mas", mas_packages,
         "COPY data/ /usr/share/sparc/data/\nENV SPARC_MAS_DATA_DIR=/usr/share/sparc/data\n", port_list(ports, "mas"),
         *m,
         std::string("# sparc-mas: the backend; personas and the OpenAPI document come along.\n") +
             (containers::loopback_only(*m) ? "# Without API keys it listens on loopback only: inside its pod.\n" : ""),
         true, true, espeak_data});
  }
  if (const auto* s = st.find("signal")) {
    out.push_back({"signal", "sparc-signal", signal_packages,
                   "COPY web/ /usr/share/sparc/web/\nENV SPARC_SIGNAL_WEB_ROOT=/usr/share/sparc/web\n",
                   port_list(ports, "signal"), *s,
                   "# sparc-signal: signaling, ICE servers with TURN credentials, the web client.\n", false, true, {}});
  }
  if (const auto* r = st.find("renderer-1")) {
    service svc = *r;
    std::string note =
        "# sparc-stream: the reference renderer, a drop-in for the Unity player (it takes the player's flags).\n";
    if (containers::is_unity(st)) {
      // The stand-in takes the player's flags as they are, plus its own /health listener.
      note += "# This stack renders with the Unity player (unity-server below); this image can stand in for it.\n";
      svc.health_port = st.spec.renderer.health_port;
      svc.health_path = "/health";
      svc.args.insert(svc.args.end(), {"--bind", st.spec.bind, "--port", std::to_string(svc.health_port)});
    }
    std::string expose = std::to_string(svc.health_port);
    const auto media = port_list(ports, "renderer-1");
    if (!media.empty()) expose += " " + media;
    out.push_back({"stream", "sparc-stream", stream_packages, "", expose, svc, note, false, false, {}});
  }
  return out;
}

/// The Unity player stage: a GPU base image matching graphics_api, a virtual X display, the player's flags.
std::string unity_stage(const stack& st) {
  const auto* r = st.find("renderer-1");
  if (!containers::is_unity(st) || !r) return "";
  const auto& spec = st.spec.renderer;
  const std::string player = std::string(containers::unity_dir) + "/" + spec.unity_executable;
  // The entry point keeps Xvfb beside the player and passes SIGTERM on; written with printf (one quoted word per
  // line) because podman 4.3's buildah has no heredocs.
  const std::vector<std::string> script{
      "#!/bin/bash",
      "# Runs the Unity player on a virtual X display: Render Streaming renders frames, so no batch mode.",
      "set -euo pipefail",
      "Xvfb \"$DISPLAY\" -screen 0 \"$SPARC_SCREEN\" -nolisten tcp -noreset &",
      "xvfb=$!",
      "socket=/tmp/.X11-unix/X${DISPLAY#:}",
      "for _ in $(seq 100); do [ -S \"$socket\" ] && break; sleep 0.1; done",
      "[ -S \"$socket\" ] || { echo \"sparc-unity: Xvfb did not start on $DISPLAY\" >&2; exit 1; }",
      "\"$SPARC_UNITY_PLAYER\" \"$@\" &",
      "player=$!",
      "stop() { kill -TERM \"$player\" 2>/dev/null || true; }",
      "trap stop TERM INT",
      "status=0",
      "wait \"$player\" || status=$?",
      "if kill -0 \"$player\" 2>/dev/null; then status=0; wait \"$player\" || status=$?; fi",
      "kill -TERM \"$xvfb\" 2>/dev/null || true",
      "exit \"$status\""};
  std::ostringstream o;
  o << "\n# The Unity Linux player (a normal player build, not a \"server\" build: that one renders nothing).\n"
    << "# Build it with the player build folder as the context (build.sh does), e.g.\n"
    << "#   podman build --format docker -f Containerfile --target unity-server "
    << (spec.unity_build.empty() ? std::string("PLAYER_BUILD_DIR") : sh_quote(spec.unity_build)) << "\n";
  if (spec.graphics_api == "glcore")
    o << "# OpenGL core: GLX on the virtual display renders through Mesa unless the host runs an NVIDIA X server;\n"
      << "# graphics_api = \"vulkan\" renders on the GPU.\n";
  o << "FROM ${UNITY_BASE_IMAGE} AS unity-server\n"
    << "ARG DEBIAN_FRONTEND=noninteractive\n"
    << "ARG UNITY_BUILD=.\n"
    << "RUN apt-get update \\\n"
    << " && apt-get install -y --no-install-recommends \\\n"
    << "      " << package_lines(unity_packages, "      ") << " \\\n"
    << " && rm -rf /var/lib/apt/lists/* \\\n"
    << " && groupadd --gid " << containers::sparc_uid << " sparc \\\n"
    << " && useradd --uid " << containers::sparc_uid << " --gid sparc --home-dir /home/sparc --create-home "
    << "--shell /usr/sbin/nologin sparc \\\n"
    << " && install -d -m 1777 /tmp/.X11-unix \\\n"
    << " && printf '%s\\n'";
  for (const auto& line : script) o << " \\\n    " << sh_quote(line);
  o << " \\\n    > /usr/local/bin/sparc-unity && chmod 0755 /usr/local/bin/sparc-unity\n"
    << "COPY ${UNITY_BUILD}/ " << containers::unity_dir << "/\n"
    << "RUN chmod 0755 " << sh_quote(player) << "\n"
    << "ENV DISPLAY=:99 SPARC_SCREEN=" << spec.width << "x" << spec.height << "x24 \\\n"
    << "    SPARC_UNITY_PLAYER=" << containers::json_quote(player) << " NVIDIA_DRIVER_CAPABILITIES=all\n"
    << "WORKDIR /home/sparc\n"
    << "USER " << containers::sparc_uid << ":" << containers::sparc_uid << "\n";
  const auto media = port_list(containers::published_ports(st), "renderer-1");
  if (!media.empty()) o << "EXPOSE " << media << "\n";
  o << "STOPSIGNAL SIGTERM\n"
    << "# The player has no health endpoint: `sparc check` proves it by its answer over signaling.\n"
    << "HEALTHCHECK NONE\n"
    << "ENTRYPOINT [\"/usr/local/bin/sparc-unity\"]\n"
    << "CMD " << json_array(containers::args_in_pod(*r)) << "\n";
  return o.str();
}

std::string header(const stack& st, bool prebuilt) {
  std::ostringstream o;
  o << "# SPARC images for stack '" << st.spec.name << "'.\n"
    << containers::rendered_from(st)
    << "# Build with build.sh beside this file, from the repository root (the build context). --format docker keeps\n"
    << "# HEALTHCHECK (the OCI format has none); --target picks the image: mas, signal, stream"
    << (containers::is_unity(st) && !prebuilt ? ", unity-server" : "") << ".\n";
  if (prebuilt)
    o << "# This variant copies the binaries already built on the host (cmake --preset release, Debian 12) instead of\n"
      << "# compiling them: BIN_DIR is that build folder, relative to the context.\n";
  else
    o << "# The builder stage compiles every binary once with the release preset; runtime stages copy one each.\n";
  o << "# Base images are build arguments. A base that already holds a stage's packages (e.g. made with\n"
    << "# mmdebstrap --include=...) skips apt, so the build also runs with --pull=never --network=none.\n"
    << "# Secrets are never part of an image: they are mounted under /run/secrets when a container starts.\n"
    << "# Each image runs as the unprivileged user sparc (uid " << containers::sparc_uid
    << ") and stops on SIGTERM within a second.\n\n";
  if (!prebuilt) o << "ARG BUILDER_IMAGE=docker.io/library/debian:bookworm\n";
  o << "ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim\n";
  if (!prebuilt && containers::is_unity(st)) {
    // validate's graphics-api-mismatch check relies on these names: the Vulkan image has the loader and ICD setup,
    // the glvnd image the GL dispatch libraries.
    o << "ARG UNITY_BASE_IMAGE="
      << (st.spec.renderer.graphics_api == "vulkan" ? "docker.io/nvidia/vulkan:1.3-470"
                                                    : "docker.io/nvidia/opengl:1.2-glvnd-runtime-ubuntu22.04")
      << "\n";
  }
  if (prebuilt) o << "ARG BIN_DIR=build/release\n";
  return o.str();
}

std::string containerfile(const stack& st) {
  std::ostringstream o;
  o << header(st, false) << "\nFROM ${BUILDER_IMAGE} AS builder\n"
    << "ARG DEBIAN_FRONTEND=noninteractive\n"
    << install(builder_packages) << "WORKDIR /src\n"
    << "COPY . .\n"
    << "# Configuration looks for node (the black-box suites) and the benchmark tools; neither is built here.\n"
    << "RUN cmake --preset release -B /build -DSPARC_BENCH=OFF -DNODE=/bin/true \\\n"
    << " && cmake --build /build --target sparc-mas sparc-signal sparc-stream \\\n"
    << " && install -D -s -m 0755 -t /out /build/apps/sparc-mas/sparc-mas /build/apps/sparc-signal/sparc-signal \\\n"
    << "      /build/apps/sparc-stream/sparc-stream\n";
  for (const auto& g : stages(st)) o << runtime_stage(g, "--from=builder /out/" + g.binary, false);
  o << unity_stage(st);
  return o.str();
}

std::string containerfile_prebuilt(const stack& st) {
  std::ostringstream o;
  o << header(st, true);
  for (const auto& g : stages(st)) o << runtime_stage(g, "${BIN_DIR}/apps/" + g.binary + "/" + g.binary, true);
  return o.str();
}

std::string containerignore(const stack& st) {
  std::ostringstream o;
  o << "# The build context filter for the Containerfiles of stack '" << st.spec.name
    << "' (build.sh passes it with --ignorefile).\n"
    << "# Only sources, data/ and web/ go in; build trees do not, except the binaries Containerfile.prebuilt copies.\n"
    << ".git\n"
    << "**/node_modules\n"
    << "build/\n"
    << "!build/*/apps/sparc-mas/sparc-mas\n"
    << "!build/*/apps/sparc-signal/sparc-signal\n"
    << "!build/*/apps/sparc-stream/sparc-stream\n"
    << ".sparc/\n"
    << "**/*.log\n"
    << "**/*.db\n"
    << "# Secrets never enter an image, not even an intermediate one.\n"
    << "**/*.pem\n"
    << "**/*.key\n"
    << "**/*.crt\n"
    << "**/*secret*\n"
    << "**/api-keys*\n"
    << "**/.env\n";
  return o.str();
}

std::string build_script(const stack& st) {
  struct image {
    std::string target;
    std::string tag;
  };
  std::vector<image> images;
  const service* renderer = st.find("renderer-1");
  if (const auto* m = st.find("mas")) images.push_back({"mas", containers::image_of(st, *m)});
  if (const auto* s = st.find("signal")) images.push_back({"signal", containers::image_of(st, *s)});
  if (renderer)
    images.push_back(
        {"stream", containers::is_unity(st) ? "localhost/sparc-stream:latest" : containers::image_of(st, *renderer)});
  std::ostringstream o;
  o << "#!/usr/bin/env bash\n"
    << "# Builds the images of stack '" << st.spec.name << "' with podman.\n"
    << containers::rendered_from(st) << "# Run it from the repository root, the build context:\n"
    << "#   DIR/containerfiles/build.sh                  compile in the builder stage\n"
    << "#   DIR/containerfiles/build.sh --prebuilt       copy build/release binaries (cmake --preset release first)\n"
    << "#   DIR/containerfiles/build.sh mas signal       only these targets\n"
    << "# BUILDER_IMAGE, RUNTIME_IMAGE, BIN_DIR";
  if (containers::is_unity(st)) o << ", UNITY_BASE_IMAGE";
  o << " in the environment become build arguments; PODMAN_BUILD_OPTS adds\n"
    << "# options, e.g. \"--pull=never --network=none\" with local base images.\n";
  if (containers::is_unity(st))
    o << "# unity-server is built from the player build folder (UNITY_BUILD_DIR, default the spec's unity_build).\n";
  o << "set -euo pipefail\n\n"
    << "here=$(cd \"$(dirname \"${BASH_SOURCE[0]}\")\" && pwd)\n"
    << "file=$here/Containerfile\n"
    << "if [[ ${1:-} == --prebuilt ]]; then\n"
    << "  file=$here/Containerfile.prebuilt\n"
    << "  shift\n"
    << "fi\n"
    << "opts=(--format docker -f \"$file\" --ignorefile \"$here/.containerignore\")\n"
    << "for arg in BUILDER_IMAGE RUNTIME_IMAGE BIN_DIR" << (containers::is_unity(st) ? " UNITY_BASE_IMAGE" : "")
    << "; do\n"
    << "  if [[ -n ${!arg:-} ]]; then opts+=(--build-arg \"$arg=${!arg}\"); fi\n"
    << "done\n"
    << "read -r -a extra <<<\"${PODMAN_BUILD_OPTS:-}\"\n\n"
    << "build() {  # TARGET TAG [CONTEXT]\n"
    << "  echo \"sparc: building $2 (--target $1)\"\n"
    << "  podman build \"${opts[@]}\" \"${extra[@]}\" --target \"$1\" -t \"$2\" \"${3:-.}\"\n"
    << "}\n\n"
    << "targets=(\"$@\")\n"
    << "if ((${#targets[@]} == 0)); then targets=(";
  for (std::size_t i = 0; i < images.size(); ++i) o << (i ? " " : "") << images[i].target;
  if (containers::is_unity(st)) o << " unity-server";
  o << "); fi\n"
    << "for target in \"${targets[@]}\"; do\n"
    << "  case $target in\n";
  for (const auto& i : images) o << "    " << i.target << ") build " << i.target << " " << sh_quote(i.tag) << " ;;\n";
  if (containers::is_unity(st) && renderer) {
    o << "    unity-server)\n"
      << "      if [[ $file == *.prebuilt ]]; then echo \"sparc: unity-server is in Containerfile only\" >&2; exit 2; "
         "fi\n"
      << "      build unity-server " << sh_quote(containers::image_of(st, *renderer)) << " \"${UNITY_BUILD_DIR:-"
      << double_quoted(st.spec.renderer.unity_build.empty() ? std::string(".") : st.spec.renderer.unity_build)
      << "}\" ;;\n";
  }
  o << "    *) echo \"sparc: unknown target $target\" >&2; exit 2 ;;\n"
    << "  esac\n"
    << "done\n";
  return o.str();
}

}  // namespace

std::vector<rendered_file> render_containerfiles(const stack& st) {
  return {{"containerfiles/Containerfile", containerfile(st)},
          {"containerfiles/Containerfile.prebuilt", containerfile_prebuilt(st)},
          {"containerfiles/.containerignore", containerignore(st)},
          {"containerfiles/build.sh", build_script(st), true}};
}

}  // namespace deploy
