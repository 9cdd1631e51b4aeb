#include "deploy/render.hpp"

namespace deploy {

const std::vector<std::string>& render_targets() {
  static const std::vector<std::string> targets{"containerfiles", "pod", "kube", "quadlet", "apptainer", "slurm", "coturn"};
  return targets;
}

std::vector<rendered_file> render(const stack& st, std::string_view target) {
  using fn = std::vector<rendered_file> (*)(const stack&);
  static const std::vector<std::pair<std::string_view, fn>> table{
      {"containerfiles", render_containerfiles}, {"pod", render_pod},   {"kube", render_kube},
      {"quadlet", render_quadlet},               {"apptainer", render_apptainer}, {"slurm", render_slurm},
      {"coturn", render_coturn}};
  std::vector<rendered_file> out;
  for (const auto& [name, f] : table) {
    if (target != "all" && target != name) continue;
    auto files = f(st);
    out.insert(out.end(), std::make_move_iterator(files.begin()), std::make_move_iterator(files.end()));
  }
  return out;
}

}  // namespace deploy
