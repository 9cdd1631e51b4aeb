// Apptainer definition files, one per image the HPC jobs run, bootstrapped from `podman save` archives: clusters
// have Apptainer but neither a registry route nor a Docker daemon, so docker-daemon:// cannot work there.
#include "deploy/render.hpp"
#include "deploy/renderers/containers.hpp"

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace deploy {
namespace {

struct sif_image {
  std::string name;  ///< mas, signal, stream, unity-server, coturn, riva, llm: the .def, .tar and .sif stem
  const service* svc = nullptr;
};

/// One image per role; every renderer instance runs the same one.
std::vector<sif_image> sif_images(const stack& st) {
  std::vector<sif_image> out;
  std::set<std::string> seen;
  for (const auto& s : st.services) {
    if (s.external) continue;
    std::string name = s.role;
    if (s.role == "renderer") name = st.spec.renderer.kind == "unity" ? "unity-server" : "stream";
    if (seen.insert(name).second) out.push_back({std::move(name), &s});
  }
  return out;
}

/// A word for sh: bare when it has nothing special, else single-quoted.
std::string single_quoted(std::string_view text) {
  const bool plain = !text.empty() && text.find_first_not_of(
                                          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "0123456789@%+=:,./_-") == std::string_view::npos;
  if (plain) return std::string(text);
  std::string out = "'";
  for (char c : text) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

/// The program the image runs: the model's, except where the image wraps or renames it. The unity-server image
/// (containerfiles/) starts the player on a virtual display through sparc-unity.
std::string image_program(const stack& st, const service& s) {
  if (s.role == "renderer" && containers::is_unity(st)) return "sparc-unity";
  return s.program;
}

/// Our binaries answer --help without touching the network or a GPU; for the others, that the program is there.
std::string test_command(const std::string& program) {
  if (program == "sparc-mas" || program == "sparc-signal" || program == "sparc-stream")
    return program + " --help >/dev/null";
  return "command -v " + single_quoted(program) + " >/dev/null";
}

std::string def_file(const stack& st, const sif_image& img) {
  const auto& s = *img.svc;
  const auto& sif_dir = st.spec.hpc.sif_dir;
  const auto image = containers::image_of(st, s);
  const auto program = image_program(st, s);
  std::string out = "# " + img.name + ".def: " + program + " of SPARC stack '" + st.spec.name +
                    "' as an Apptainer image,\n# from the podman image " + image + ".\n";
  out += "# Rendered by `sparc render --target apptainer` from the stack spec; change the spec and render again.\n";
  out += "# The image travels as a docker-archive (no registry, no Docker daemon). In the folder holding " + img.name +
         ".tar:\n";
  out += "#   podman save --format docker-archive -o " + img.name + ".tar " + image + "\n";
  out += "#   apptainer build " + sif_dir + "/" + img.name + ".sif /path/to/apptainer/" + img.name + ".def\n";
  out += "# apptainer/build-sifs.sh does both for every image of the stack.\n";
  if (s.gpus > 0)
    out += "# GPU service: run it with --nv (slurm/*.sbatch do) so the host's NVIDIA driver is bound in.\n";
  out += "Bootstrap: docker-archive\nFrom: " + img.name + ".tar\n";

  out += "\n%labels\n";
  out += "    org.sparc.stack " + st.spec.name + "\n";
  out += "    org.sparc.service " + img.name + "\n";
  out += "    org.sparc.program " + program + "\n";
  out += "    org.sparc.source-image " + image + "\n";
  out += std::string("    org.sparc.gpu ") + (s.gpus > 0 ? "true" : "false") + "\n";

  out += "\n%environment\n    # The image's own ENV comes with the archive";
  if (s.env.empty()) {
    out += "; the stack spec adds nothing.\n";
  } else {
    out += "; the stack spec adds:\n";
    for (const auto& [key, value] : s.env) out += "    export " + key + "=" + single_quoted(value) + "\n";
  }

  const auto exec_line = "    exec " + single_quoted(program) + " \"$@\"\n";
  out += "\n%runscript\n" + exec_line;
  out += "\n%startscript\n    # apptainer instance start " + img.name +
         ".sif NAME ARGS...: the same process as a named "
         "instance.\n" +
         exec_line;
  out += "\n%test\n    " + test_command(program) + "\n";
  out += "\n%help\n    " + program + " of SPARC stack " + st.spec.name + "; the arguments go to it:\n";
  out += "    apptainer run " + std::string(s.gpus > 0 ? "--nv " : "") + img.name +
         ".sif ARGS...   (slurm/*.sbatch show the full commands)\n";
  return out;
}

std::string build_script(const stack& st, const std::vector<sif_image>& images) {
  const auto& hpc = st.spec.hpc;
  std::string load_hint = "install apptainer or load its module";
  if (!hpc.modules.empty()) {
    load_hint = "on the cluster: module load";
    for (const auto& m : hpc.modules) load_hint += " " + m;
  }
  std::string out = "#!/bin/bash\n";
  out +=
      "# Builds the Apptainer images of SPARC stack '" + st.spec.name + "' from its podman images, with no registry\n";
  out += "# and no Docker daemon: podman save writes each image as a docker-archive, apptainer build makes the SIF.\n";
  out += "# Rendered by `sparc render --target apptainer` from the stack spec; change the spec and render again.\n#\n";
  out += "#   apptainer/build-sifs.sh   where podman and apptainer are both installed; or in two steps:\n";
  out +=
      "#   1. on the podman machine: apptainer/build-sifs.sh   (writes the archives, then says apptainer is missing)\n";
  out += "#   2. copy the apptainer/ folder to the cluster and run it there: it builds from the archives.\n";
  out += "#   apptainer/build-sifs.sh NAME...   only the images named (see names= below); the default is all.\n#\n";
  out += "# SPARC_SIF_DIR (default " + hpc.sif_dir + ") and SPARC_ARCHIVE_DIR (default apptainer/archives) move the\n";
  out += "# output; the SIFs must land where slurm/*.sbatch look for them (a relative folder counts from where you\n";
  out += "# run this script, as it does from where you run sbatch).\n";
  out += "set -euo pipefail\n\n";
  out += "here=$(cd \"$(dirname \"${BASH_SOURCE[0]}\")\" && pwd)\n";
  out += "sif_dir=${SPARC_SIF_DIR:-" + single_quoted(hpc.sif_dir) + "}\n";
  out += "archive_dir=${SPARC_ARCHIVE_DIR:-$here/archives}\n";
  out += "# Each SIF (and .def) name with the podman image it is made from.\nnames=(";
  for (std::size_t i = 0; i < images.size(); ++i) out += (i ? " " : "") + images[i].name;
  out += ")\nimages=(\n";
  for (const auto& img : images) out += "  " + single_quoted(containers::image_of(st, *img.svc)) + "\n";
  out += ")\n\n";
  out += "fail() { echo \"build-sifs: $*\" >&2; exit 1; }\n\n";
  out += R"sh(# Arguments pick images by name, in the order given.
if (($# > 0)); then
  picked_names=() picked_images=()
  for want in "$@"; do
    found=false
    for i in "${!names[@]}"; do
      if [[ ${names[i]} == "$want" ]]; then
        picked_names+=("$want") picked_images+=("${images[i]}") found=true
      fi
    done
    $found || { echo "build-sifs: unknown image '$want' (one of: ${names[*]})" >&2; exit 2; }
  done
  names=("${picked_names[@]}") images=("${picked_images[@]}")
fi

count=${#names[@]}
mkdir -p "$archive_dir"
have_podman=false
if command -v podman >/dev/null 2>&1; then have_podman=true; fi
for i in "${!names[@]}"; do
  name=${names[i]} image=${images[i]} tar="$archive_dir/${names[i]}.tar"
  if $have_podman && podman image exists "$image"; then
    echo "[$((i + 1))/$count] podman save --format docker-archive -o $tar $image"
    podman save --format docker-archive -o "$tar.partial" "$image"
    mv -f "$tar.partial" "$tar"
  elif [[ -f $tar ]]; then
    echo "[$((i + 1))/$count] $name: using $tar (podman or the image is not here)"
  else
    fail "no image $image here and no $tar: build it with podman (see containerfiles/) or copy the archive"
  fi
done

if ! command -v apptainer >/dev/null 2>&1; then
)sh";
  out += "  fail \"apptainer not found (" + load_hint + "); the archives are ready in $archive_dir\"\nfi\n";
  out += R"sh(mkdir -p "$sif_dir"
sif_dir=$(cd "$sif_dir" && pwd)
for i in "${!names[@]}"; do
  name=${names[i]} sif="$sif_dir/${names[i]}.sif"
  echo "[$((i + 1))/$count] apptainer build $sif"
  # docker-archive paths in the .def files are relative: build from the archive folder.
  (cd "$archive_dir" && apptainer build --force "$sif.partial" "$here/$name.def")
  mv -f "$sif.partial" "$sif"
done
echo "build-sifs: $count image(s) in $sif_dir"
)sh";
  return out;
}

}  // namespace

std::vector<rendered_file> render_apptainer(const stack& st) {
  const auto images = sif_images(st);
  std::vector<rendered_file> out;
  out.reserve(images.size() + 1);
  for (const auto& img : images) out.push_back({"apptainer/" + img.name + ".def", def_file(st, img)});
  out.push_back({"apptainer/build-sifs.sh", build_script(st, images), true});
  return out;
}

}  // namespace deploy
