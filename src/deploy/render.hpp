#pragma once
// Artifact renderers: each target is a pure function of the stack model (no I/O, no clock, no environment), so
// golden tests pin their output byte for byte (tests/golden/) and two renders of one spec never differ.

#include "deploy/model.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace deploy {

struct rendered_file {
  std::string path;     ///< relative to the output folder, '/'-separated (e.g. "quadlet/sparc.pod")
  std::string content;
  bool executable = false;  ///< scripts get mode 0755
};

/// The targets `sparc render --target` accepts, in the order `all` renders them.
const std::vector<std::string>& render_targets();

/// Renders one target (or "all"); an unknown target renders nothing (the CLI checks the name first).
std::vector<rendered_file> render(const stack& st, std::string_view target);

// One function per target, each in src/deploy/renderers/<target>.cpp.
std::vector<rendered_file> render_containerfiles(const stack& st);  ///< Containerfile (+ .containerignore)
std::vector<rendered_file> render_pod(const stack& st);             ///< pod/sparc-pod.sh (podman pod create/run)
std::vector<rendered_file> render_kube(const stack& st);            ///< kube/sparc.yaml (podman kube play)
std::vector<rendered_file> render_quadlet(const stack& st);         ///< quadlet/{rootful,rootless}/*.pod|.container
std::vector<rendered_file> render_apptainer(const stack& st);       ///< apptainer/*.def (from podman save archives)
std::vector<rendered_file> render_slurm(const stack& st);           ///< slurm/backend.sbatch, slurm/render.sbatch
std::vector<rendered_file> render_coturn(const stack& st);          ///< coturn/turnserver.conf

}  // namespace deploy
