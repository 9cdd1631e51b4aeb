#!/bin/bash
# Builds the Apptainer images of SPARC stack 'sparc' from its podman images, with no registry
# and no Docker daemon: podman save writes each image as a docker-archive, apptainer build makes the SIF.
# Rendered by `sparc render --target apptainer` from the stack spec; change the spec and render again.
#
#   apptainer/build-sifs.sh   where podman and apptainer are both installed; or in two steps:
#   1. on the podman machine: apptainer/build-sifs.sh   (writes the archives, then says apptainer is missing)
#   2. copy the apptainer/ folder to the cluster and run it there: it builds from the archives.
#   apptainer/build-sifs.sh NAME...   only the images named (see names= below); the default is all.
#
# SPARC_SIF_DIR (default sif) and SPARC_ARCHIVE_DIR (default apptainer/archives) move the
# output; the SIFs must land where slurm/*.sbatch look for them (a relative folder counts from where you
# run this script, as it does from where you run sbatch).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
sif_dir=${SPARC_SIF_DIR:-sif}
archive_dir=${SPARC_ARCHIVE_DIR:-$here/archives}
# Each SIF (and .def) name with the podman image it is made from.
names=(mas signal stream)
images=(
  localhost/sparc-mas:latest
  localhost/sparc-signal:latest
  localhost/sparc-stream:latest
)

fail() { echo "build-sifs: $*" >&2; exit 1; }

# Arguments pick images by name, in the order given.
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
  fail "apptainer not found (install apptainer or load its module); the archives are ready in $archive_dir"
fi
mkdir -p "$sif_dir"
sif_dir=$(cd "$sif_dir" && pwd)
for i in "${!names[@]}"; do
  name=${names[i]} sif="$sif_dir/${names[i]}.sif"
  echo "[$((i + 1))/$count] apptainer build $sif"
  # docker-archive paths in the .def files are relative: build from the archive folder.
  (cd "$archive_dir" && apptainer build --force "$sif.partial" "$here/$name.def")
  mv -f "$sif.partial" "$sif"
done
echo "build-sifs: $count image(s) in $sif_dir"
